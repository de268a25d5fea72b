"""Console exports (CSV and JSON), streamed: rows are read in chunks and written as they come,
so a large export never holds the whole query in memory.

Decisions:
- CSV cells that a spreadsheet would read as a formula (=, +, -, @, tab, CR first) get a leading
  apostrophe: SET contents, reasons and names come from transmitters, and opening an export must
  not run their text (OWASP "CSV injection"). JSON is data, not a sheet: values stay as they are.
- JSON is one array (what Okta's System Log API answers, so a script that reads the API reads the
  export), written one record a line, so line tools can still split it.
- An export holds at most MAX_ROWS rows, newest first like the page (the limit is sent as
  `X-Export-Row-Limit`); narrow the filters or the time range to get older rows.
"""

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.utils.cache import add_never_cache_headers

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 2000
MAX_ROWS = 1_000_000
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


@dataclass(frozen=True)
class Columns:
    """An export's column names and the values of one row under them; `record` gives the row's
    JSON object when it is richer than the columns (the System Log's Okta LogEvent)."""

    names: list[str]
    values: Callable[[Any], list[Any]]
    record: Callable[[Any], dict[str, Any]] | None = None

    def as_record(self, row: Any) -> dict[str, Any]:
        if self.record is not None:
            return self.record(row)
        return dict(zip(self.names, self.values(row), strict=True))


class _Line:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def cell(value: Any) -> str:
    """A value as CSV text: times in ISO 8601, JSON for lists and objects, formulas defused."""
    if value is None:
        text = ""
    elif isinstance(value, dict | list):
        text = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    elif hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _rows(queryset: QuerySet[Any]) -> Iterator[Any]:
    return queryset[:MAX_ROWS].iterator(chunk_size=CHUNK)


def csv_lines(columns: Columns, queryset: QuerySet[Any]) -> Iterator[str]:
    """The header line, then one CSV line per row."""
    writer = csv.writer(_Line())
    yield writer.writerow(columns.names)
    for row in _rows(queryset):
        yield writer.writerow([cell(value) for value in columns.values(row)])


def json_lines(columns: Columns, queryset: QuerySet[Any]) -> Iterator[str]:
    """A JSON array, one record a line."""
    yield "["
    separator = "\n"
    for row in _rows(queryset):
        yield separator + json.dumps(columns.as_record(row), cls=DjangoJSONEncoder)
        separator = ",\n"
    yield "\n]\n"


def export_response(
    *, fmt: str, filename: str, columns: Columns, queryset: QuerySet[Any]
) -> StreamingHttpResponse:
    """`queryset` as a streamed download named `filename`.`fmt` (csv or json; 404 otherwise)."""
    if fmt not in FORMATS:
        raise Http404("Exports are CSV or JSON.")
    lines: Iterable[str] = (csv_lines if fmt == "csv" else json_lines)(columns, queryset)
    response = StreamingHttpResponse(lines, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["X-Export-Row-Limit"] = str(MAX_ROWS)
    # Exports hold what only admins may read: no shared or browser cache keeps a copy.
    add_never_cache_headers(response)
    return response


def export_refused(form: forms.Form) -> HttpResponseBadRequest:
    """A 400 naming each filter of an export that is not valid, and why."""
    problems = (
        f"{form[name].label if name in form.fields else 'Query'}: {' '.join(map(str, errors))}"
        for name, errors in form.errors.items()
    )
    return HttpResponseBadRequest("; ".join(problems), content_type="text/plain; charset=utf-8")
