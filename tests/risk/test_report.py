"""The entity risk report (lists, figures, CSV) and the entity page's admin changes, confirmed."""

import csv
import io
import json

import pytest
from django.urls import reverse

from risk.mapping import CAEP, OKTA, RISC
from risk.models import (
    Detection,
    DetectionKind,
    DetectionState,
    Entity,
    PolicyAction,
    RiskLevel,
)
from risk.services.directory import entity_create
from risk.services.policy_config import connected_app_create, policy_rule_save

pytestmark = pytest.mark.django_db
USER_RISK = OKTA + "user-risk-change"
REPORT = reverse("risk:entity_risk_report")


def export(client, view: str, query: str = "") -> list[list[str]]:
    response = client.get(reverse("risk:entity_risk_export", args=[view, "csv"]) + "?" + query)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="entity-risk-{view}.csv"'
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def logout_rule(db):
    app = connected_app_create(name="Slack", revocation_endpoint="http://127.0.0.1:9/revoke",
                               token="t")  # fmt: skip
    policy_rule_save(name="High risk", risk_level="HIGH", terminate_sessions=True,
                     app_selection="ALL")  # fmt: skip
    return app


def test_detections_count_repeats_at_any_level_and_the_figures_link_to_their_lists(
    admin_client, alice, deliver, logout_rule
):
    deliver(USER_RISK, {"current_level": "high"})
    deliver(USER_RISK, {"current_level": "high"})  # a repeat: a detection, not a new risk
    deliver(CAEP + "session-revoked", {})
    deliver(USER_RISK, {"current_level": "secure"})  # a clear is not a detection
    response = admin_client.get(REPORT)
    html = response.content.decode()
    assert 'data-testid="detections">3<' in html
    assert 'data-testid="high-detections">2<' in html
    assert 'data-testid="logouts">1<' in html
    assert len(response.context["page"]) == 3
    # The figures link to their lists, keeping the filters but not the list's own.
    html = admin_client.get(REPORT, {"view": "log", "level": "LOW", "range": "24h"}).content
    assert b'href="?view=detections&level=HIGH&range=24h"' in html
    assert b'href="?view=rules&action=TERMINATE_ALL_SESSIONS&range=24h"' in html
    rules = admin_client.get(REPORT, {"view": "rules", "action": "TERMINATE_ALL_SESSIONS"})
    assert [c.rule_name for c in rules.context["page"]] == ["High risk"]
    assert "Slack" in rules.content.decode()
    none = admin_client.get(REPORT, {"view": "rules", "action": "RUN_WORKFLOW"})
    assert not list(none.context["page"])


@pytest.mark.parametrize(
    ("query", "count"),
    [("kind=USER_RISK", 1), ("kind=SESSIONS_REVOKED", 1), ("level=MEDIUM", 1),
     ("entity_kind=USER", 2), ("entity_kind=DEVICE", 0), ("q=bob", 0)],
)  # fmt: skip
def test_detection_filters(admin_client, alice, deliver, query, count):
    deliver(USER_RISK, {"current_level": "high"})
    deliver(CAEP + "session-revoked", {})
    assert len(admin_client.get(f"{REPORT}?{query}").context["page"]) == count


def test_detection_filter_by_source(admin_client, alice, stream, deliver, second_source):
    deliver(USER_RISK, {"current_level": "high"})
    deliver(USER_RISK, {"current_level": "low"}, source=second_source)
    page = admin_client.get(REPORT, {"stream": second_source.stream.pk}).context["page"]
    assert [s.level for s in page] == ["LOW"]
    entities = admin_client.get(REPORT, {"view": "entities", "stream": second_source.stream.pk})
    assert [e.pk for e in entities.context["page"]] == [alice.pk]


def test_each_list_exports_as_csv_with_formulas_defused(admin_client, alice, deliver,
                                                         logout_rule):  # fmt: skip
    deliver(USER_RISK, {"current_level": "high", "reason_admin": {"en": '=HYPERLINK("x")'}})
    rows = export(admin_client, "detections")
    assert rows[0][:4] == ["time", "entity_id", "entity", "entity_kind"]
    assert rows[1][1:8] == [alice.pk, "Alice Liddell", "User", "User risk", "Acme MDM", "HIGH",
                            "New detection"]  # fmt: skip
    assert rows[1][10] == '\'=HYPERLINK("x")'
    assert export(admin_client, "detections", "level=LOW") == rows[:1]
    assert export(admin_client, "entities")[1][3] == "HIGH"
    rules = export(admin_client, "rules")
    assert rules[1][6:8] == ["High risk", "Logout and revoke tokens at Slack: Pending"]
    log = export(admin_client, "log")
    assert log[0][:2] == ["published", "eventType"]  # the System Log export's columns
    assert {row[1] for row in log[1:]} >= {
        "security.events.provider.receive_event",
        "user.risk.change",
        "policy.entity_risk.evaluate",
    }
    nope = reverse("risk:entity_risk_export", args=["nope", "csv"])
    assert admin_client.get(nope).status_code == 302
    xlsx = reverse("risk:entity_risk_export", args=["detections", "xlsx"])
    assert admin_client.get(xlsx).status_code == 404


def test_each_list_exports_as_json_with_the_filters(admin_client, alice, deliver, logout_rule):
    deliver(USER_RISK, {"current_level": "high", "reason_admin": {"en": "=not a formula here"}})
    deliver(CAEP + "session-revoked", {})

    def records(view: str, query: str = "") -> list[dict]:
        url = reverse("risk:entity_risk_export", args=[view, "json"])
        response = admin_client.get(f"{url}?{query}")
        assert response.streaming
        assert response["Content-Type"] == "application/json"
        assert response["Content-Disposition"] == f'attachment; filename="entity-risk-{view}.json"'
        return json.loads(b"".join(response.streaming_content))

    high = records("detections", "level=HIGH")
    assert [(d["entity_id"], d["source"], d["level"]) for d in high] == [
        (alice.pk, "Acme MDM", "HIGH")
    ]
    assert high[0]["reasons"] == "=not a formula here"  # JSON is data: left as it is
    assert len(records("detections")) == 2
    assert records("entities")[0]["risk"] == "HIGH"
    assert records("rules")[0]["rule"] == "High risk"
    assert {r["eventType"] for r in records("log")} >= {"user.risk.change"}


def test_report_lists_read_a_fixed_number_of_queries(admin_client, alice, deliver,
                                                      django_assert_max_num_queries):  # fmt: skip
    for level in ("high", "low", "medium", "high"):
        deliver(USER_RISK, {"current_level": level})
    for view in ("detections", "entities", "rules", "log"):
        with django_assert_max_num_queries(16):
            assert admin_client.get(REPORT, {"view": view}).status_code == 200


def test_entity_page_lists_active_and_past_detections(admin_client, alice, deliver):
    deliver(
        RISC + "credential-compromise",
        {"credential_type": "password", "reason_admin": {"en": "Found in a breach"}},
    )
    deliver(USER_RISK, {"current_level": "medium"})
    deliver(USER_RISK, {"current_level": "secure"})
    response = admin_client.get(reverse("risk:entity_detail", args=[alice.pk]))
    assert [d.kind for d in response.context["active"]] == [DetectionKind.CREDENTIAL_COMPROMISE]
    assert [d.state for d in response.context["past"]] == [DetectionState.CLEARED]
    html = response.content.decode()
    assert "Found in a breach" in html
    assert "Cleared by its source" in html
    compromise = Detection.objects.get(kind=DetectionKind.CREDENTIAL_COMPROMISE)
    assert compromise.expires_at.strftime("%Y-%m-%d %H:%M:%S") in html
    assert reverse("events:security_event_detail", args=[compromise.security_event_id]) in html


def test_setting_high_names_the_policy_actions_before_they_run(admin_client, alice,
                                                                logout_rule):  # fmt: skip
    url = reverse("risk:entity_risk_set", args=[alice.pk])
    page = admin_client.post(url, {"level": "HIGH"}).content.decode()
    assert "Rule <strong>High risk</strong> will run" in page
    assert "Logout and revoke tokens: Slack" in page
    assert 'name="confirmed" value="yes"' in page
    assert not PolicyAction.objects.exists()  # named, not run
    medium = admin_client.post(url, {"level": "MEDIUM"}).content.decode()
    assert "it runs no action (it only logs)" in medium


def test_low_names_the_detections_it_dismisses(admin_client, alice, deliver):
    deliver(CAEP + "session-revoked", {})
    page = admin_client.post(reverse("risk:entity_risk_set", args=[alice.pk]),
                             {"level": "LOW"}).content.decode()  # fmt: skip
    assert "These detections will be dismissed" in page
    assert "Sessions revoked MEDIUM from Acme MDM" in page


def test_console_dismiss_and_reset_ask_for_a_reason_and_confirmation(admin_client, alice,
                                                                      deliver):  # fmt: skip
    deliver(RISC + "credential-compromise", {"credential_type": "password"})
    deliver(CAEP + "session-revoked", {})
    compromise = Detection.objects.get(kind=DetectionKind.CREDENTIAL_COMPROMISE)
    url = reverse("risk:detection_dismiss", args=[alice.pk, compromise.pk])
    refused = admin_client.post(url, {"confirmed": "yes"}, follow=True)
    assert "Reason: This field is required." in refused.content.decode()
    asked = admin_client.post(url, {"reason": "Rotated"}).content.decode()
    assert "Medium" in asked
    assert "(unchanged)" not in asked
    assert Detection.objects.get(pk=compromise.pk).state == DetectionState.ACTIVE
    admin_client.post(url, {"reason": "Rotated", "confirmed": "yes"})
    assert Detection.objects.get(pk=compromise.pk).state == DetectionState.DISMISSED
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.MEDIUM
    again = admin_client.post(url, {"reason": "Rotated", "confirmed": "yes"}, follow=True)
    assert "not active any more" in again.content.decode()
    reset = reverse("risk:entity_risk_reset", args=[alice.pk])
    admin_client.post(reset, {"reason": "All clear", "confirmed": "yes"})
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.NONE


def test_readonly_admin_cannot_dismiss_or_reset(readonly_client, alice, deliver):
    deliver(USER_RISK, {"current_level": "high"})
    detection = Detection.objects.get()
    for url in (reverse("risk:detection_dismiss", args=[alice.pk, detection.pk]),
                reverse("risk:entity_risk_reset", args=[alice.pk])):  # fmt: skip
        assert readonly_client.post(url, {"reason": "x", "confirmed": "yes"}).status_code == 403
    assert Detection.objects.get().state == DetectionState.ACTIVE
    page = readonly_client.get(reverse("risk:entity_detail", args=[alice.pk])).content.decode()
    assert "Dismiss" not in page


def test_a_detection_of_another_entity_cannot_be_dismissed_through_this_one(admin_client, alice,
                                                                             deliver):  # fmt: skip
    deliver(USER_RISK, {"current_level": "high"})
    bob = entity_create(login="bob")
    url = reverse("risk:detection_dismiss", args=[bob.pk, Detection.objects.get().pk])
    admin_client.post(url, {"reason": "x", "confirmed": "yes"})
    assert Detection.objects.get().state == DetectionState.ACTIVE


def test_the_policy_page_shows_each_rows_detection_kind_and_lifetime(admin_client, settings):
    settings.RISK_DETECTION_LIFETIME_DAYS = {"SESSIONS_REVOKED": "2"}
    html = admin_client.get(reverse("risk:policy")).content.decode()
    assert "<td>Sessions revoked</td><td>inferred</td><td>2 days</td>" in html
    assert "<td>User risk</td><td>reported</td><td>until its source changes it</td>" in html
    assert "<td>Credential compromise</td><td>inferred</td><td>30 days</td>" in html
