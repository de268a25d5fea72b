"""Every read of the risk app: the entity risk report, the System Log pages, the directory."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from risk import charts
from risk.cursors import BadCursor, cursor_make, cursor_read
from risk.models import (
    ActionKind,
    ConnectedApp,
    Detection,
    DetectionKind,
    DetectionSignal,
    DetectionState,
    Entity,
    EntityIdentifier,
    EntityKind,
    LogEvent,
    MappingOverride,
    PolicyAction,
    PolicyRule,
    RiskChange,
    RiskLevel,
    Workflow,
)
from risk.services.system_log import (
    DETECTION_DISMISS,
    POLICY_ACTION,
    POLICY_EVALUATE,
    RECEIVE_EVENT,
    RISK_CHANGE,
    UNIVERSAL_LOGOUT,
    WORKFLOW_RUN,
)
from risk.subjects import canonical_email
from streams.models import Stream

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
# The System Log records the entity risk report lists.
REPORT_LOG_TYPES = (RECEIVE_EVENT, RISK_CHANGE, DETECTION_DISMISS, POLICY_EVALUATE, POLICY_ACTION,
                    UNIVERSAL_LOGOUT, WORKFLOW_RUN)  # fmt: skip
DETECTION_LEVELS = (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH)
_Row = TypeVar("_Row", DetectionSignal, RiskChange)


@dataclass
class ReportFilters:
    """The report's filters, as kept in the URL."""

    level: str = ""
    range: str = "7d"
    stream: str = ""
    kind: str = ""
    event_type: str = ""
    entity_kind: str = ""
    action: str = ""
    q: str = ""
    # A range chosen on a chart (brush to zoom) or typed: it overrides `range`.
    since: datetime | None = None
    until: datetime | None = None

    @property
    def start(self) -> datetime | None:
        if self.since:
            return self.since
        delta = RANGES.get(self.range)
        return timezone.now() - delta if delta else None

    def entities(self) -> QuerySet[Entity] | None:
        """The entities the entity filters (kind, search) allow; None when they allow all."""
        if not (self.entity_kind or self.q):
            return None
        entities = Entity.objects.all()
        if self.entity_kind:
            entities = entities.filter(kind=self.entity_kind)
        return entities.filter(_entity_search(self.q)) if self.q else entities


def _report_filter(
    rows: QuerySet[_Row], filters: ReportFilters, *, stream: str, kind: str
) -> QuerySet[_Row]:
    """Rows with `created_at`, `level`, `event_type` and `entity`, kept by the report's filters
    (`stream` and `kind` name the fields those filters read)."""
    if filters.start:
        rows = rows.filter(created_at__gte=filters.start)
    if filters.until:
        rows = rows.filter(created_at__lt=filters.until)
    if filters.level:
        rows = rows.filter(level=filters.level)
    if filters.stream:
        rows = rows.filter(**{stream: filters.stream})
    if filters.kind:
        rows = rows.filter(**{kind: filters.kind})
    if filters.event_type:
        rows = rows.filter(event_type=filters.event_type)
    entities = filters.entities()
    return rows if entities is None else rows.filter(entity__in=entities)


def report_detections(*, filters: ReportFilters) -> QuerySet[DetectionSignal]:
    """Each detection reported (a signal with a level; repeats included, as Okta counts them),
    newest first: the report's list and its Detections figure."""
    signals = _report_filter(
        DetectionSignal.objects.filter(level__in=DETECTION_LEVELS), filters,
        stream="source_ref", kind="kind",
    )  # fmt: skip
    return signals.select_related("entity", "detection", "security_event").order_by(
        "-created_at", "-id"
    )


def report_rule_triggers(*, filters: ReportFilters) -> QuerySet[RiskChange]:
    """Risk changes that matched a policy rule, newest first, with the actions they fired
    (filter `action`: those that fired that kind of action)."""
    changes = _report_filter(
        RiskChange.objects.exclude(rule_name=""),
        filters,
        stream="stream_ref",
        kind="detection__kind",
    )
    if filters.action:
        changes = changes.filter(
            pk__in=PolicyAction.objects.filter(kind=filters.action).values("risk_change_id")
        )
    return (
        changes.select_related("entity").prefetch_related("actions").order_by("-created_at", "-id")
    )


def report_log_events(*, filters: ReportFilters) -> QuerySet[LogEvent]:
    """The System Log records of entity risk (receipts, risk changes, policy, actions), newest
    first; the level, kind and event-type filters do not apply to them."""
    events = LogEvent.objects.filter(event_type__in=REPORT_LOG_TYPES)
    if filters.start:
        events = events.filter(published__gte=filters.start)
    if filters.until:
        events = events.filter(published__lt=filters.until)
    if filters.stream:
        events = events.filter(stream_ref=filters.stream)
    entities = filters.entities()
    if entities is not None:
        events = events.filter(entity_id__in=entities.values("pk"))
    return events.order_by("-published", "-id")


def entity_risk_report(*, filters: ReportFilters) -> dict:
    """The report's figures (Okta's: detections at any level and repeats included, high-risk
    detections, rule triggers that logged out or ran a workflow) and its charts' series."""
    detections = report_detections(filters=filters).order_by()
    totals = detections.aggregate(
        detections=Count("id"), high=Count("id", filter=Q(level=RiskLevel.HIGH))
    )
    triggers = report_rule_triggers(filters=replace(filters, action="")).order_by()
    totals |= triggers.aggregate(
        logouts=Count("id", filter=Q(actions__kind=ActionKind.UNIVERSAL_LOGOUT), distinct=True),
        workflows=Count("id", filter=Q(actions__kind=ActionKind.RUN_WORKFLOW), distinct=True),
    )
    return {
        "totals": totals,
        "over_time": charts.detections_over_time(detections, start=filters.start,
                                                 end=filters.until),
        "by_source": charts.detections_by(detections, "source_ref", stream_names()),
        "by_kind": charts.detections_by(detections, "kind", dict(DetectionKind.choices)),
    }  # fmt: skip


def _entity_search(q: str, prefix: str = "") -> Q:
    fields = ("login", "email", "first_name", "last_name", "display_name", "id")
    query = Q()
    for name in fields:
        query |= Q(**{f"{prefix}{name}__icontains": q})
    return query


def entities_at_risk(*, filters: ReportFilters) -> QuerySet[Entity]:
    """Entities with a risk (or the chosen level), newest change first; the source and kind
    filters keep those with such an active detection."""
    entities = Entity.objects.exclude(risk_level=RiskLevel.NONE)
    if filters.level:
        entities = Entity.objects.filter(risk_level=filters.level)
    if filters.start:
        entities = entities.filter(risk_updated_at__gte=filters.start)
    if filters.until:
        entities = entities.filter(risk_updated_at__lt=filters.until)
    active = Detection.objects.filter(state=DetectionState.ACTIVE)
    if filters.stream:
        entities = entities.filter(pk__in=active.filter(source_ref=filters.stream).values("entity"))
    if filters.kind:
        entities = entities.filter(pk__in=active.filter(kind=filters.kind).values("entity"))
    if filters.event_type:
        entities = entities.filter(
            pk__in=active.filter(event_type=filters.event_type).values("entity")
        )
    if filters.entity_kind:
        entities = entities.filter(kind=filters.entity_kind)
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


def entity_export(*, q: str = "") -> QuerySet[Entity]:
    """The directory page's people and devices with their groups and identifiers, for export."""
    return entity_list(q=q).prefetch_related("identifiers")


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


def entity_detections(*, entity: Entity) -> tuple[list[Detection], list[Detection]]:
    """An entity's active detections (highest level first) and its past ones (newest first),
    with the SET behind each."""
    rows = list(
        Detection.objects.filter(entity=entity)
        .select_related("security_event")
        .order_by("-last_seen_at", "-id")
    )
    active = [d for d in rows if d.is_active]
    active.sort(key=lambda d: d.level_choice.rank, reverse=True)
    return active, [d for d in rows if not d.is_active]


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


# Okta's System Log `q` bounds: 10 keywords of at most 40 characters.
LOG_MAX_KEYWORDS = 10
LOG_MAX_KEYWORD_LENGTH = 40


def log_keyword_query(q: str) -> Q:
    """Okta's `q`, for the API and the console alike: every keyword must appear,
    case-insensitively, as part of the record's words (risk.log_search: names, emails, logins
    and ids of actor and targets, event type, message, outcome reason). Raises ValueError past
    the bounds.

    On PostgreSQL each keyword's substring match is served by the trigram index on
    `search_text`; SQLite scans. LIKE's `%` and `_` in a keyword match themselves (Django
    escapes them).
    """
    keywords = q.split()
    if len(keywords) > LOG_MAX_KEYWORDS or any(len(k) > LOG_MAX_KEYWORD_LENGTH for k in keywords):
        raise ValueError(
            f"Use at most {LOG_MAX_KEYWORDS} keywords of at most {LOG_MAX_KEYWORD_LENGTH} "
            "characters each."
        )
    query = Q()
    for keyword in keywords:
        query &= Q(search_text__contains=keyword.lower())
    return query


def log_entity_id(name: str) -> str:
    """The id of the entity an admin names by id, login or email (the System Log's entity
    filter); the name itself when no entity has it, so a removed entity's id still filters."""
    name = name.strip()
    entity_id = (
        Entity.objects.filter(Q(pk=name) | Q(login=name)).values_list("pk", flat=True).first()
        or EntityIdentifier.objects.filter(key=f"email:{canonical_email(name)}")
        .values_list("entity_id", flat=True)
        .first()
    )
    return entity_id or name


def log_events_query(
    *, where: Q | None = None, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[LogEvent]:
    """System Log records matching `where`, published in [since, until), unordered."""
    events = LogEvent.objects.filter(where or Q())
    if since:
        events = events.filter(published__gte=since)
    if until:
        events = events.filter(published__lt=until)
    return events


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
    events = log_events_query(where=where, since=since, until=until)
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


RECEIVE_EVENT = "security.events.provider.receive_event"


def security_event_trace(*, security_event_id: int) -> str:
    """The trace id of a stored SET's processing ('' while it waits to be processed)."""
    found = LogEvent.objects.filter(
        security_event_id=security_event_id, event_type=RECEIVE_EVENT
    ).values_list("trace_id", flat=True)
    return next(iter(found), "")


def security_event_entity(*, security_event_id: int) -> str:
    """The id of the entity a stored SET was found to speak of ('' when none was)."""
    found = (
        LogEvent.objects.filter(security_event_id=security_event_id)
        .exclude(entity_id="")
        .order_by("id")
        .values_list("entity_id", flat=True)
    )
    return next(iter(found), "")
