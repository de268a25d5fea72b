"""Sign-in records reach the System Log through the one audit writer, with the admin (or the
login typed) as actor."""

import uuid

import pytest

from common.audit import ChangeRecord, admin_actor, audit_record
from common.sign_in_log import sign_in_log
from risk.models import LogEvent

pytestmark = pytest.mark.django_db


def test_a_record_saved_twice_is_saved_once(super_admin):
    record = ChangeRecord(
        event_type="user.session.start",
        actor=admin_actor(user=super_admin),
        uuid=str(uuid.uuid4()),
        debug_data={"authnMethod": "PASSWORD"},
    )
    for _ in range(2):
        audit_record(record)

    event = LogEvent.objects.get()
    assert event.actor["alternateId"] == "sam"
    assert event.actor["type"] == "User"
    assert event.display_message == "User login to the console"
    assert event.debug_data == {"authnMethod": "PASSWORD"}


def test_unknown_username_is_the_actor_of_a_failure():
    sign_in_log("user.session.start", username="mallory", outcome="FAILURE",
                reason="INVALID_CREDENTIALS")  # fmt: skip

    event = LogEvent.objects.get()
    assert (event.actor["alternateId"], event.actor["displayName"]) == ("mallory", "Unknown")
    assert (event.outcome_result, event.outcome_reason) == ("FAILURE", "INVALID_CREDENTIALS")
    assert event.severity == "WARN"


def test_an_unknown_username_no_database_can_hold_is_logged_escaped():
    sign_in_log("user.session.start", username="ad\x00min", outcome="FAILURE")

    assert LogEvent.objects.get().actor["alternateId"] == "ad\\x00min"
