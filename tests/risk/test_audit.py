"""The audit trail of the policy's configuration and the directory: each change made in the
console is one System Log record, with Okta's event type, the admin as actor, the changed fields
before and after, and secrets (app tokens, workflow URLs and signing secrets) only as
"changed"."""

import io
import json

import pytest
from django.urls import reverse

from risk.models import ConnectedApp, Entity, LogEvent, MappingOverride, PolicyRule, Workflow

pytestmark = pytest.mark.django_db

APP_TOKEN = "app-t0ken-s3cret"
HOOK = "https://hooks.example/T0123/s3cr3t-path"
OKTA_EVENT = "https://schemas.okta.com/secevent/okta/event-type/user-risk-change"


def only(event_type: str) -> LogEvent:
    return LogEvent.objects.get(event_type=event_type)


def text_of(record: LogEvent) -> str:
    return json.dumps([record.debug_data, record.target, record.actor])


def test_adding_editing_and_removing_a_rule_is_logged(admin_client):
    data = {"name": "High risk", "risk_level": "HIGH", "app_selection": "ALL", "active": "on"}
    assert admin_client.post(reverse("risk:policy_rule_add"), data).status_code == 302
    rule = PolicyRule.objects.get(name="High risk")
    edit = reverse("risk:policy_rule_edit", args=[rule.pk])
    data = {**data, "risk_level": "MEDIUM", "priority": rule.priority}
    assert admin_client.post(edit, data).status_code == 302
    remove = reverse("risk:policy_rule_delete", args=[rule.pk])
    assert admin_client.post(remove).status_code == 302

    added, updated, removed = (only(f"policy.rule.{t}") for t in ("add", "update", "delete"))
    for record in (added, updated, removed):
        assert record.actor["alternateId"] == "sam"
        assert record.target[0] == {
            "id": str(rule.pk), "type": "PolicyRule", "alternateId": "High risk",
            "displayName": "High risk",
        }  # fmt: skip
        assert record.target[1]["type"] == "Policy"
    assert added.debug_data["before"] is None
    assert added.debug_data["after"]["riskLevel"] == "HIGH"
    assert updated.debug_data["before"] == {"riskLevel": "HIGH"}
    assert updated.debug_data["after"] == {"riskLevel": "MEDIUM"}
    assert removed.debug_data["before"]["name"] == "High risk"
    assert removed.debug_data["after"] is None


def test_switching_a_rule_off_and_on_is_deactivate_and_activate(admin_client):
    data = {"name": "High risk", "risk_level": "HIGH", "app_selection": "ALL", "active": "on"}
    admin_client.post(reverse("risk:policy_rule_add"), data)
    rule = PolicyRule.objects.get(name="High risk")
    edit = reverse("risk:policy_rule_edit", args=[rule.pk])
    data["priority"] = rule.priority
    assert admin_client.post(edit, {**data, "active": ""}).status_code == 302
    assert admin_client.post(edit, data).status_code == 302

    off, on = only("policy.rule.deactivate"), only("policy.rule.activate")
    assert (off.debug_data["before"], off.debug_data["after"]) == (
        {"active": True},
        {"active": False},
    )
    assert on.debug_data["after"] == {"active": True}
    assert on.target[0]["id"] == str(rule.pk)


def test_a_connected_app_is_logged_with_its_token_only_as_changed(admin_client):
    data = {"name": "Slack", "revocation_endpoint": "https://slack.example/revoke",
            "token": APP_TOKEN, "active": "on"}  # fmt: skip
    assert admin_client.post(reverse("risk:connected_app_add"), data).status_code == 302
    app = ConnectedApp.objects.get()
    edit = reverse("risk:connected_app_edit", args=[app.pk])
    assert admin_client.post(edit, {**data, "token": "n3w-" + APP_TOKEN}).status_code == 302
    assert admin_client.post(reverse("risk:connected_app_delete", args=[app.pk])).status_code == 302

    created, updated, deleted = (
        only(f"application.lifecycle.{t}") for t in ("create", "update", "delete")
    )
    assert created.target[0]["type"] == "AppInstance"
    assert created.target[0]["displayName"] == "Slack"
    assert created.debug_data["after"]["token"] == "changed"
    assert updated.debug_data["before"] == {"token": "changed"}
    assert updated.debug_data["after"] == {"token": "changed"}
    assert deleted.actor["alternateId"] == "sam"
    for record in (created, updated, deleted):
        assert APP_TOKEN not in text_of(record)
        assert app.encrypted_token not in text_of(record)


def test_an_app_edited_without_a_new_token_logs_the_fields_that_changed(admin_client):
    data = {"name": "Slack", "revocation_endpoint": "https://slack.example/revoke",
            "token": APP_TOKEN, "active": "on"}  # fmt: skip
    admin_client.post(reverse("risk:connected_app_add"), data)
    edit = reverse("risk:connected_app_edit", args=[ConnectedApp.objects.get().pk])
    assert admin_client.post(edit, {**data, "token": "", "active": ""}).status_code == 302

    assert only("application.lifecycle.update").debug_data["after"] == {"active": False}


def test_a_workflow_is_logged_by_its_origin_never_its_url_or_secret(admin_client):
    added = admin_client.post(reverse("risk:workflow_add"), {"name": "Ticket", "url": HOOK})
    secret = added.context["secret"]
    workflow = Workflow.objects.get()
    edit = reverse("risk:workflow_edit", args=[workflow.pk])
    assert admin_client.post(edit, {"name": "Ticket 2", "url": ""}).status_code == 302
    assert admin_client.post(reverse("risk:workflow_delete", args=[workflow.pk])).status_code == 302

    created, updated, deleted = (
        only(f"application.lifecycle.{t}") for t in ("create", "update", "delete")
    )
    assert created.target[0] == {"id": str(workflow.pk), "type": "Workflow",
                                 "alternateId": "https://hooks.example",
                                 "displayName": "Ticket"}  # fmt: skip
    assert created.debug_data["after"]["url"] == "changed"
    assert created.debug_data["after"]["secret"] == "changed"
    assert updated.debug_data["before"] == {"name": "Ticket", "active": True}
    assert updated.debug_data["after"] == {"name": "Ticket 2", "active": False}
    for record in (created, updated, deleted):
        assert "s3cr3t" not in text_of(record)
        assert secret not in text_of(record)


def test_a_mapping_override_is_a_policy_update_naming_the_stream(admin_client, stream):
    data = {"stream": stream.pk, "event_type": OKTA_EVENT, "outcome": "HIGH"}
    assert admin_client.post(reverse("risk:mapping_override_add"), data).status_code == 302
    override = MappingOverride.objects.get()
    remove = reverse("risk:mapping_override_delete", args=[override.pk])
    assert admin_client.post(remove).status_code == 302

    set_, removed = LogEvent.objects.filter(event_type="policy.lifecycle.update").order_by("id")
    assert set_.actor["alternateId"] == "sam"
    assert [t["type"] for t in set_.target] == ["Policy", "SecurityEventProvider"]
    assert set_.target[1]["id"] == stream.pk
    assert set_.debug_data["before"] == {"mapping": None}
    assert set_.debug_data["after"] == {"mapping": "HIGH"}
    assert removed.debug_data["after"] == {"mapping": None}


def test_a_person_added_in_the_console_is_logged_with_the_groups_joined(admin_client):
    data = {"kind": "USER", "email": "ann@example.com", "first_name": "Ann",
            "groups": "Finance"}  # fmt: skip
    assert admin_client.post(reverse("risk:entity_add"), data).status_code == 302
    ann = Entity.objects.get()

    created, joined = only("user.lifecycle.create"), only("group.user_membership.add")
    assert created.actor["alternateId"] == "sam"
    assert created.target[0]["id"] == ann.pk
    assert created.entity_id == ann.pk
    assert created.debug_data["after"]["email"] == "ann@example.com"
    assert [t["type"] for t in joined.target] == ["User", "UserGroup"]
    assert joined.target[1]["displayName"] == "Finance"


def test_each_person_of_a_csv_import_is_logged(admin_client):
    csv = "login,email\nann,ann@example.com\nbob,bob@example.com\n,\n"
    upload = io.BytesIO(csv.encode())
    upload.name = "people.csv"
    answer = admin_client.post(reverse("risk:entity_import"), {"file": upload})
    assert answer.status_code == 200
    assert answer.context["result"].errors == ["Line 4: give a login or an email."]

    created = LogEvent.objects.filter(event_type="user.lifecycle.create")
    assert sorted(r.target[0]["alternateId"] for r in created) == ["ann", "bob"]
    assert {r.actor["alternateId"] for r in created} == {"sam"}


def test_a_readonly_admins_refused_change_logs_nothing(readonly_client):
    data = {"name": "x", "risk_level": "HIGH", "app_selection": "ALL"}
    assert readonly_client.post(reverse("risk:policy_rule_add"), data).status_code == 403
    assert not LogEvent.objects.filter(event_type__startswith="policy.").exists()
