"""Sign-in records reach the System Log once, with the admin (or the login typed) as actor."""

import uuid

import pytest

from risk.models import LogEvent
from risk.tasks import record_admin_sign_in

pytestmark = pytest.mark.django_db


def test_record_task_run_twice_records_once(super_admin):
    record_id = str(uuid.uuid4())
    for _ in range(2):
        record_admin_sign_in(record_id, "user.session.start", super_admin.pk, "sam", "SUCCESS",
                             "", {"authnMethod": "PASSWORD"})  # fmt: skip

    event = LogEvent.objects.get()
    assert event.actor["alternateId"] == "sam"
    assert event.actor["type"] == "User"
    assert event.display_message == "User login to the console"
    assert event.debug_data == {"authnMethod": "PASSWORD"}


def test_unknown_username_is_the_actor_of_a_failure():
    record_admin_sign_in(str(uuid.uuid4()), "user.session.start", None, "mallory", "FAILURE",
                         "INVALID_CREDENTIALS", {})  # fmt: skip

    event = LogEvent.objects.get()
    assert (event.actor["alternateId"], event.actor["displayName"]) == ("mallory", "Unknown")
    assert (event.outcome_result, event.outcome_reason) == ("FAILURE", "INVALID_CREDENTIALS")
    assert event.severity == "WARN"
