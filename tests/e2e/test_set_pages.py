"""A stream's SETs in a real headless Chromium: the paged, filtered list with subjects, a SET's
page with its dates, copy button and links to its entity and System Log trace, and a page per
rejected SET."""

import pytest
import requests
from playwright.sync_api import expect

from risk.services.directory import entity_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def push(live_server, token):
    return requests.post(
        live_server.url + "/security/api/v1/security-events",
        data=token,
        headers={"Content-Type": "application/secevent+jwt", "Accept": "application/json"},
        timeout=10,
    )


def test_accepted_set_list_set_page_and_its_links(
    screenshot, page, sign_in, super_admin, stream, transmitter, live_server
):
    alice = entity_create(email="alice@example.com", first_name="Alice", last_name="Liddell")
    sub_id = {"user": {"format": "email", "email": "alice@example.com"},
              "device": {"format": "opaque", "id": "laptop-7"}}  # fmt: skip
    assert push(live_server, transmitter.make_set(sub_id=sub_id, iat=1767225600)).status_code == 202
    assert push(live_server, transmitter.make_set()).status_code == 202  # alice by email only
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Acme MDM").click()
    page.get_by_test_id("all-accepted").click()
    expect(page.get_by_test_id("set-row")).to_have_count(2)
    page.fill("#id_q", "laptop-7")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("set-row")).to_have_count(1)
    expect(page.get_by_test_id("subject")).to_have_text(
        "user: alice@example.com · device: laptop-7"
    )
    screenshot("accepted-sets")

    page.get_by_test_id("set-row").get_by_role("link").click()
    expect(page.get_by_test_id("claim-time").first).to_have_text("2026-01-01 00:00:00 UTC")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.count(".") == 2  # the compact JWS
    screenshot("set-page")

    page.get_by_test_id("entity-link").click()
    assert page.url.endswith(f"/reports/entity-risk/{alice.pk}/")
    page.go_back()
    page.get_by_test_id("trace-link").click()
    expect(
        page.locator("tr[data-event-type='security.events.provider.receive_event']")
    ).to_have_count(1)
    assert "trace=" in page.url


def test_a_rejected_set_has_a_page_with_token_answer_and_reason(
    screenshot, page, sign_in, super_admin, stream, transmitter, live_server
):
    token = transmitter.make_set(aud="https://another-receiver.example")
    assert push(live_server, token).status_code == 400
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Acme MDM").click()
    page.get_by_test_id("all-rejected").click()
    page.select_option("#id_err", "invalid_audience")
    page.get_by_role("button", name="Apply").click()
    page.get_by_test_id("rejected-row").get_by_role("link").click()
    expect(page.get_by_test_id("raw")).to_have_text(token)
    expect(page.get_by_test_id("answer")).to_contain_text("HTTP 400")
    expect(page.get_by_test_id("answer")).to_contain_text("invalid_audience")
    expect(page.get_by_test_id("reason")).to_contain_text("another-receiver.example")
    screenshot("rejected-set")
