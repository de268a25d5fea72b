"""From a pushed SET to the pages, in a real headless Chromium: receive event, risk change,
the policy's action, and the drill-down from the risk change to the SET behind it."""

import time

import pytest
import requests
from playwright.sync_api import expect

from risk.models import ActionStatus, PolicyAction
from risk.services.directory import entity_create
from risk.services.policy_config import policy_rule_save, workflow_create
from streams.vocabulary import OKTA
from tests.http_server import LocalHTTPServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
TRAIL = (
    "security.events.provider.receive_event",
    "user.risk.change",
    "policy.entity_risk.evaluate",
    "workflows.users.delegatedflow.run",
)


@pytest.fixture
def workflow_receiver():
    server = LocalHTTPServer().start()
    server.route("POST", "/hook", status=200)
    yield server
    server.stop()


def test_pushed_set_shows_up_as_risk_change_action_and_log(
    page, sign_in, super_admin, stream, transmitter, live_server, workflow_receiver
):
    alice = entity_create(email="alice@example.com", first_name="Alice", last_name="Liddell")
    workflow, _secret = workflow_create(name="Open ticket", url=workflow_receiver.url("/hook"))
    policy_rule_save(name="High risk", risk_level="HIGH", workflow=workflow)
    token = transmitter.make_set(
        events={OKTA + "user-risk-change": {"current_level": "high",
                                            "reason_admin": {"en": "Malware on laptop"}}}
    )  # fmt: skip
    started = time.monotonic()
    response = requests.post(
        live_server.url + "/security/api/v1/security-events",
        data=token,
        headers={"Content-Type": "application/secevent+jwt", "Accept": "application/json"},
        timeout=10,
    )
    assert response.status_code == 202
    # Eager Celery, as under `make run`: processing and the workflow ran before the 202.
    assert PolicyAction.objects.get().status == ActionStatus.SUCCEEDED
    assert time.monotonic() - started < 1.0
    assert len(workflow_receiver.requests_to("/hook")) == 1

    sign_in("sam", "pw-sam-123")
    page.goto(live_server.url + "/reports/entity-risk/")
    expect(page.get_by_test_id("high-detections")).to_have_text("1")
    expect(page.get_by_test_id("workflows")).to_have_text("1")
    page.get_by_role("link", name="Alice Liddell").click()
    expect(page.get_by_test_id("risk")).to_have_text("High")
    expect(page.locator("#history")).to_contain_text("Malware on laptop")
    expect(page.locator("#history")).to_contain_text("Open ticket")
    page.get_by_test_id("set-link").click()
    expect(page.get_by_test_id("claims")).to_contain_text("user-risk-change")

    page.goto(live_server.url + "/reports/system-log/?entity=" + alice.pk)
    for event_type in TRAIL:
        expect(page.locator(f"tr[data-event-type='{event_type}']").first).to_be_visible()
