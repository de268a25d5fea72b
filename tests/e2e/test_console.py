"""The console in a real headless Chromium: an admin's first hour with streams."""

import pytest
from playwright.sync_api import expect

from streams.models import Stream

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def row(page, name):
    return page.locator(f"tr[data-stream-name='{name}']")


def choose_action(page, name, action):
    row(page, name).locator("summary", has_text="Actions").click()
    row(page, name).get_by_role("button", name=action).click()


def test_add_deactivate_activate_remove_a_stream(page, sign_in, super_admin, transmitter):
    sign_in("sam", "pw-sam-123")
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    page.get_by_role("link", name="Add stream").click()
    page.fill("#id_name", "Acme MDM")
    expect(page.locator("#id_issuer")).to_be_hidden()  # only the chosen method's fields show
    page.fill("#id_well_known_url", transmitter.well_known_url)
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("It is Active")
    expect(page.get_by_role("heading", name="Acme MDM")).to_be_visible()  # its own page
    page.get_by_role("link", name="Device Integrations").click()
    expect(row(page, "Acme MDM").get_by_test_id("status")).to_have_text("Active")

    row(page, "Acme MDM").locator("summary", has_text="Actions").click()
    row(page, "Acme MDM").get_by_role("link", name="Deactivate").click()
    page.get_by_role("button", name="Deactivate").click()
    expect(row(page, "Acme MDM").get_by_test_id("status")).to_have_text("Inactive")
    assert Stream.objects.get().status == "INACTIVE"

    choose_action(page, "Acme MDM", "Activate")
    expect(row(page, "Acme MDM").get_by_test_id("status")).to_have_text("Active")

    row(page, "Acme MDM").locator("summary", has_text="Actions").click()
    row(page, "Acme MDM").get_by_role("link", name="Remove").click()
    expect(page.get_by_role("heading", name="Remove stream Acme MDM?")).to_be_visible()
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    assert not Stream.objects.exists()


def test_add_by_issuer_and_jwks_url(page, sign_in, super_admin, transmitter):
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Add stream").click()
    page.fill("#id_name", "Netskope")
    page.get_by_label("Issuer URL + JWKS URL").check()
    expect(page.locator("#id_well_known_url")).to_be_hidden()
    page.fill("#id_issuer", "https://netskope.example")
    page.fill("#id_jwks_url", transmitter.jwks_url)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".toolbar").get_by_test_id("status")).to_have_text("Active")


def test_bad_url_says_what_failed_and_saves_nothing(page, sign_in, super_admin, transmitter):
    transmitter.publish_metadata({"issuer": "https://elsewhere.example", "jwks_uri": "x"})
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Add stream").click()
    page.fill("#id_name", "Acme MDM")
    page.fill("#id_well_known_url", transmitter.well_known_url)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Issuer mismatch")
    expect(page.get_by_role("alert")).to_contain_text("Check the URL and add the stream again.")
    assert not Stream.objects.exists()


def test_readonly_admin_sees_streams_but_no_actions(page, sign_in, readonly_admin, stream):
    sign_in("rita", "pw-rita-123")
    expect(page.get_by_test_id("role")).to_have_text("Read-only admin")
    expect(row(page, "Acme MDM").get_by_test_id("status")).to_have_text("Active")
    expect(page.get_by_role("link", name="Add stream")).to_have_count(0)
    expect(row(page, "Acme MDM").locator("summary")).to_have_count(0)
