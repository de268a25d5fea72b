"""/api/v1/logs: Okta's System Log query, its filter language and cursor pagination."""

import base64
from datetime import UTC, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.utils import timezone

from common.audit import admin_actor
from risk.api.logs import LOG_FILTER_FIELDS, POLL_SETTLE
from risk.api.scim_filter import FilterError, parse_filter
from risk.cursors import cursor_make
from risk.models import LogEvent, RiskLevel
from risk.services.directory import entity_create
from risk.services.entity_risk import entity_risk_set
from tests.api.okta import assert_okta_error, next_link

pytestmark = pytest.mark.django_db
LOGS = "/api/v1/logs"
RISK_CHANGE = "user.risk.change"


def page_through(api, url, params=None):
    """Every record of every page, following `next` until a page comes back short."""
    pages, response = [], api.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        pages.append([record["uuid"] for record in response.json()])
        link = next_link(response)
        if link is None or not pages[-1]:
            return pages
        response = api.get(link)


# --- The filter language -------------------------------------------------------------------


@pytest.fixture
def records(make_log):
    now = timezone.now()
    return {
        "risk_a": make_log(RISK_CHANGE, target_id="00uA", published=now - timedelta(minutes=5)),
        "risk_b": make_log(RISK_CHANGE, target_id="00uB", published=now - timedelta(minutes=4),
                           outcome="FAILURE", severity="WARN"),
        "receive": make_log("security.events.provider.receive_event", target_id="00uA",
                            published=now - timedelta(minutes=3), trace_id="trace-1"),
        "policy": make_log("policy.entity_risk.evaluate", target_id="00uB",
                           actor=admin_actor(name="ops"), published=now - timedelta(minutes=2)),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('eventType eq "user.risk.change"', {"risk_a", "risk_b"}),
        ('EVENTTYPE eq "x"', None),
        ('eventType EQ "user.risk.change" AND target.id eq "00uA"', {"risk_a"}),
        ('target.id eq "00uA" or target.id eq "00uB" and eventType sw "policy."',
         {"risk_a", "receive", "policy"}),
        ('(target.id eq "00uA" or target.id eq "00uB") and eventType sw "policy."', {"policy"}),
        ('eventType co "risk"', {"risk_a", "risk_b", "policy"}),
        ('eventType ne "user.risk.change"', {"receive", "policy"}),
        ('outcome.result eq "FAILURE"', {"risk_b"}),
        ('severity eq "WARN"', {"risk_b"}),
        ('transaction.id eq "trace-1"', {"receive"}),
        ('actor.id eq "ops"', {"policy"}),
        ('actor.id ne "ops" and ((eventType eq "user.risk.change"))', {"risk_a", "risk_b"}),
        (r'eventType eq "user.risk.\u0063hange"', {"risk_a", "risk_b"}),
        ('  eventType   eq"user.risk.change"  ', {"risk_a", "risk_b"}),
    ],
)  # fmt: skip
def test_good_filters(records, expression, expected):
    if expected is None:
        with pytest.raises(FilterError, match="'EVENTTYPE' cannot be filtered on"):
            parse_filter(expression, fields=LOG_FILTER_FIELDS)
        return
    where = parse_filter(expression, fields=LOG_FILTER_FIELDS)
    found = set(LogEvent.objects.filter(where).values_list("uuid", flat=True))
    assert found == {records[name].uuid for name in expected}


@pytest.fixture
def policy_records(make_log):
    """Records shaped as the policy writes them: several targets and nested debug data."""
    now = timezone.now()
    rule = {"id": "0pr-rule-1", "type": "PolicyRule", "alternateId": "unknown",
            "displayName": "High risk"}  # fmt: skip
    debug = {"RuleName": "High risk", "Risk": {"level": "HIGH"}}
    evaluate = make_log("policy.entity_risk.evaluate", target_id="00uA",
                        published=now - timedelta(minutes=2), debug_data=debug)  # fmt: skip
    evaluate.target.append(rule)
    evaluate.save()
    plain = make_log(RISK_CHANGE, target_id="00uB", published=now - timedelta(minutes=1),
                     display_message="Risk of Bob changed", reason="Set by an admin")  # fmt: skip
    published = (evaluate.published, plain.published)
    return {"evaluate": evaluate, "plain": plain, "published": published}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('debugContext.debugData.RuleName eq "High risk"', {"evaluate"}),
        ('debugContext.debugData.Risk.level eq "HIGH"', {"evaluate"}),
        ("debugContext.debugData.RuleName pr", {"evaluate"}),
        ("not (debugContext.debugData.RuleName pr)", {"plain"}),
        ('target.type eq "PolicyRule"', {"evaluate"}),
        ('target.displayName sw "High"', {"evaluate"}),
        ('target.alternateId eq "x@example.com" and not (eventType sw "policy.")', {"plain"}),
        ('actor.type eq "SystemPrincipal" and actor.alternateId co "ssf-receiver"',
         {"evaluate", "plain"}),
        ('displayMessage co "of Bob"', {"plain"}),
        ("outcome.reason pr", {"plain"}),
        ('outcome.reason sw "Set by"', {"plain"}),
        ("transaction.id pr", set()),
        ("target.id pr and severity pr", {"evaluate", "plain"}),
        ("published gt \"{0}\"", {"plain"}),
        ("published ge \"{0}\"", {"evaluate", "plain"}),
        ("published lt \"{1}\" and published le \"{0}\"", {"evaluate"}),
        ('published eq "{1}" or not (published ge "2000-01-01T00:00:00Z")', {"plain"}),
    ],
)  # fmt: skip
def test_okta_operators_over_log_event_attributes(policy_records, expression, expected):
    expression = expression.format(*(when.isoformat() for when in policy_records["published"]))
    where = parse_filter(expression, fields=LOG_FILTER_FIELDS)
    found = set(LogEvent.objects.filter(where).values_list("uuid", flat=True))
    assert found == {policy_records[name].uuid for name in expected}


def test_api_filters_on_time_written_as_okta_writes_it(api, policy_records):
    evaluate, _plain = policy_records["published"]
    since = (evaluate - timedelta(minutes=1)).isoformat()
    okta_time = evaluate.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{evaluate.microsecond // 1000:03d}Z"
    )
    query = {
        "since": since,
        "until": timezone.now().isoformat(),
        "filter": f'published lt "{okta_time}" or displayMessage eq "Risk of Bob changed"',
    }
    body = api.get(LOGS, query).json()  # fmt: skip
    assert [r["displayMessage"] for r in body] == ["Risk of Bob changed"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "Invalid filter: it is empty."),
        ('eventType equals "x"',
         "position 10: expected an operator (eq, ne, sw, co, gt, ge, lt, le, pr) after "
         "'eventType', found 'equals'."),
        ('foo eq "x"', "position 0: 'foo' cannot be filtered on; use one of actor.*, client.*,"),
        ('severity co "x"', "position 9: severity does not support 'co'; use eq, ne, pr."),
        ('eventType gt "x"', "position 10: eventType does not support 'gt'; use eq, ne, sw,"),
        ('published gt "yesterday"', "position 13: 'yesterday' is not an ISO 8601 time"),
        ('published gt "0001-01-01T00:00:00+23:00"', "position 13: '0001-01-01T00:00:00+23:00'"),
        ('actor. eq "x"', "position 0: 'actor.' cannot be filtered on"),
        ('actor..id eq "x"', "position 0: 'actor..id' cannot be filtered on"),
        ('eventType pr "x"', "position 13: expected 'and', 'or' or the end of the filter"),
        ('not', "position 3: expected an attribute name or '(', found the end of the filter."),
        ("not " * 9 + 'eventType eq "x"', "parentheses and 'not' nest deeper than 8 levels."),
        ("eventType eq x", "position 13: expected a double-quoted string after 'eq'"),
        ('eventType eq "x', "position 13: the string is not closed."),
        ('eventType eq "x" and', "position 20: expected an attribute name or '(', found the end"),
        ('eventType eq "x" eventType eq "y"', "position 17: expected 'and', 'or' or the end"),
        ('(eventType eq "x"', "position 17: expected ')', found the end of the filter."),
        ('eventType eq "x")', "position 16: expected 'and', 'or' or the end of the filter"),
        ('eventType eq "x" & target.id eq "y"', "position 17: unexpected character '&'."),
        (r'eventType eq "a\qb"', "position 15: Invalid \\escape in a string."),
        (r'eventType eq "a\u0000"', "position 13: the string holds a NUL or a lone surrogate."),
        (r'eventType eq "\ud800"', "position 13: the string holds a NUL or a lone surrogate."),
        ("(" * 9 + 'eventType eq "x"' + ")" * 9, "nest deeper than 8 levels."),
        (" or ".join(['eventType eq "x"'] * 21), "more than 20 comparisons."),
        ('eventType eq "' + "x" * 2000 + '"', "longer than 2000 characters."),
        ('and eq "x"', "position 0: expected an attribute name or '(', found 'and'."),
    ],
)  # fmt: skip
def test_bad_filters_say_where_and_what(expression, message):
    with pytest.raises(FilterError) as caught:
        parse_filter(expression, fields=LOG_FILTER_FIELDS)
    assert message in str(caught.value)


def test_api_bad_filter_is_400_with_the_parsers_message(api):
    response = api.get(LOGS, {"filter": 'eventType eq "x" and'})
    causes = assert_okta_error(response, 400, "E0000031")
    assert response.json()["errorSummary"] == "Invalid search criteria."
    assert causes == [
        "Invalid filter at position 20: expected an attribute name or '(', found the end of the "
        "filter."
    ]


def test_api_filter_and_keywords(api, records):
    response = api.get(LOGS, {"filter": 'target.id eq "00uB"', "q": "POLICY evaluate"})
    assert [r["uuid"] for r in response.json()] == [str(records["policy"].uuid)]
    assert api.get(LOGS, {"q": "ops"}).json()[0]["actor"]["alternateId"] == "ops"


@pytest.mark.parametrize(
    "q",
    [" ".join(["w"] * 11), "x" * 41],
)
def test_api_too_many_or_too_long_keywords_are_400(api, q):
    assert_okta_error(api.get(LOGS, {"q": q}), 400, "E0000031")


# --- The query ------------------------------------------------------------------------------


def test_log_event_json_is_oktas_shape(api, records):
    record = api.get(LOGS, {"filter": 'transaction.id eq "trace-1"'}).json()[0]
    assert set(record) == {
        "uuid", "published", "eventType", "version", "severity", "legacyEventType",
        "displayMessage", "actor", "client", "outcome", "target", "transaction", "debugContext",
        "authenticationContext", "securityContext", "request",
    }  # fmt: skip
    assert record["published"].endswith("Z")
    assert record["transaction"] == {"type": "JOB", "id": "trace-1", "detail": {}}
    assert record["debugContext"]["debugData"]["TraceId"] == "trace-1"


def test_since_until_and_sort_order(api, records):
    since = (records["risk_b"].published).isoformat()
    until = (records["policy"].published).isoformat()
    ascending = api.get(LOGS, {"since": since, "until": until}).json()
    assert [r["uuid"] for r in ascending] == [str(records[n].uuid) for n in ("risk_b", "receive")]
    descending = api.get(LOGS, {"since": since, "until": until, "sortOrder": "DESCENDING"}).json()
    assert [r["uuid"] for r in descending] == [str(records[n].uuid) for n in ("receive", "risk_b")]


def settled():
    """Reading as a poller does a few seconds later, once POLL_SETTLE has passed."""
    return time_machine.travel(timezone.now() + POLL_SETTLE + timedelta(seconds=1), tick=False)


def test_default_since_is_seven_days(api, make_log):
    make_log(published=timezone.now() - timedelta(days=8))
    recent = make_log()
    with settled():
        assert [r["uuid"] for r in api.get(LOGS).json()] == [str(recent.uuid)]


def test_polling_leaves_out_records_that_may_still_be_committing(api, make_log):
    settling = make_log()
    assert api.get(LOGS).json() == []
    with settled():
        assert [r["uuid"] for r in api.get(LOGS).json()] == [str(settling.uuid)]
    descending = api.get(LOGS, {"sortOrder": "DESCENDING"}).json()
    assert [r["uuid"] for r in descending] == [str(settling.uuid)]


@pytest.mark.parametrize(
    ("params", "cause"),
    [
        ({"since": "yesterday"}, "since: Datetime has wrong format."),
        ({"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
         "until: until must be later than since."),
        ({"limit": "1001"}, "limit: Ensure this value is less than or equal to 1000."),
        ({"limit": "-1"}, "limit: Ensure this value is greater than or equal to 0."),
        ({"sortOrder": "UP"}, 'sortOrder: "UP" is not a valid choice.'),
        ({"after": "not-a-cursor"}, "after: The pagination cursor is not valid."),
    ],
)  # fmt: skip
def test_bad_parameters_are_400(api, params, cause):
    causes = assert_okta_error(api.get(LOGS, params), 400, "E0000001")
    assert any(c.startswith(cause) for c in causes), causes


def test_readonly_token_reads_the_log(readonly_api, records):
    assert len(readonly_api.get(LOGS).json()) == 4


# --- Pagination -----------------------------------------------------------------------------


@pytest.fixture
def risk_changes(super_admin):
    """Five admins' risk changes, i.e. five user.risk.change records, oldest first."""
    users = [entity_create(email=f"user{n}@example.com") for n in range(5)]
    for user in users:
        entity_risk_set(entity=user, level=RiskLevel.HIGH, actor=super_admin)
    return list(LogEvent.objects.filter(event_type=RISK_CHANGE).order_by("published", "id"))


def test_pages_through_risk_changes_with_link_headers(api, risk_changes, make_log):
    make_log("security.events.provider.receive_event")
    with settled():
        pages = page_through(api, LOGS, {"filter": f'eventType eq "{RISK_CHANGE}"', "limit": 2})
    assert pages == [
        [str(r.uuid) for r in risk_changes[0:2]],
        [str(r.uuid) for r in risk_changes[2:4]],
        [str(risk_changes[4].uuid)],
        [],
    ]


def test_link_header_keeps_the_query_and_has_self(api, risk_changes):
    response = api.get(LOGS, {"filter": f'eventType eq "{RISK_CHANGE}"', "limit": 2})
    self_link, next_part = response["Link"].split(", ")
    assert self_link.endswith('; rel="self"')
    assert "filter=eventType+eq+%22user.risk.change%22" in next_part
    assert "limit=2" in next_part
    assert "after=" in next_part


def test_polling_mode_keeps_a_next_link_and_later_records_arrive_on_it(api, risk_changes, bob,
                                                                      super_admin):  # fmt: skip
    query = {"filter": f'eventType eq "{RISK_CHANGE}"', "limit": 2}
    with settled():
        first = api.get(LOGS, query)
        second = api.get(next_link(first))
    entity_risk_set(entity=bob, level=RiskLevel.LOW, actor=super_admin)  # arrives meanwhile
    with settled():
        third = api.get(next_link(second))
    seen = [r["uuid"] for page in (first, second, third) for r in page.json()]
    assert seen == [str(r.uuid) for r in risk_changes] + [
        str(LogEvent.objects.filter(event_type=RISK_CHANGE).latest("published").uuid)
    ]
    assert len(set(seen)) == 6
    with settled():
        last = api.get(next_link(third))
    assert last.json() == []
    assert next_link(last) == next_link(third)  # poll the same place again


def test_descending_pages_do_not_shift_when_records_arrive(api, risk_changes, bob, super_admin):
    query = {"filter": f'eventType eq "{RISK_CHANGE}"', "limit": 2, "sortOrder": "DESCENDING"}
    first = api.get(LOGS, query)
    entity_risk_set(entity=bob, level=RiskLevel.LOW, actor=super_admin)
    rest = page_through(api, next_link(first))
    seen = [r["uuid"] for r in first.json()] + [uuid for page in rest for uuid in page]
    assert seen == [str(r.uuid) for r in reversed(risk_changes)]


def test_with_until_the_last_page_has_no_next_link(api, risk_changes):
    until = (timezone.now() + timedelta(minutes=1)).isoformat()
    response = api.get(LOGS, {"until": until, "filter": f'eventType eq "{RISK_CHANGE}"'})
    assert next_link(response) is None
    assert response["Link"].endswith('; rel="self"')


def test_a_first_poll_that_finds_nothing_gives_a_cursor_the_okta_sdk_reads(api, make_log):
    from okta.pagination import PaginationHelper

    since = timezone.now() - timedelta(minutes=10)
    first = api.get(LOGS, {"since": since.isoformat()})
    assert first.json() == []
    after = PaginationHelper.extract_next_cursor({"Link": first["Link"]})
    assert after  # an empty after= would end the SDK's polling loop
    arrived = make_log(published=timezone.now())
    with settled():
        later = api.get(LOGS, {"since": since.isoformat(), "after": after})
    assert [r["uuid"] for r in later.json()] == [str(arrived.uuid)]


def test_limit_zero_answers_no_records_and_polls_from_the_same_place(api, make_log):
    make_log(published=timezone.now() - timedelta(minutes=1))
    response = api.get(LOGS, {"limit": "0"})
    assert response.status_code == 200
    assert response.json() == []
    after = parse_qs(urlparse(next_link(response)).query)["after"][0]
    with settled():
        assert len(api.get(LOGS, {"after": after}).json()) == 1
    bounded = api.get(LOGS, {"limit": "0", "until": timezone.now().isoformat()})
    assert bounded.json() == []
    assert next_link(bounded) is None


def test_next_link_writes_after_first_then_limit_as_okta_does(api, risk_changes):
    with settled():
        response = api.get(LOGS, {"filter": f'eventType eq "{RISK_CHANGE}"', "limit": 2})
    query = next_link(response).split("?", 1)[1]
    assert query.startswith("after=")
    assert query.split("&")[1] == "limit=2"


def _forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        _forged("0001-01-01T00:00:00+23:00|1"),  # issue 11, defect 4: was a 500
        _forged("9999-12-31T23:59:59-23:00|1"),
        _forged("2024-01-01T00:00:00+00:00|1"),  # the old, unsigned shape
        "x" * 501,
        "",
    ],
)
def test_a_cursor_we_did_not_make_is_a_400_not_a_500(api, make_log, after):
    make_log()
    response = api.get(LOGS, {"after": after, "sortOrder": "DESCENDING"})
    if after == "":
        assert response.status_code == 200
        return
    causes = assert_okta_error(response, 400, "E0000001")
    assert causes[0].startswith("after: ")


def test_a_cursor_for_another_list_or_edited_is_refused(api, risk_changes):
    first = api.get(LOGS, {"limit": 2, "sortOrder": "DESCENDING"})
    cursor = parse_qs(urlparse(next_link(first)).query)["after"][0]
    users_cursor = cursor_make(kind="users:id:asc", position=["00u1", 1])
    for bad in (users_cursor, cursor[:-1] + ("A" if cursor[-1] != "A" else "B")):
        assert_okta_error(api.get(LOGS, {"after": bad}), 400, "E0000001")
    rest = api.get(LOGS, {"after": cursor, "sortOrder": "DESCENDING"}).json()
    assert len(rest) == LogEvent.objects.count() - 2


@pytest.mark.parametrize("name", ["since", "until"])
def test_an_out_of_range_time_is_a_400(api, name):
    causes = assert_okta_error(api.get(LOGS, {name: "0001-01-01T00:00:00+23:00"}), 400, "E0000001")
    assert causes[0].startswith(f"{name}: ")
