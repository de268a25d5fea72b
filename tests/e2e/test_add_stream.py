"""Add stream in a real headless Chromium: progress while the transmitter is checked, Save
disabled meanwhile, errors at their fields, and the new stream's page at the end."""

import pytest
from playwright.sync_api import expect

from streams.models import Stream

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_save_shows_progress_is_disabled_then_the_new_streams_page(
    screenshot, page, sign_in, super_admin, transmitter
):
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Add stream").click()
    page.fill("#id_name", "Acme MDM")
    page.fill("#id_well_known_url", transmitter.well_known_url)
    # Hold the first submission in the page, so the state while the transmitter is checked can
    # be read (Playwright waits for a navigation under way before it reads anything).
    page.evaluate(
        """() => document.getElementById("stream-form").addEventListener(
            "submit", (event) => event.preventDefault(), {once: true})"""
    )
    page.get_by_role("button", name="Save").click()
    busy = page.get_by_role("button", name="Checking the transmitter…")
    expect(busy).to_be_disabled()
    expect(page.get_by_role("status")).to_have_text(
        "Checking the transmitter's metadata and keys; this can take a few seconds."
    )
    screenshot("add-checking")
    busy.click(force=True)  # a second click sends nothing while disabled
    assert not Stream.objects.exists()
    page.evaluate("""() => document.getElementById("stream-form").submit()""")

    stream_page = page.get_by_role("heading", name="Acme MDM")
    expect(stream_page).to_be_visible()
    stream = Stream.objects.get()
    assert page.url.endswith(f"/shared-signals/{stream.pk}/")
    expect(page.get_by_test_id("push-endpoint")).to_be_visible()  # the values to give


def test_url_errors_are_shown_at_their_field(screenshot, page, sign_in, super_admin, transmitter):
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Add stream").click()
    page.fill("#id_name", "Acme MDM")
    page.fill("#id_well_known_url", "transmitter.example/.well-known/ssf-configuration")
    page.get_by_role("button", name="Save").click()
    field = page.locator(".method[data-method=WELL_KNOWN_URL]")
    expect(field.locator(".field-error")).to_have_text("Enter a valid URL.")
    expect(page.get_by_role("button", name="Save")).to_be_enabled()
    screenshot("add-field-error")

    page.get_by_label("Issuer URL + JWKS URL").check()
    page.fill("#id_issuer", "netskope")  # an identifier: no URL rules
    page.fill("#id_jwks_url", "ftp://127.0.0.1/jwks.json")
    page.get_by_role("button", name="Save").click()
    jwks = page.locator(".method[data-method=ISSUER_AND_JWKS_URL]")
    expect(jwks.locator(".field-error")).to_have_text("This URL must use https.")
    assert not Stream.objects.exists()
