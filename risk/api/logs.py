"""Okta's System Log API: GET /api/v1/logs with since, until, filter, q, limit, sortOrder and
`after` cursors in `Link: <...>; rel="next"` headers; records in Okta's LogEvent shape."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from common.api.errors import error_responses
from common.api.views import ManagementApi, link_header
from risk.api.scim_filter import TEXT, FilterError, FilterField, invalid_search, parse_filter
from risk.models import LogEvent, OutcomeResult, Severity
from risk.selectors import BadCursor, encode_cursor, log_events_page, log_keyword_query
from risk.services.system_log import log_event_to_okta

# Okta's defaults and bounds for /api/v1/logs.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DEFAULT_WINDOW = timedelta(days=7)
ASCENDING, DESCENDING = "ASCENDING", "DESCENDING"
# Polling reads only records this much older than now: a record is stamped when its batch is
# built and seen when that transaction commits, so a cursor past it must wait for it to land.
POLL_SETTLE = timedelta(seconds=5)

# `target.id` is the record's first target (the user, device or provider) or its entity.
LOG_FILTER_FIELDS = {
    "eventType": FilterField(("event_type",), TEXT),
    "target.id": FilterField(("target_id", "entity_id"), TEXT),
    "actor.id": FilterField(("actor__id",)),
    "outcome.result": FilterField(("outcome_result",)),
    "severity": FilterField(("severity",)),
    "transaction.id": FilterField(("trace_id",)),
}


class LogQueryInput(serializers.Serializer):
    """The query parameters of GET /api/v1/logs."""

    since = serializers.DateTimeField(
        required=False, help_text="ISO 8601; inclusive; default 7 days ago."
    )
    until = serializers.DateTimeField(required=False, help_text="ISO 8601; exclusive.")
    filter = serializers.CharField(
        required=False,
        help_text='SCIM subset, e.g. eventType eq "user.risk.change" and target.id eq "00u…"; '
        f"attributes: {', '.join(LOG_FILTER_FIELDS)}; operators eq, ne, sw, co; and, or, ().",
    )
    q = serializers.CharField(required=False, help_text="Keywords, all of which must match.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    sortOrder = serializers.ChoiceField(choices=[ASCENDING, DESCENDING], required=False)
    after = serializers.CharField(
        required=False, allow_blank=True, help_text="The cursor from a `next` link."
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
        try:
            records, next_after = log_events_page(
                where=where,
                since=params.get("since", timezone.now() - DEFAULT_WINDOW),
                until=timezone.now() - POLL_SETTLE if polling else params.get("until"),
                after=after,
                limit=params.get("limit", DEFAULT_LIMIT),
                ascending=ascending,
            )
        except BadCursor as exc:
            raise serializers.ValidationError({"after": [str(exc)]}) from exc
        if next_after is None and polling:
            next_after = encode_cursor(records[-1]) if records else after
        response = Response(LogEventOutput(records, many=True).data)
        response["Link"] = link_header(request, after=next_after)
        return response
