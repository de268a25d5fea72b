"""The risk pages: the entity risk report, the System Log, the directory and the policy pages."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from common.crypto import decrypt
from risk.mapping import OKTA
from risk.models import (
    ConnectedApp,
    Entity,
    LogEvent,
    MappingOverride,
    PolicyRule,
    RiskChange,
    RiskLevel,
    Workflow,
)

pytestmark = pytest.mark.django_db
USER_RISK = OKTA + "user-risk-change"
REPORT = reverse("risk:entity_risk_report")
LOG = reverse("risk:system_log")


def test_report_shows_totals_charts_and_entities_at_risk(admin_client, alice, deliver):
    deliver(USER_RISK, {"current_level": "high", "reason_admin": {"en": "Malware"}})
    html = admin_client.get(REPORT).content.decode()
    assert 'data-testid="detections">1<' in html
    assert 'data-testid="high-detections">1<' in html
    assert "Alice Liddell" in html
    assert "Malware" in html
    assert "Acme MDM" in html
    assert 'id="detections-over-time-data"' in html
    assert 'id="detections-by-source-data"' in html


@pytest.mark.parametrize(
    ("query", "shown"),
    [("level=HIGH", True), ("level=LOW", False), ("q=alice", True), ("q=bob", False),
     ("event_type=" + USER_RISK, True), ("range=24h", True)],
)  # fmt: skip
def test_report_filters_are_kept_in_the_url(admin_client, alice, deliver, query, shown):
    deliver(USER_RISK, {"current_level": "high"})
    response = admin_client.get(f"{REPORT}?{query}")
    assert ("Alice Liddell" in response.content.decode()) is shown
    assert response.context["form"].data.urlencode() == query.replace(":", "%3A").replace(
        "/", "%2F"
    )


def test_entity_page_links_each_change_to_its_set(admin_client, alice, deliver):
    deliver(USER_RISK, {"current_level": "high"})
    change = RiskChange.objects.get()
    html = admin_client.get(reverse("risk:entity_detail", args=[alice.pk])).content.decode()
    assert reverse("events:security_event_detail", args=[change.security_event_id]) in html
    detail = admin_client.get(reverse("events:security_event_detail",
                                      args=[change.security_event_id]))  # fmt: skip
    assert b"user-risk-change" in detail.content


def test_super_admin_sets_risk_by_hand_after_confirming(admin_client, alice):
    url = reverse("risk:entity_risk_set", args=[alice.pk])
    page = admin_client.get(reverse("risk:entity_detail", args=[alice.pk]))
    assert page.context["risk_form"]["level"].value() is None  # no default level
    asked = admin_client.post(url, {"level": "HIGH", "reason": "Phished"})
    assert asked.status_code == 200
    assert asked.templates[0].name == "risk/entity_risk_confirm.html"
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.NONE  # asked, not done
    done = admin_client.post(url, {"level": "HIGH", "reason": "Phished", "confirmed": "yes"})
    assert done.status_code == 302
    alice.refresh_from_db()
    assert (alice.risk_level, alice.risk_reason) == (RiskLevel.HIGH, "Phished")
    assert admin_client.post(url, {"level": "", "confirmed": "yes"}).status_code == 302
    assert admin_client.post(url, {"level": "NONE", "confirmed": "yes"}).status_code == 302
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.HIGH


def test_readonly_admin_reads_reports_but_cannot_set_risk(readonly_client, alice, deliver):
    deliver(USER_RISK, {"current_level": "high"})
    assert readonly_client.get(REPORT).status_code == 200
    assert readonly_client.get(LOG).status_code == 200
    page = readonly_client.get(reverse("risk:entity_detail", args=[alice.pk])).content.decode()
    assert "Set the risk by hand" not in page
    response = readonly_client.post(reverse("risk:entity_risk_set", args=[alice.pk]),
                                    {"level": "LOW"})  # fmt: skip
    assert response.status_code == 403
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.HIGH


def messages_of(response):
    return [r.display_message for r in response.context["records"]]


def test_system_log_pages_newest_first_with_a_cursor(
    admin_client, make_records, django_assert_num_queries
):
    make_records(120)
    first = admin_client.get(LOG)
    assert messages_of(first)[:2] == ["record 119", "record 118"]
    assert len(messages_of(first)) == 50
    cursor = first.context["next_cursor"]
    make_records(5, event_type="arrived.meanwhile")  # newer records do not shift older pages
    # session, user, stream choices, the page, the chart's counts: none per row
    with django_assert_num_queries(5):
        second = admin_client.get(f"{LOG}?after={cursor}")
    assert messages_of(second)[0] == "record 69"
    third = admin_client.get(f"{LOG}?after={second.context['next_cursor']}")
    assert messages_of(third)[-1] == "record 0"
    assert third.context["next_cursor"] is None


def test_system_log_filters_and_search(admin_client, alice, deliver):
    deliver(USER_RISK, {"current_level": "high"})
    deliver(USER_RISK, {"current_level": "low"}, sub_id={"format": "email", "email": "x@y.io"})
    by_type = admin_client.get(f"{LOG}?event_type=user.risk.change")
    assert [r.event_type for r in by_type.context["records"]] == ["user.risk.change"]
    failures = admin_client.get(f"{LOG}?outcome=FAILURE")
    assert {r.outcome_result for r in failures.context["records"]} == {"FAILURE"}
    mine = admin_client.get(f"{LOG}?entity={alice.pk}")
    assert {r.entity_id for r in mine.context["records"]} == {alice.pk}
    assert admin_client.get(f"{LOG}?q=matches+no+user").context["records"][0].outcome_result == (
        "FAILURE"
    )


def test_system_log_search_is_the_apis_keyword_search(admin_client, alice, deliver):
    """Every word must appear, each in any of the fields (Okta's `q`), as in /api/v1/logs."""
    deliver(USER_RISK, {"current_level": "high"})
    found = admin_client.get(LOG, {"q": f"RISK.change {alice.pk}"}).context["records"]
    assert [r.event_type for r in found] == ["user.risk.change"]
    assert not admin_client.get(LOG, {"q": "risk.change nobody-here"}).context["records"]
    response = admin_client.get(LOG, {"q": " ".join(["word"] * 11)})
    assert not response.context["records"]  # not the unfiltered log
    assert "at most 10 keywords" in response.content.decode()


def test_system_log_htmx_load_more_is_a_partial(admin_client, make_records):
    make_records(60)
    cursor = admin_client.get(LOG).context["next_cursor"]
    partial = admin_client.get(f"{LOG}?after={cursor}", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content
    assert partial.content.count(b'class="log-row"') == 10


@pytest.mark.parametrize(
    "after",
    ["garbage!!", base64.urlsafe_b64encode(b"0001-01-01T00:00:00+23:00|1").decode()],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_system_log_bad_cursor_is_a_400_that_says_so(admin_client, make_records, after, htmx):
    """Issue 11 defect 4: an out-of-range date in a cursor was a 500."""
    make_records(3)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = admin_client.get(LOG, {"after": after, "outcome": "SUCCESS"}, **headers)
    assert response.status_code == 400
    page = response.content.decode()
    assert "link is out of date or was changed" in page
    assert 'href="?outcome=SUCCESS">First page</a>' in page
    assert 'class="log-row"' not in page
    assert "No record matches" not in page


def test_stream_changes_are_in_the_system_log(admin_client, transmitter, super_admin,
                                              django_capture_on_commit_callbacks):  # fmt: skip
    from streams.services import stream_create, stream_deactivate

    with django_capture_on_commit_callbacks(execute=True):
        stream = stream_create(name="Acme", well_known_url=transmitter.well_known_url,
                               actor=super_admin)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        stream_deactivate(stream=stream, actor=super_admin)
    records = LogEvent.objects.filter(stream_ref=stream.pk).order_by("published", "id")
    assert [r.event_type for r in records] == [
        "security.events.provider.add",
        "security.events.provider.deactivate",
    ]
    assert records[0].actor["alternateId"] == "sam"


def test_directory_add_and_csv_import(admin_client):
    response = admin_client.post(
        reverse("risk:entity_add"),
        {"kind": "USER", "email": "bob@example.com", "first_name": "Bob", "groups": "Sales, Ops"},
    )
    assert response.status_code == 302
    bob = Entity.objects.get(email="bob@example.com")
    assert sorted(g.name for g in bob.groups.all()) == ["Ops", "Sales"]
    csv = ("login,email,first_name,groups,iss,sub\n"
           "carol,carol@example.com,Carol,Sales,https://idp.example,c-1\n"
           "bob2,bob@example.com,Bobby,,,\n")  # fmt: skip
    upload = SimpleUploadedFile("people.csv", csv.encode(), content_type="text/csv")
    result = admin_client.post(reverse("risk:entity_import"), {"file": upload}).context["result"]
    assert result.created == 1
    assert result.errors == ["Line 3: Another entity is already named by email:bob@example.com."]
    carol = Entity.objects.get(login="carol")
    assert set(carol.identifiers.values_list("key", flat=True)) == {
        "email:carol@example.com",
        "iss_sub:https://idp.example|c-1",
    }


def test_csv_import_refuses_a_row_whose_email_is_not_an_address(admin_client):
    csv = ("login,email,first_name\n"
           "dan,not-an-email,Dan\n"
           "erin,erin@example.com,Erin\n")  # fmt: skip
    upload = SimpleUploadedFile("people.csv", csv.encode(), content_type="text/csv")
    result = admin_client.post(reverse("risk:entity_import"), {"file": upload}).context["result"]
    assert result.created == 1
    assert result.errors == ["Line 2: 'not-an-email' is not an email address."]
    assert not Entity.objects.filter(login="dan").exists()
    assert Entity.objects.filter(login="erin").exists()


def test_directory_pages_through_everyone_and_keeps_the_search(admin_client):
    Entity.objects.bulk_create(
        Entity(id=f"00u{n:05d}", login=f"user{n:03d}@example.com") for n in range(120)
    )
    Entity.objects.bulk_create(Entity(id=f"00v{n:05d}", login=f"ops{n:02d}@example.com")
                               for n in range(60))  # fmt: skip
    people = reverse("risk:entity_list")
    seen = []
    for number in (1, 2, 3, 4):
        page = admin_client.get(people, {"page": number}).context["page"]
        seen += [entity.login for entity in page]
    assert len(seen) == len(set(seen)) == 180  # every entity once, over four pages of 50
    html = admin_client.get(people, {"q": "ops"}).content.decode()
    assert "Page 1 of 2 (60)" in html
    assert 'href="?q=ops&page=2"' in html
    last = admin_client.get(people, {"q": "ops", "page": 2}).context["page"]
    assert [entity.login for entity in last] == [f"ops{n:02d}@example.com" for n in range(50, 60)]


def test_a_nul_in_the_directory_search_finds_nobody_instead_of_failing(admin_client, alice):
    response = admin_client.get(reverse("risk:entity_list"), {"q": "al\x00ice"})
    assert response.status_code == 200
    assert not list(response.context["page"])


def test_a_rule_priority_past_the_column_is_a_form_error(admin_client):
    response = admin_client.post(
        reverse("risk:policy_rule_add"),
        {"name": "Big", "priority": "99999999999", "risk_level": "HIGH", "apps": "NONE"},
    )
    assert response.status_code == 400
    assert "less than or equal to" in response.content.decode()
    assert not PolicyRule.objects.filter(name="Big").exists()


def test_readonly_admin_cannot_change_the_directory_or_policy(readonly_client):
    for name in ("risk:entity_add", "risk:policy_rule_add", "risk:connected_app_add",
                 "risk:workflow_add", "risk:mapping_override_add"):  # fmt: skip
        assert readonly_client.get(reverse(name)).status_code == 403
        assert readonly_client.post(reverse(name), {"name": "x"}).status_code == 403
    assert PolicyRule.objects.count() == 1
    assert not Entity.objects.exists()


def test_policy_pages_add_edit_and_remove_a_rule(admin_client):
    response = admin_client.post(reverse("risk:policy_rule_add"), {
        "name": "High risk", "risk_level": "HIGH", "active": "on", "terminate_sessions": "on",
        "app_selection": "ALL"})  # fmt: skip
    assert response.status_code == 302
    rule = PolicyRule.objects.get(name="High risk")
    assert (rule.priority, rule.terminate_sessions) == (1, True)
    html = admin_client.get(reverse("risk:policy")).content.decode()
    assert "High risk" in html
    assert "Catch-all rule" in html
    assert "user-risk-change" in html  # the mapping table
    admin_client.post(reverse("risk:policy_rule_edit", args=[rule.pk]), {
        "name": "High risk", "risk_level": "MEDIUM", "app_selection": "NONE"})  # fmt: skip
    rule.refresh_from_db()
    assert (rule.risk_level, rule.active) == ("MEDIUM", False)
    admin_client.post(reverse("risk:policy_rule_delete", args=[rule.pk]))
    assert list(PolicyRule.objects.values_list("name", flat=True)) == ["Catch-all rule"]
    catch_all = PolicyRule.objects.get()
    assert (
        admin_client.get(reverse("risk:policy_rule_delete", args=[catch_all.pk])).status_code == 404
    )


def test_connected_app_token_is_required_encrypted_and_kept_on_edit(admin_client):
    add = reverse("risk:connected_app_add")
    data = {"name": "Slack", "revocation_endpoint": "https://slack.example/revoke", "active": "on"}
    assert admin_client.post(add, data).status_code == 400
    assert admin_client.post(add, {**data, "token": "s3cret"}).status_code == 302
    app = ConnectedApp.objects.get()
    assert "s3cret" not in app.encrypted_token
    assert decrypt(app.encrypted_token) == "s3cret"
    admin_client.post(reverse("risk:connected_app_edit", args=[app.pk]), {**data, "token": ""})
    assert decrypt(ConnectedApp.objects.get().encrypted_token) == "s3cret"


def test_workflow_secret_is_shown_once(admin_client):
    response = admin_client.post(reverse("risk:workflow_add"),
                                 {"name": "Ticket", "url": "https://hooks.example/t"})  # fmt: skip
    secret = response.context["secret"]
    assert decrypt(Workflow.objects.get().encrypted_secret) == secret
    assert secret not in admin_client.get(reverse("risk:workflow_list")).content.decode()


def test_stream_mapping_override_add_and_remove(admin_client, stream):
    admin_client.post(reverse("risk:mapping_override_add"), {
        "stream": stream.pk, "event_type": USER_RISK, "outcome": "NO_CHANGE"})  # fmt: skip
    override = MappingOverride.objects.get()
    assert override.outcome == "NO_CHANGE"
    url = reverse("risk:mapping_override_delete", args=[override.pk])
    confirm = admin_client.get(url).content.decode()
    assert "stop meaning No risk change (log only)" in confirm
    assert MappingOverride.objects.exists()
    admin_client.post(url)
    assert not MappingOverride.objects.exists()


@pytest.mark.parametrize("name", ["since", "until"])
def test_system_log_out_of_range_time_is_a_form_error(admin_client, name):
    response = admin_client.get(LOG, {name: "0001-01-01T00:00:00+23:00"})
    assert "Enter a time between the years 1 and 9999 (UTC)." in response.content.decode()
    assert not response.context["records"]
