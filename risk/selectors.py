"""Every read of the risk app: the entity risk report, the System Log pages, the directory."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from risk.cursors import BadCursor, cursor_make, cursor_read
from risk.models import (
    ActionKind,
    ConnectedApp,
    Entity,
    EntityKind,
    LogEvent,
    MappingOverride,
    PolicyAction,
    PolicyRule,
    RiskChange,
    RiskLevel,
    Workflow,
)
from streams.models import Stream

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@dataclass
class ReportFilters:
    """The report's filters, as kept in the URL."""

    level: str = ""
    range: str = "7d"
    stream: str = ""
    event_type: str = ""
    q: str = ""

    @property
    def since(self) -> datetime | None:
        delta = RANGES.get(self.range)
        return timezone.now() - delta if delta else None


def _bars(rows: list[tuple[str, int]]) -> list[dict]:
    peak = max((n for _label, n in rows), default=0) or 1
    return [{"label": label, "count": n, "percent": round(100 * n / peak)} for label, n in rows]


def entity_risk_report(*, filters: ReportFilters) -> dict:
    """Totals, detections over time and by source, for the report's header (a few aggregates)."""
    changes = RiskChange.objects.all()
    if filters.since:
        changes = changes.filter(created_at__gte=filters.since)
    if filters.stream:
        changes = changes.filter(stream_ref=filters.stream)
    if filters.event_type:
        changes = changes.filter(event_type=filters.event_type)
    if filters.q:
        changes = changes.filter(_entity_search(filters.q, prefix="entity__"))
    if filters.level:
        changes = changes.filter(level=filters.level)
    totals = changes.aggregate(
        detections=Count("id"), high=Count("id", filter=Q(level=RiskLevel.HIGH))
    )
    actions = PolicyAction.objects.filter(risk_change__in=changes.values("id"))
    totals |= actions.aggregate(
        logouts=Count("id", filter=Q(kind=ActionKind.UNIVERSAL_LOGOUT)),
        workflows=Count("id", filter=Q(kind=ActionKind.RUN_WORKFLOW)),
    )
    trunc = TruncHour if filters.range == "24h" else TruncDay
    fmt = "%H:00" if filters.range == "24h" else "%b %d"
    over_time = (
        changes.annotate(bucket=trunc("created_at")).values("bucket").annotate(n=Count("id"))
        .order_by("bucket")
    )  # fmt: skip
    names = dict(Stream.objects.values_list("pk", "name"))
    by_source = changes.values("stream_ref").annotate(n=Count("id")).order_by("-n")[:10]
    return {
        "totals": totals,
        "over_time": _bars([(row["bucket"].strftime(fmt), row["n"]) for row in over_time]),
        "by_source": _bars(
            [(names.get(r["stream_ref"]) or r["stream_ref"] or "Admin", r["n"]) for r in by_source]
        ),
    }


def _entity_search(q: str, prefix: str = "") -> Q:
    fields = ("login", "email", "first_name", "last_name", "display_name", "id")
    query = Q()
    for name in fields:
        query |= Q(**{f"{prefix}{name}__icontains": q})
    return query


def entities_at_risk(*, filters: ReportFilters) -> QuerySet[Entity]:
    """The report's list: entities with a risk (or the chosen level), newest change first."""
    entities = Entity.objects.exclude(risk_level=RiskLevel.NONE)
    if filters.level:
        entities = Entity.objects.filter(risk_level=filters.level)
    if filters.since:
        entities = entities.filter(risk_updated_at__gte=filters.since)
    if filters.stream:
        entities = entities.filter(risk_stream_ref=filters.stream)
    if filters.event_type:
        entities = entities.filter(risk_changes__event_type=filters.event_type).distinct()
    if filters.q:
        entities = entities.filter(_entity_search(filters.q))
    return entities.order_by("-risk_updated_at", "id")


def entity_list(*, q: str = "", kind: str = "") -> QuerySet[Entity]:
    """People and devices for the directory page, optionally searched and of one kind."""
    entities = Entity.objects.prefetch_related("groups").order_by(
        "kind", "login", "display_name", "id"
    )
    if kind:
        entities = entities.filter(kind=kind)
    return entities.filter(_entity_search(q)) if q else entities


# --- Users API: keyset pagination on (sort column, id) --------------------------------------------

# The columns users can be sorted by: none can be NULL, so (value, id) orders every row.
USER_SORT_COLUMNS = frozenset(
    {"id", "status", "created_at", "updated_at", "login", "email", "first_name", "last_name"}
)
USER_TIME_COLUMNS = frozenset({"created_at", "updated_at"})


def _user_position(cursor: str, *, kind: str, column: str) -> tuple[Any, str]:
    """The (sort value, id) of a users cursor made for this order; BadCursor otherwise."""
    position = cursor_read(kind=kind, cursor=cursor)
    try:
        value, pk = position
        if not isinstance(pk, str) or not isinstance(value, str):
            raise ValueError(position)
        if column in USER_TIME_COLUMNS:
            value = parse_datetime(value)
            if value is None or value.tzinfo is None:
                raise ValueError(position)
    except (ValueError, TypeError) as exc:
        raise BadCursor("The pagination cursor is not valid.") from exc
    return value, pk


def user_page(
    *,
    where: Q | None = None,
    sort: str = "id",
    descending: bool = False,
    after: str = "",
    limit: int,
) -> tuple[list[Entity], str | None]:
    """One page of users in (sort, id) order and the cursor of the next page (None on the last).

    The cursor is made for this order: a cursor of another order or list is BadCursor.
    """
    if sort not in USER_SORT_COLUMNS:
        raise ValueError(sort)
    kind = f"users:{sort}:{'desc' if descending else 'asc'}"
    users = Entity.objects.filter(kind=EntityKind.USER).filter(where or Q())
    if after:
        value, pk = _user_position(after, kind=kind, column=sort)
        beyond = "lt" if descending else "gt"
        users = users.filter(
            Q(**{f"{sort}__{beyond}": value}) | Q(**{sort: value, f"id__{beyond}": pk})
        )
    order = [f"-{sort}", "-id"] if descending else [sort, "id"]
    rows = list(users.order_by(*order)[: limit + 1])
    if len(rows) <= limit or not limit:
        return rows[:limit], None
    last = rows[limit - 1]
    value = getattr(last, sort)
    text = value.isoformat() if sort in USER_TIME_COLUMNS else value
    return rows[:limit], cursor_make(kind=kind, position=[text, last.pk])


def user_get(*, user_id: str) -> Entity | None:
    """One user of the directory by id or login, as Okta's GET /users/{id} (None for unknown
    ids and for devices)."""
    users = Entity.objects.filter(kind=EntityKind.USER)
    return users.filter(pk=user_id).first() or users.filter(login=user_id).first()


def entity_risk_history(*, entity: Entity) -> QuerySet[RiskChange]:
    """An entity's risk changes, newest first, with their SETs and policy actions."""
    return (
        RiskChange.objects.filter(entity=entity)
        .select_related("security_event")
        .prefetch_related("actions")
        .order_by("-created_at", "-id")
    )


def stream_names() -> dict[str, str]:
    """Stream names by id, for labelling sources (removed streams are absent)."""
    return dict(Stream.objects.values_list("pk", "name"))


def policy_rules() -> QuerySet[PolicyRule]:
    """The policy's rules in the order they are tried, with their conditions."""
    return PolicyRule.objects.select_related("workflow").prefetch_related(
        "apps", "groups_include", "groups_exclude", "source_streams"
    )


def mapping_overrides() -> QuerySet[MappingOverride]:
    """Per-stream mapping overrides, by stream name."""
    return MappingOverride.objects.select_related("stream").order_by("stream__name")


def connected_apps() -> QuerySet[ConnectedApp]:
    """Apps where the policy can revoke sessions, by name."""
    return ConnectedApp.objects.order_by("name")


def workflows() -> QuerySet[Workflow]:
    """Webhooks the policy can run, by name."""
    return Workflow.objects.order_by("name")


# --- System Log: keyset pagination on (published, id) -------------------------------------------

LOG_CURSOR = "logs"


def log_cursor(*, published: datetime, pk: int = 0) -> str:
    """The cursor after (published, pk); pk 0 is the position just before `published`."""
    return cursor_make(kind=LOG_CURSOR, position=[published.isoformat(), pk])


def _log_position(cursor: str) -> tuple[datetime, int]:
    """The (published, id) in a cursor; BadCursor when it is not one of ours."""
    position = cursor_read(kind=LOG_CURSOR, cursor=cursor)
    try:
        published, pk = position
        when = parse_datetime(published)
        if when is None or when.tzinfo is None or not isinstance(pk, int):
            raise ValueError(position)
        when.astimezone(UTC)  # a time every database can hold
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadCursor("The pagination cursor is not valid.") from exc
    return when, pk


# Okta's System Log `q`: the fields a keyword is looked for in, and its bounds.
LOG_KEYWORD_FIELDS = (
    "display_message",
    "event_type",
    "outcome_reason",
    "target_id",
    "actor__alternateId",
    "actor__displayName",
)
LOG_MAX_KEYWORDS = 10
LOG_MAX_KEYWORD_LENGTH = 40


def log_keyword_query(q: str) -> Q:
    """Okta's `q`, for the API and the console alike: every keyword must appear
    (case-insensitively) in one of LOG_KEYWORD_FIELDS. Raises ValueError past the bounds.

    Not indexed, on purpose: each SET writes several records, and a trigram index would tax
    every one of those inserts to speed up a search that scans a million records in ~0.3 s.
    """
    keywords = q.split()
    if len(keywords) > LOG_MAX_KEYWORDS or any(len(k) > LOG_MAX_KEYWORD_LENGTH for k in keywords):
        raise ValueError(
            f"Use at most {LOG_MAX_KEYWORDS} keywords of at most {LOG_MAX_KEYWORD_LENGTH} "
            "characters each."
        )
    query = Q()
    for keyword in keywords:
        any_field = Q()
        for name in LOG_KEYWORD_FIELDS:
            any_field |= Q(**{f"{name}__icontains": keyword})
        query &= any_field
    return query


def log_events_page(
    *,
    where: Q | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str = "",
    limit: int = 50,
    ascending: bool = False,
) -> tuple[list[LogEvent], str | None]:
    """One page of System Log records and the cursor of the next page (None on the last page).

    Keyset pagination: the cursor is the last record's (published, id), so a page costs one
    indexed range scan however deep it is, and records that arrive meanwhile never shift pages.
    """
    events = LogEvent.objects.filter(where or Q())
    if since:
        events = events.filter(published__gte=since)
    if until:
        events = events.filter(published__lt=until)
    if after:
        published, pk = _log_position(after)
        if ascending:
            events = events.filter(published__gte=published).filter(
                Q(published__gt=published) | Q(id__gt=pk)
            )
        else:
            events = events.filter(published__lte=published).filter(
                Q(published__lt=published) | Q(id__lt=pk)
            )
    order = ("published", "id") if ascending else ("-published", "-id")
    rows = list(events.order_by(*order)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if not (has_more and rows):
        return rows, None
    return rows, log_cursor(published=rows[-1].published, pk=rows[-1].pk)
