"""The entity risk report's lists as CSV rows, for streaming (one query, rows as they come).

Cells that a spreadsheet would read as a formula (=, +, -, @ first) get a leading apostrophe:
reasons and names come from transmitters, and a CSV export must not run their text (OWASP
"CSV injection").
"""

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db.models import QuerySet

from risk.models import DetectionKind, Entity, RiskChange
from risk.selectors import stream_names

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 1000


class _Line:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _entity(entity: Entity) -> list[Any]:
    return [entity.pk, entity.label, entity.get_kind_display()]


def _actions(change: RiskChange) -> str:
    return "; ".join(
        f"{a.get_kind_display()} at {a.target_name}: {a.get_status_display()}"
        for a in change.actions.all()
    )


def _source(names: dict[str, str], ref: str) -> str:
    return names.get(ref) or ref or "Admin"


COLUMNS: dict[str, tuple[list[str], Callable[[Any, dict[str, str]], list[Any]]]] = {
    "detections": (
        ["time", "entity_id", "entity", "entity_kind", "detection", "source", "level", "effect",
         "detection_state", "event_type", "reasons", "event_time", "set_jti"],
        lambda s, names: [
            s.created_at, *_entity(s.entity), DetectionKind(s.kind).label,
            _source(names, s.source_ref), s.level, s.get_effect_display(),
            s.detection.get_state_display() if s.detection else "", s.event_type, s.reasons,
            s.observed_at, s.security_event.jti if s.security_event else "",
        ],
    ),
    "entities": (
        ["entity_id", "entity", "entity_kind", "risk", "reason", "source", "risk_changed"],
        lambda e, names: [
            *_entity(e), e.risk_level, e.risk_reason, _source(names, e.risk_stream_ref),
            e.risk_updated_at,
        ],
    ),
    "rules": (
        ["time", "entity_id", "entity", "entity_kind", "previous_level", "level", "rule",
         "actions", "cause", "source"],
        lambda c, names: [
            c.created_at, *_entity(c.entity), c.previous_level, c.level, c.rule_name,
            _actions(c), c.get_cause_display(), _source(names, c.stream_ref),
        ],
    ),
    "log": (
        ["published", "event_type", "outcome", "display_message", "actor", "target_id",
         "reason", "trace_id", "uuid"],
        lambda r, names: [
            r.published, r.event_type, r.outcome_result, r.display_message,
            r.actor.get("alternateId") or r.actor.get("id"), r.target_id, r.outcome_reason,
            r.trace_id, r.uuid,
        ],
    ),
}  # fmt: skip


def rows(view: str, queryset: QuerySet[Any]) -> Iterator[str]:
    """The header and one CSV line per row of a report list (`view`, a key of COLUMNS)."""
    header, row = COLUMNS[view]
    writer = csv.writer(_Line())
    names = stream_names()
    yield writer.writerow(header)
    records: Iterable[Any] = queryset.iterator(chunk_size=CHUNK)
    for record in records:
        yield writer.writerow([_cell(value) for value in row(record, names)])
