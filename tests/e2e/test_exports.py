"""Download CSV on the System Log, in a real headless Chromium: the filtered query's file."""

import csv

import pytest
from playwright.sync_api import expect

from common.audit import admin_actor
from risk.models import OutcomeResult
from risk.services.system_log import log_event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_download_csv_on_the_system_log_saves_the_filtered_records(
    page, sign_in, readonly_admin, live_server, tmp_path
):
    actor = admin_actor(name="rita")
    log_event(event_type="user.session.start", display_message="=1+2 signed in",
              actor=actor).save()  # fmt: skip
    log_event(event_type="user.session.start", display_message="wrong password", actor=actor,
              outcome=OutcomeResult.FAILURE, reason="INVALID_CREDENTIALS").save()  # fmt: skip
    sign_in("rita", "pw-rita-123")  # a read-only admin may export
    page.goto(live_server.url + "/reports/system-log/")
    page.select_option("#id_outcome", "FAILURE")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#log-rows")).not_to_contain_text("signed in")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename == "system-log.csv"
    path = tmp_path / "system-log.csv"
    download.save_as(path)
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(r["displayMessage"], r["outcome.result"], r["outcome.reason"]) for r in rows] == [
        ("wrong password", "FAILURE", "INVALID_CREDENTIALS")
    ]
    assert rows[0]["actor.alternateId"] == "rita"

    page.goto(live_server.url + "/reports/system-log/")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    info.value.save_as(path)
    with path.open(newline="", encoding="utf-8") as file:
        messages = [r["displayMessage"] for r in csv.DictReader(file)]
    assert {"'=1+2 signed in", "wrong password"} <= set(messages)  # and rita's own sign-in
