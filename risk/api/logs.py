"""Okta's System Log API: GET /api/v1/logs with since, until, filter, q, limit, sortOrder and
`after` cursors in `Link: <...>; rel="next"` headers; records in Okta's LogEvent shape."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from common.api.errors import error_responses
from common.api.views import ManagementApi, link_header
from risk.api.scim_filter import (
    ALL,
    DATETIME_VALUE,
    EQUALITY,
    JSON_VALUE,
    ORDERED,
    TEXT,
    FilterError,
    FilterField,
    invalid_search,
    parse_filter,
)
from risk.models import LogEvent, OutcomeResult, Severity
from risk.selectors import BadCursor, log_cursor, log_events_page, log_keyword_query
from risk.services.system_log import log_event_to_okta

# Okta's defaults and bounds for /api/v1/logs.
DEFAULT_LIMIT = 100
MIN_LIMIT, MAX_LIMIT = 0, 1000
DEFAULT_WINDOW = timedelta(days=7)
ASCENDING, DESCENDING = "ASCENDING", "DESCENDING"
# Polling reads only records this much older than now: a record is stamped when its batch is
# built and seen when that transaction commits, so a cursor past it must wait for it to land.
POLL_SETTLE = timedelta(seconds=5)

# Targets a record holds at most (the policy's: user, policy, rule and action): `target.*` other
# than `target.id` looks at each of them.
MAX_TARGETS = 5


def _json(column: str, operators: frozenset[str] = TEXT) -> FilterField:
    return FilterField(((column,),), operators, JSON_VALUE)


# Okta's LogEvent attributes. The common filters (event type, target, outcome, severity,
# transaction, time) run on indexed columns; `target.id` is the record's first target (the user,
# device or provider) or its entity, both indexed. The rest are JSON lookups, which PostgreSQL
# and SQLite both run.
LOG_FILTER_FIELDS = {
    "published": FilterField((("published",),), ORDERED, DATETIME_VALUE),
    "eventType": FilterField((("event_type",),), TEXT),
    "severity": FilterField((("severity",),), EQUALITY),
    "displayMessage": FilterField((("display_message",),), TEXT),
    "actor.*": _json("actor"),
    "client.*": _json("client"),
    "target.id": FilterField((("target_id",), ("entity_id",)), TEXT),
    "target.*": FilterField(
        tuple(("target", str(n)) for n in range(MAX_TARGETS)), TEXT, JSON_VALUE
    ),
    "outcome.result": FilterField((("outcome_result",),), EQUALITY),
    "outcome.reason": FilterField((("outcome_reason",),), TEXT),
    "transaction.id": FilterField((("trace_id",),), TEXT),
    "transaction.*": _json("transaction"),
    "debugContext.debugData.*": _json("debug_data", ALL),
}


class LogQueryInput(serializers.Serializer):
    """The query parameters of GET /api/v1/logs."""

    since = serializers.DateTimeField(
        required=False, help_text="ISO 8601; inclusive; default 7 days ago."
    )
    until = serializers.DateTimeField(required=False, help_text="ISO 8601; exclusive.")
    filter = serializers.CharField(
        required=False,
        help_text='SCIM filter, e.g. eventType eq "user.risk.change" and target.id eq "00u…"; '
        f"attributes: {', '.join(LOG_FILTER_FIELDS)}; operators eq, ne, co, sw, pr, gt, ge, "
        "lt, le; and, or, not, ().",
    )
    q = serializers.CharField(required=False, help_text="Keywords, all of which must match.")
    limit = serializers.IntegerField(required=False, min_value=MIN_LIMIT, max_value=MAX_LIMIT)
    sortOrder = serializers.ChoiceField(choices=[ASCENDING, DESCENDING], required=False)
    after = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="The cursor from a `next` link."
    )

    def validate(self, data):
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            raise serializers.ValidationError({"until": "until must be later than since."})
        return data


class ActorOutput(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    alternateId = serializers.CharField()
    displayName = serializers.CharField()


class OutcomeOutput(serializers.Serializer):
    result = serializers.ChoiceField(choices=OutcomeResult.choices)
    reason = serializers.CharField(allow_null=True)


class TransactionOutput(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.CharField()
    detail = serializers.DictField()


class DebugContextOutput(serializers.Serializer):
    debugData = serializers.DictField()


class LogEventOutput(serializers.Serializer):
    """Okta's LogEvent (risk.services.system_log.log_event_to_okta)."""

    uuid = serializers.UUIDField()
    published = serializers.DateTimeField()
    eventType = serializers.CharField()
    version = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    legacyEventType = serializers.CharField(allow_null=True)
    displayMessage = serializers.CharField()
    actor = ActorOutput()
    client = serializers.DictField(allow_null=True)
    outcome = OutcomeOutput()
    target = ActorOutput(many=True)
    transaction = TransactionOutput(allow_null=True)
    debugContext = DebugContextOutput()
    authenticationContext = serializers.DictField(allow_null=True)
    securityContext = serializers.DictField(allow_null=True)
    request = serializers.DictField(allow_null=True)

    def to_representation(self, instance: LogEvent) -> dict:
        return log_event_to_okta(instance)


@extend_schema(tags=["System Log"])
class LogListApi(ManagementApi):
    """One page of System Log records; ASCENDING without `until` is Okta's polling mode, whose
    answer always has a `next` link (poll it for records that arrive later) and leaves out the
    last POLL_SETTLE seconds, so no record still being committed is skipped."""

    @extend_schema(
        operation_id="listLogEvents",
        parameters=[LogQueryInput],
        responses={
            200: OpenApiResponse(
                LogEventOutput(many=True), description="Records; `Link` has `self` and `next`."
            ),
            **error_responses(400),
        },
    )
    def get(self, request):
        # A plain dict: DRF reads a QueryDict as a form, where `until=` would mean "absent".
        query = LogQueryInput(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        try:
            where = log_keyword_query(params.get("q", ""))
        except ValueError as exc:
            raise invalid_search(FilterError(f"Invalid q: {exc}")) from exc
        try:
            if "filter" in params:
                where &= parse_filter(params["filter"], fields=LOG_FILTER_FIELDS)
        except FilterError as exc:
            raise invalid_search(exc) from exc
        ascending = params.get("sortOrder", ASCENDING) == ASCENDING
        polling = ascending and "until" not in params
        after = params.get("after", "")
        since = params.get("since", timezone.now() - DEFAULT_WINDOW)
        limit = params.get("limit", DEFAULT_LIMIT)
        try:
            records, next_after = log_events_page(
                where=where,
                since=since,
                until=timezone.now() - POLL_SETTLE if polling else params.get("until"),
                after=after,
                limit=limit,
                ascending=ascending,
            )
        except BadCursor as exc:
            raise serializers.ValidationError({"after": [str(exc)]}) from exc
        if next_after is None and polling:
            # A poll always gets a non-empty cursor to come back with, even on a first poll
            # that found nothing: Okta's SDK reads `after` with parse_qs, which drops an empty
            # value, and would stop polling.
            last = records[-1] if records else None
            next_after = (
                log_cursor(published=last.published, pk=last.pk)
                if last
                else after or log_cursor(published=since)
            )
        response = Response(LogEventOutput(records, many=True).data)
        response["Link"] = link_header(request, after=next_after, limit=limit)
        return response
