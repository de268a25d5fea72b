"""/api/v1/users and /api/v1/users/{id}/risk: Okta's user risk, set by hand and listed."""

import pytest

from risk.models import (
    Detection,
    DetectionState,
    EntityKind,
    LogEvent,
    RiskChange,
    RiskLevel,
    RiskSource,
)
from risk.services.directory import entity_create
from risk.services.entity_risk import entity_risk_set
from risk.services.processing import security_events_process_pending
from streams.vocabulary import OKTA, RISC
from tests.api.okta import assert_okta_error, next_link

pytestmark = pytest.mark.django_db
USERS = "/api/v1/users"


def risk_url(user) -> str:
    return f"{USERS}/{user.pk}/risk"


def test_risk_of_a_user_without_risk_is_none_without_reason(api, bob):
    body = api.get(risk_url(bob)).json()
    assert body == {
        "riskLevel": "NONE",
        "_links": {"self": {"href": f"http://testserver{risk_url(bob)}"},
                   "user": {"href": f"http://testserver{USERS}/{bob.pk}"}},
    }  # fmt: skip


def test_put_high_is_logged_as_a_risk_change_by_the_admin(api, bob, super_admin):
    response = api.put(risk_url(bob), {"riskLevel": "HIGH"}, format="json")
    assert response.status_code == 200
    assert response.json()["riskLevel"] == "HIGH"
    assert response.json()["reason"] == "Set to HIGH by sam"
    change = RiskChange.objects.get()
    assert (change.level, change.source, change.actor_name) == ("HIGH", RiskSource.ADMIN, "sam")
    record = LogEvent.objects.get(event_type="user.risk.change")
    assert record.actor == {"id": str(super_admin.pk), "type": "User", "alternateId": "sam",
                            "displayName": "sam"}  # fmt: skip
    assert record.target_id == bob.pk
    assert api.get(risk_url(bob)).json()["riskLevel"] == "HIGH"


def test_put_low_with_a_reason_then_the_same_level_again_changes_nothing(api, bob):
    api.put(risk_url(bob), {"riskLevel": "LOW", "reason": "Checked with the user"}, format="json")
    again = api.put(risk_url(bob), {"riskLevel": "LOW"}, format="json")
    assert again.status_code == 200
    assert again.json()["reason"] == "Checked with the user"
    assert RiskChange.objects.count() == 1


def test_risk_is_the_highest_active_detection_in_oktas_shape(api, bob, stream, transmitter, push):
    for uri, event in (
        (RISC + "credential-compromise", {"credential_type": "password",
                                           "reason_admin": {"en": "Found in a breach"}}),
        (OKTA + "user-risk-change", {"current_level": "low"}),
    ):  # fmt: skip
        token = transmitter.make_set(
            sub_id={"format": "email", "email": "bob@example.com"}, events={uri: event}
        )
        assert push(token).status_code == 202
    security_events_process_pending()
    assert api.get(risk_url(bob)).json() == {
        "riskLevel": "HIGH",
        "reason": "Found in a breach",
        "_links": {"self": {"href": f"http://testserver{risk_url(bob)}"},
                   "user": {"href": f"http://testserver{USERS}/{bob.pk}"}},
    }  # fmt: skip
    # PUT LOW is a review: the other detections are dismissed and the admin's LOW stays.
    api.put(risk_url(bob), {"riskLevel": "LOW", "reason": "Password reset"}, format="json")
    assert api.get(risk_url(bob)).json()["riskLevel"] == "LOW"
    states = Detection.objects.filter(entity=bob).values_list("kind", "state")
    assert sorted(states) == [
        ("ADMIN", DetectionState.ACTIVE),
        ("CREDENTIAL_COMPROMISE", DetectionState.DISMISSED),
        ("USER_RISK", DetectionState.DISMISSED),
    ]


@pytest.mark.parametrize(
    ("body", "cause"),
    [({"riskLevel": "MEDIUM"}, 'riskLevel: "MEDIUM" is not a valid choice.'),
     ({}, "riskLevel: This field is required."),
     ({"riskLevel": "HIGH", "reason": "x" * 501},
      "reason: Ensure this field has no more than 500 characters.")],
)  # fmt: skip
def test_put_accepts_only_high_or_low(api, bob, body, cause):
    assert assert_okta_error(api.put(risk_url(bob), body, format="json"), 400, "E0000001") == [
        cause
    ]
    assert not RiskChange.objects.exists()


def test_readonly_token_reads_risk_but_cannot_set_it(readonly_api, bob):
    assert readonly_api.get(risk_url(bob)).status_code == 200
    response = readonly_api.put(risk_url(bob), {"riskLevel": "HIGH"}, format="json")
    assert_okta_error(response, 403, "E0000006")
    assert not RiskChange.objects.exists()


@pytest.mark.parametrize("user_id", ["00uUnknown0000000000", "a%00", "device"])
def test_unknown_users_and_devices_are_404(api, user_id):
    if user_id == "device":
        user_id = entity_create(kind=EntityKind.DEVICE, display_name="Laptop").pk
    for response in (
        api.get(f"{USERS}/{user_id}/risk"),
        api.put(f"{USERS}/{user_id}/risk", {"riskLevel": "HIGH"}, format="json"),
        api.get(f"{USERS}/{user_id}"),
    ):
        assert_okta_error(response, 404, "E0000007")


def test_get_user(api, bob):
    body = api.get(f"{USERS}/{bob.pk}").json()
    assert body["profile"] == {"login": "bob@example.com", "email": "bob@example.com",
                               "firstName": "Bob", "lastName": "Builder",
                               "displayName": "Bob Builder"}  # fmt: skip
    assert body["riskLevel"] == "NONE"
    assert body["_links"]["risk"]["href"] == f"http://testserver{risk_url(bob)}"


@pytest.fixture
def directory(super_admin):
    """Four users, two of them at HIGH risk, and a device."""
    users = [entity_create(email=f"user{n}@example.com") for n in range(4)]
    for user in users[:2]:
        entity_risk_set(entity=user, level=RiskLevel.HIGH, actor=super_admin)
    entity_create(kind=EntityKind.DEVICE, display_name="Laptop")
    return users


def test_users_are_listable_by_risk_level_and_paginated(api, directory):
    high = api.get(USERS, {"filter": 'riskLevel eq "HIGH"', "limit": 1})
    first = high.json()
    second = api.get(next_link(high))
    assert {u["id"] for u in first + second.json()} == {u.pk for u in directory[:2]}
    assert next_link(second) is None
    everyone = api.get(USERS).json()
    assert [u["id"] for u in everyone] == sorted(u.pk for u in directory)
    assert next_link(api.get(USERS)) is None


@pytest.mark.parametrize(
    ("expression", "count"),
    [('riskLevel ne "HIGH"', 2), ('profile.email sw "user1"', 1),
     ('profile.login co "@example" and riskLevel eq "NONE"', 2)],
)  # fmt: skip
def test_user_filters(api, directory, expression, count):
    assert len(api.get(USERS, {"filter": expression}).json()) == count


def test_bad_user_filter_is_400(api):
    response = api.get(USERS, {"filter": 'riskLevel co "H"'})
    assert assert_okta_error(response, 400, "E0000031") == [
        "Invalid filter at position 10: riskLevel does not support 'co'; use eq, ne."
    ]
