"""The console's charts: counts over time, split by level, and counts by source and by kind.

Each series is plain JSON the page embeds (`json_script`) for static/js/charts.js to draw with
Chart.js, and the same rows fill the table view beside each chart. Buckets are hours for a span
of up to two days, days up to 180 days, weeks beyond, so a chart never has more than about 180
columns; empty buckets are kept (zeros), so the time axis is even and a brush maps to a range.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDay, TruncHour, TruncWeek
from django.utils import timezone

from risk.models import DetectionSignal, LogEvent, RiskLevel

HOUR_BUCKETS_UP_TO = timedelta(days=2)
DAY_BUCKETS_UP_TO = timedelta(days=180)
LEVELS = (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH)
# The System Log's chart spans this much before `until` when no `since` is given.
LOG_CHART_DEFAULT_SPAN = timedelta(days=7)


def _bucketing(span: timedelta) -> tuple[Any, timedelta, str]:
    """The truncation, the bucket's length and its label format for a span of time."""
    if span <= HOUR_BUCKETS_UP_TO:
        return TruncHour, timedelta(hours=1), "%b %d %H:00"
    if span <= DAY_BUCKETS_UP_TO:
        return TruncDay, timedelta(days=1), "%b %d"
    return TruncWeek, timedelta(weeks=1), "week of %b %d"


def _floor(moment: datetime, step: timedelta) -> datetime:
    moment = moment.astimezone(timezone.get_current_timezone())
    moment = moment.replace(minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        moment = moment.replace(hour=0)
    if step >= timedelta(weeks=1):
        moment -= timedelta(days=moment.weekday())
    return moment


def _over_time(
    rows: QuerySet, *, column: str, start: datetime | None, end: datetime | None, split: str = ""
) -> dict[str, Any]:
    """Counts of `rows` per bucket of `column` between start (else the first row) and end (else
    now), per value of `split` when given (else one series, "count")."""
    end = end or timezone.now()
    if start is None:
        first = rows.order_by(column).values_list(column, flat=True).first()
        start = first or end - timedelta(days=1)
    trunc, step, label = _bucketing(end - start)
    fields = ["bucket", split] if split else ["bucket"]
    counts: dict[str, dict[datetime, int]] = defaultdict(dict)
    grouped = rows.annotate(bucket=trunc(column)).values(*fields).annotate(n=Count("id"))
    for row in grouped.order_by():
        counts[row[split] if split else "count"][row["bucket"]] = row["n"]
    buckets = []
    moment = _floor(start, step)
    while moment < end:
        buckets.append(moment)
        moment += step
    names = [level.value for level in LEVELS] if split else ["count"]
    series = {name: [counts[name].get(b, 0) for b in buckets] for name in names}
    labels = [b.strftime(label) for b in buckets]
    return {
        "step_seconds": int(step.total_seconds()),
        "starts": [b.isoformat() for b in buckets],
        "labels": labels,
        "series": series,
        # The table view's rows: a bucket's label and its count in each series.
        "rows": [{"label": text, "counts": [series[name][i] for name in names]}
                 for i, text in enumerate(labels)],
    }  # fmt: skip


def detections_over_time(
    detections: QuerySet[DetectionSignal], *, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """The report's detections per bucket, one series per level (columns stacked by level)."""
    return _over_time(detections, column="created_at", start=start, end=end, split="level")


def detections_by(
    detections: QuerySet[DetectionSignal], field: str, names: dict[str, str]
) -> list[dict[str, Any]]:
    """Detections counted by `field` (`source_ref`, `kind`), the largest first (ten at most):
    each with the value the report's filter takes and its label from `names`."""
    rows = detections.values(field).annotate(n=Count("id")).order_by("-n", field)[:10]
    return [
        {"value": row[field], "label": names.get(row[field]) or row[field] or "Admin",
         "count": row["n"]}
        for row in rows
    ]  # fmt: skip


def log_events_over_time(
    events: QuerySet[LogEvent], *, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    """The System Log query's records per bucket, over since..until (the last week by default)."""
    until = until or timezone.now()
    since = since or until - LOG_CHART_DEFAULT_SPAN
    events = events.filter(published__gte=since, published__lt=until)
    return _over_time(events, column="published", start=since, end=until)
