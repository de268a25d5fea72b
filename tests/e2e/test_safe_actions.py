"""Safe actions in a real headless Chromium: what stops is named before it stops, and after an
htmx action the status is announced in the live region and the focus comes back."""

import pytest
from playwright.sync_api import expect

from risk.models import MappingOverride, Workflow
from risk.services.policy_config import mapping_override_set, workflow_create
from streams.models import Stream, StreamStatus
from streams.services import stream_push_secret_rotate
from streams.vocabulary import OKTA

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def row(page, name):
    return page.locator(f"tr[data-stream-name='{name}']")


def test_deactivate_asks_pauses_at_the_transmitter_and_activate_announces(
    screenshot, page, sign_in, super_admin, managed_stream, ssf_transmitter
):
    sign_in("sam", "pw-sam-123")
    row(page, "Acme SSF").locator("summary", has_text="Actions").click()
    row(page, "Acme SSF").get_by_role("link", name="Deactivate").click()
    expect(page.get_by_role("heading", name="Deactivate stream Acme SSF?")).to_be_visible()
    expect(page.get_by_test_id("consequence")).to_contain_text("refused (access_denied)")
    pause = page.get_by_label("Also pause the stream at the transmitter")
    expect(pause).to_be_checked()
    screenshot("deactivate-confirm")
    page.get_by_role("button", name="Deactivate").click()

    expect(page.locator("#messages")).to_contain_text("deactivated; its SETs are refused")
    expect(page.locator("#messages")).to_contain_text("asked to pause")
    assert Stream.objects.get().status == StreamStatus.INACTIVE
    assert ssf_transmitter.state.stream.status == "paused"

    row(page, "Acme SSF").locator("summary", has_text="Actions").click()
    row(page, "Acme SSF").get_by_role("button", name="Activate").click()
    expect(page.get_by_role("status")).to_contain_text("activated; its SETs are accepted")
    expect(row(page, "Acme SSF").get_by_test_id("status")).to_have_text("Active")
    expect(row(page, "Acme SSF").locator("summary")).to_be_focused()
    screenshot("activate-announced")


def test_cancel_deactivate_changes_nothing(page, sign_in, super_admin, stream, live_server):
    sign_in("sam", "pw-sam-123")
    row(page, "Acme MDM").locator("summary", has_text="Actions").click()
    row(page, "Acme MDM").get_by_role("link", name="Deactivate").click()
    expect(page.get_by_label("Also pause the stream at the transmitter")).to_have_count(0)
    page.get_by_role("link", name="Cancel").click()
    expect(row(page, "Acme MDM").get_by_test_id("status")).to_have_text("Active")
    assert Stream.objects.get().is_active


def test_remove_secret_and_mapping_ask_first(page, sign_in, super_admin, stream, live_server):
    stream_push_secret_rotate(stream=stream)
    mapping_override_set(stream=stream, event_type=OKTA + "user-risk-change", outcome="NO_CHANGE")
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Acme MDM").click()
    page.get_by_role("link", name="Remove secret").click()
    expect(page.get_by_test_id("consequence")).to_contain_text(
        "Pushes stop being checked for the Authorization header"
    )
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_contain_text("no longer need an Authorization header")
    assert not Stream.objects.get().requires_push_authorization

    page.goto(live_server.url + "/security/entity-risk-policy/")
    page.locator("#overrides").get_by_role("link", name="Remove").click()
    expect(page.get_by_test_id("consequence")).to_contain_text(
        "stop meaning No risk change (log only): the built-in table applies again"
    )
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_contain_text("Mapping removed")
    assert not MappingOverride.objects.exists()


def test_remove_workflow_names_what_stops(page, sign_in, super_admin, live_server):
    workflow_create(name="Open ticket", url="http://127.0.0.1:9/hook")
    sign_in("sam", "pw-sam-123")
    page.goto(live_server.url + "/security/workflows/")
    page.get_by_role("link", name="Remove").click()
    expect(page.get_by_test_id("consequence")).to_have_text("Rules that run it stop running it.")
    page.get_by_role("link", name="Cancel").click()
    assert Workflow.objects.exists()
