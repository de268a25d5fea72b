"""The policy forms in a real headless Chromium: the app fields appear only for Logout (the app
list only for specified apps), the URI box only for another event type; the choices are
checkboxes, ticked by clicking alone; a workflow is edited from its list."""

import pytest
from playwright.sync_api import expect

from common.crypto import decrypt
from risk.models import PolicyRule
from risk.services.policy_config import connected_app_create, workflow_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_rule_form_shows_the_app_fields_only_for_logout(page, sign_in, super_admin, live_server):
    for name in ("Slack", "Zoom"):
        connected_app_create(name=name, revocation_endpoint=f"https://{name.lower()}.example/r",
                             token="t")  # fmt: skip
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    sign_in("sam", "pw-sam-123")
    page.goto(live_server.url + "/security/entity-risk-policy/rules/add/")
    selection = page.locator('[data-field="app_selection"]')
    apps = page.locator('[data-field="apps"]')
    expect(selection).to_be_hidden()
    expect(apps).to_be_hidden()
    page.get_by_label("Logout and revoke tokens").check()
    expect(selection).to_be_visible()
    expect(apps).to_be_hidden()  # All connected apps is the default
    page.get_by_label("Apps to log out of").select_option("SPECIFIED")
    expect(apps).to_be_visible()
    page.get_by_label("Zoom").check()  # one click, no ctrl
    page.get_by_label("Slack").check()
    page.get_by_label("Slack").uncheck()
    page.fill("#id_name", "Logout from Zoom")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Rule 'Logout from Zoom' saved.")).to_be_visible()
    rule = PolicyRule.objects.get(name="Logout from Zoom")
    assert [a.name for a in rule.apps.all()] == ["Zoom"]
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []


def test_mapping_form_shows_the_uri_box_only_for_another_event_type(
    page, sign_in, super_admin, stream, live_server
):
    sign_in("sam", "pw-sam-123")
    page.goto(live_server.url + "/security/entity-risk-policy/mappings/add/")
    custom = page.locator('[data-field="custom_event_type"]')
    expect(custom).to_be_hidden()
    page.select_option("#id_stream", label="Acme MDM")
    page.select_option("#id_event_type", "other")
    expect(custom).to_be_visible()
    page.fill("#id_custom_event_type", "not a uri")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter an event-type URI")).to_be_visible()
    expect(custom).to_be_visible()  # still shown with its error, the choice kept
    page.select_option("#id_event_type", label="Session revoked (session-revoked)")
    expect(custom).to_be_hidden()


def test_a_workflow_is_edited_from_its_list(page, sign_in, super_admin, live_server):
    workflow, _secret = workflow_create(name="Open ticket", url="https://hooks.example/t/abc")
    sign_in("sam", "pw-sam-123")
    page.goto(live_server.url + "/security/workflows/")
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_test_id("workflow-url")).to_have_text("https://hooks.example/…")
    page.fill("#id_name", "Open a ticket")
    page.fill("#id_url", "https://hooks.example/t/new")  # same origin: no secret needed
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("cell", name="Open a ticket")).to_be_visible()
    workflow.refresh_from_db()
    assert workflow.name == "Open a ticket"
    assert decrypt(workflow.encrypted_url) == "https://hooks.example/t/new"
