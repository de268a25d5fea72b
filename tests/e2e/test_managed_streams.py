"""A stream we manage, in a real headless Chromium: one push endpoint, and Rotate secret installs
the new secret at the transmitter, which goes on pushing with it."""

import pytest
from playwright.sync_api import expect

from events.models import SecurityEvent
from streams.models import Stream, push_secret_hash
from tests.transmitter.wire import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_one_push_endpoint_and_rotate_installs_the_secret_at_the_transmitter(
    screenshot, page, sign_in, super_admin, managed_stream, ssf_transmitter, live_server
):
    old_secret = ssf_transmitter.stream["delivery"]["authorization_header"]
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Acme SSF").click()
    own = f"{live_server.url}/security/api/v1/security-events/{managed_stream.pk}"
    expect(page.get_by_test_id("push-endpoint")).to_have_count(1)
    expect(page.get_by_test_id("push-endpoint")).to_have_text(own)
    expect(page.get_by_text("for transmitters configured by hand")).to_have_count(0)
    assert page.content().count("/security/api/v1/security-events") == 1

    page.get_by_role("button", name="Rotate secret at the transmitter").click()
    expect(page.get_by_role("status")).to_contain_text("installed at the transmitter")
    new_secret = ssf_transmitter.stream["delivery"]["authorization_header"]
    assert new_secret != old_secret
    assert Stream.objects.get().push_authorization_hash == push_secret_hash(new_secret)
    expect(page.locator("#changes")).to_contain_text("Push authorization secret generated")
    screenshot("managed-rotated")

    ssf_transmitter.send("session-revoked")
    wait_for(SecurityEvent.objects.exists)
    assert ssf_transmitter.push_results[-1].status == 202


def test_rotate_refused_by_the_transmitter_says_so_and_keeps_the_secret(
    page, sign_in, super_admin, managed_stream, ssf_transmitter
):
    from streams.models import StreamManagement

    before = Stream.objects.get().push_authorization_hash
    StreamManagement.objects.update(remote_stream_id="not-there")  # the PUT gets a 404
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Acme SSF").click()
    page.get_by_role("button", name="Rotate secret at the transmitter").click()
    expect(page.get_by_role("status")).to_contain_text(
        "The transmitter did not take a new secret, so it was not rotated"
    )
    assert Stream.objects.get().push_authorization_hash == before


def test_a_stream_configured_by_hand_shows_the_generic_endpoint(
    page, sign_in, super_admin, stream, settings
):
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Acme MDM").click()
    expect(page.get_by_text("for transmitters configured by hand")).to_be_visible()
    expect(page.get_by_test_id("push-endpoint")).to_have_text(
        settings.SITE_URL + "/security/api/v1/security-events"
    )
