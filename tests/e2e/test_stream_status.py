"""A stream's one status in a real headless Chromium: our side and the transmitter's together on
the list and the stream's page, and the current state on the transmitter's buttons."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_pause_at_the_transmitter_shows_on_the_page_and_the_list(
    screenshot, page, sign_in, super_admin, managed_stream, ssf_transmitter, live_server
):
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Acme SSF").click()
    expect(page.get_by_test_id("status-help")).to_contain_text(
        "Activate and Deactivate decide whether this receiver accepts"
    )
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_contain_text("Status paused set.")
    summary = page.locator(".toolbar").get_by_test_id("status-summary")
    expect(summary).to_contain_text("Active · Paused at transmitter")
    expect(page.get_by_role("button", name="Pause")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Enable")).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("remote-status-now")).to_have_text("Now: Paused")
    assert ssf_transmitter.state.stream.status == "paused"
    screenshot("paused-detail")

    page.goto(live_server.url + "/security/device-integrations/shared-signals/")
    listed = page.locator("tr[data-stream-name='Acme SSF']").get_by_test_id("status-summary")
    expect(listed).to_contain_text("Active · Paused at transmitter")
    expect(listed).not_to_contain_text("Enabled")
    screenshot("paused-list")
