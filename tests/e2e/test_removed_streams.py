"""A removed stream in a real headless Chromium: listed under Removed, its page read-only with
its history and the SETs it received."""

import pytest
import requests
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_removed_stream_is_listed_and_readable(
    screenshot, page, sign_in, super_admin, stream, transmitter, live_server
):
    response = requests.post(
        live_server.url + "/security/api/v1/security-events",
        data=transmitter.make_set(),
        headers={"Content-Type": "application/secevent+jwt", "Accept": "application/json"},
        timeout=10,
    )
    assert response.status_code == 202
    sign_in("sam", "pw-sam-123")
    row = page.locator("tr[data-stream-name='Acme MDM']")
    row.locator("summary", has_text="Actions").click()
    row.get_by_role("link", name="Remove").click()
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("empty-state")).to_be_visible()

    page.get_by_role("link", name="Removed (1)").click()
    page.locator("#removed-streams").get_by_role("link", name="Acme MDM").click()
    expect(page.get_by_test_id("status")).to_have_text("Removed")
    expect(page.get_by_test_id("removed-note")).to_contain_text("by sam")
    expect(page.locator("#changes")).to_contain_text("Removed")
    expect(page.locator("#changes")).to_contain_text("Added")
    expect(page.get_by_test_id("received-count")).to_have_text("1")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Deactivate")).to_have_count(0)
    screenshot("removed-stream")
    page.locator("#recent-events a").first.click()
    expect(page.get_by_test_id("claims")).to_be_visible()
