"""The Content-Security-Policy in a real Chromium: the console's main pages, an htmx swap and the
API reference's Swagger UI run with it and raise no violation (README "Security")."""

import pytest
import requests
from django.urls import reverse
from playwright.sync_api import expect

from risk.models import Entity, RiskChange
from risk.services.directory import entity_create
from risk.services.policy_config import connected_app_create, workflow_create
from streams.vocabulary import OKTA

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
# Added by Playwright before any script of the page (outside the page's policy).
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(
    `${event.effectiveDirective} ${event.blockedURI || "inline"} ` +
      `${event.sourceFile}:${event.lineNumber}`
  );
});
"""


@pytest.fixture
def csp_errors(page):
    """Every CSP report of the page: violation events and Chromium's console errors."""
    page.context.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    def _errors() -> list[str]:
        page.wait_for_load_state("networkidle")
        return console + page.evaluate("window.cspViolations || []")

    return _errors


@pytest.fixture
def risky_alice(stream, transmitter, live_server):
    """Alice at high risk from a SET pushed to the live server (eager Celery processed it)."""
    alice = entity_create(email="alice@example.com", first_name="Alice", last_name="Liddell")
    token = transmitter.make_set(
        events={OKTA + "user-risk-change": {"current_level": "high"}},
        sub_id={"format": "email", "email": "alice@example.com"},
    )
    response = requests.post(
        live_server.url + reverse("events:security_event_push"),
        data=token,
        headers={"Content-Type": "application/secevent+jwt", "Accept": "application/json"},
        timeout=10,
    )
    assert response.status_code == 202
    workflow_create(name="Ticket", url="https://hooks.example/abc")
    connected_app_create(name="Slack", revocation_endpoint="https://s.example/r", token="t")
    return Entity.objects.get(pk=alice.pk)


def test_console_pages_run_under_the_policy(
    page, csp_errors, sign_in, super_admin, stream, risky_alice, live_server
):
    page.goto(live_server.url + reverse("login"))
    assert csp_errors() == []
    sign_in("sam", "pw-sam-123")
    event = RiskChange.objects.get().security_event
    pages = [
        reverse("streams:stream_list"),
        reverse("streams:stream_add"),
        reverse("risk:policy"),
        reverse("risk:connected_app_list"),
        reverse("risk:workflow_list"),
        reverse("risk:entity_risk_report"),
        reverse("risk:entity_detail", args=[risky_alice.pk]),
        reverse("risk:system_log"),
        reverse("risk:entity_list"),
        reverse("events:security_event_detail", args=[event.pk]),
        reverse("common:api_token_list"),
        reverse("identity:mfa_manage"),
        reverse("identity:totp_setup"),
    ]
    for path in pages:
        page.goto(live_server.url + path)
        assert csp_errors() == [], path
        # htmx's indicator rule comes from console.css, not from a <style> it injects.
        assert page.locator("style").count() == 0, path

    # htmx loads the stream's SETs into its page (a swap under the policy).
    page.goto(live_server.url + reverse("streams:stream_detail", args=[stream.pk]))
    expect(page.locator("a[href*='/security/events/']").first).to_be_visible()
    assert csp_errors() == []

    # The watch works: an inline style, had one slipped in, is refused and reported.
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    assert any("style-src" in error for error in csp_errors())


def test_pages_look_as_they_did_with_inline_styles(
    page, csp_errors, sign_in, super_admin, risky_alice, live_server
):
    sign_in("sam", "pw-sam-123")
    page.goto(live_server.url + reverse("risk:entity_risk_report"))
    # Chart.js draws under the policy (it styles its canvas through the CSSOM, not attributes).
    figure = page.locator("figure:has(#detections-over-time)")
    expect(figure).to_have_class("chart-figure drawn")
    assert page.locator("#detections-over-time").bounding_box()["height"] == 220
    page.goto(live_server.url + reverse("risk:policy"))
    assert page.evaluate("getComputedStyle(document.querySelector('h2.section')).marginTop") == (
        "24px"
    )
    event = RiskChange.objects.get().security_event
    page.goto(live_server.url + reverse("events:security_event_detail", args=[event.pk]))
    assert page.evaluate("getComputedStyle(document.querySelector('pre.wrap')).whiteSpace") == (
        "pre-wrap"
    )
    assert csp_errors() == []


def test_api_reference_runs_under_the_policy(page, csp_errors, sign_in, super_admin, live_server):
    sign_in("sam", "pw-sam-123")
    page.goto(live_server.url + reverse("api:docs"))
    operation = page.locator(".opblock-summary").first
    # Swagger UI builds the page from the schema, which takes a while to generate.
    expect(operation).to_be_visible(timeout=30_000)
    operation.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert csp_errors() == []
