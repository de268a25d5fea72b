"""/api/v1/users and /api/v1/users/{id}/risk: Okta's user risk, set by hand and listed."""

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from risk.models import (
    Detection,
    DetectionState,
    Entity,
    EntityKind,
    LogEvent,
    RiskChange,
    RiskLevel,
    RiskSource,
)
from risk.selectors import log_cursor
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
                               "displayName": None}  # fmt: skip
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
        "Invalid filter at position 10: riskLevel does not support 'co'; use eq, ne, pr."
    ]


# --- Okta's Users API: create, update, lifecycle, delete --------------------------------------

ISAAC_EMAIL = "isaac.brock@example.com"
ISAAC = {"profile": {"firstName": "Isaac", "lastName": "Brock", "email": ISAAC_EMAIL,
                     "login": ISAAC_EMAIL, "mobilePhone": "555-415-1337"}}  # fmt: skip


def test_create_is_oktas_200_active_user_in_the_console_directory(api, super_admin):
    response = api.post(USERS, ISAAC, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ACTIVE"
    assert body["activated"]
    assert body["created"]
    assert body["lastUpdated"]
    assert body["statusChanged"] is None
    assert body["profile"] == {"login": ISAAC_EMAIL, "email": ISAAC_EMAIL, "firstName": "Isaac",
                               "lastName": "Brock", "displayName": None}  # fmt: skip
    assert body["_links"]["deactivate"]["href"].endswith(
        f"/users/{body['id']}/lifecycle/deactivate"
    )
    entity = Entity.objects.get(pk=body["id"])
    assert entity.identifiers.filter(key="email:isaac.brock@example.com").exists()  # SETs match it
    record = LogEvent.objects.get(event_type="user.lifecycle.create")
    assert (record.actor["alternateId"], record.target_id) == ("sam", entity.pk)


def test_create_with_activate_false_is_staged_and_activation_is_once(api):
    user = api.post(f"{USERS}?activate=false", ISAAC, format="json").json()
    assert (user["status"], user["activated"]) == ("STAGED", None)
    assert "activate" in user["_links"]
    activate = f"{USERS}/{user['id']}/lifecycle/activate"
    assert api.post(activate).json() == {}
    assert api.get(f"{USERS}/{user['id']}").json()["status"] == "ACTIVE"
    again = api.post(activate)
    assert assert_okta_error(again, 403, "E0000016") == []
    assert again.json()["errorSummary"] == "Activation failed because the user is already active"


@pytest.mark.parametrize(
    ("profile", "summary", "causes"),
    [({}, "Api validation failed: login, email",
      ["login: The field cannot be left blank", "email: The field cannot be left blank"]),
     ({"login": "isaac@example.com", "email": "not-an-email"}, "Api validation failed: email",
      ["email: Does not match required pattern"]),
     ({"login": "isaac@example.com", "email": "isaac@example.com", "firstName": ""},
      "Api validation failed: firstName", ["firstName: The field cannot be left blank"]),
     ({"login": "isaac@example.com", "email": "isaac@example.com", "lastName": "x" * 51},
      "Api validation failed: lastName",
      ["lastName: Ensure this field has no more than 50 characters."])],
)  # fmt: skip
def test_create_with_bad_profile_is_e0000001_naming_the_attribute(api, profile, summary, causes):
    response = api.post(USERS, {"profile": profile}, format="json")
    assert assert_okta_error(response, 400, "E0000001") == causes
    assert response.json()["errorSummary"] == summary
    assert not Entity.objects.exists()


def test_create_with_a_taken_login_or_email_is_refused(api, bob):
    taken = api.post(USERS, {"profile": {"login": bob.login, "email": "other@example.com"}},
                     format="json")  # fmt: skip
    assert assert_okta_error(taken, 400, "E0000001") == [
        "login: An object with this field already exists in the current organization"
    ]
    same_email = api.post(USERS, {"profile": {"login": "bobby@example.com", "email": bob.email}},
                          format="json")  # fmt: skip
    assert assert_okta_error(same_email, 400, "E0000001") == [
        "email: Another entity is already named by email:bob@example.com."
    ]
    assert Entity.objects.count() == 1


def test_a_user_is_read_by_id_or_login(api, bob):
    assert api.get(f"{USERS}/{bob.login}").json()["id"] == bob.pk
    assert_okta_error(api.get(f"{USERS}/nobody@example.com"), 404, "E0000007")


def test_post_updates_part_of_the_profile_and_put_replaces_it(api, bob):
    partial = api.post(f"{USERS}/{bob.pk}", {"profile": {"firstName": "Robert",
                                                         "email": "robert@example.com"}},
                       format="json")  # fmt: skip
    assert partial.status_code == 200
    assert partial.json()["profile"] == {"login": "bob@example.com", "email": "robert@example.com",
                                         "firstName": "Robert", "lastName": "Builder",
                                         "displayName": None}  # fmt: skip
    assert list(bob.identifiers.values_list("key", flat=True)) == ["email:robert@example.com"]
    replaced = api.put(f"{USERS}/{bob.pk}", {"profile": {"login": "rob@example.com",
                                                         "email": "rob@example.com"}},
                       format="json")  # fmt: skip
    assert replaced.json()["profile"] == {"login": "rob@example.com", "email": "rob@example.com",
                                          "firstName": None, "lastName": None,
                                          "displayName": None}  # fmt: skip
    bad = api.put(f"{USERS}/{bob.pk}", {"profile": {"firstName": "Only"}}, format="json")
    assert assert_okta_error(bad, 400, "E0000001") == [
        "login: The field cannot be left blank",
        "email: The field cannot be left blank",
    ]
    assert LogEvent.objects.filter(event_type="user.account.update_profile").count() == 2


def test_delete_deactivates_first_then_deletes_and_history_stays_readable(api, bob, super_admin):
    entity_risk_set(entity=bob, level=RiskLevel.HIGH, actor=super_admin)
    assert api.delete(f"{USERS}/{bob.pk}").status_code == 204
    bob.refresh_from_db()
    assert bob.status == "DEPROVISIONED"
    assert bob.status_changed_at
    assert api.get(risk_url(bob)).json()["riskLevel"] == "HIGH"  # risk history stays readable
    assert RiskChange.objects.filter(entity=bob).exists()
    assert bob.pk not in [u["id"] for u in api.get(USERS).json()]  # as Okta's plain list
    assert [u["id"] for u in api.get(USERS, {"filter": 'status eq "DEPROVISIONED"'}).json()] == [
        bob.pk
    ]
    assert api.post(f"{USERS}/{bob.pk}/lifecycle/deactivate").status_code == 200  # stays so
    assert api.delete(f"{USERS}/{bob.pk}").status_code == 204
    assert not Entity.objects.filter(pk=bob.pk).exists()
    assert LogEvent.objects.filter(event_type="user.lifecycle.delete.initiated").exists()
    assert_okta_error(api.delete(f"{USERS}/{bob.pk}"), 404, "E0000007")


def test_a_deactivated_user_is_activated_again(api, bob):
    api.post(f"{USERS}/{bob.pk}/lifecycle/deactivate")
    assert api.post(f"{USERS}/{bob.pk}/lifecycle/activate").status_code == 200
    assert api.get(f"{USERS}/{bob.pk}").json()["status"] == "ACTIVE"


def test_readonly_token_cannot_create_update_or_delete(readonly_api, bob):
    for response in (readonly_api.post(USERS, ISAAC, format="json"),
                     readonly_api.post(f"{USERS}/{bob.pk}", {"profile": {}}, format="json"),
                     readonly_api.delete(f"{USERS}/{bob.pk}"),
                     readonly_api.post(f"{USERS}/{bob.pk}/lifecycle/deactivate")):  # fmt: skip
        assert_okta_error(response, 403, "E0000006")
    bob.refresh_from_db()
    assert bob.status == "ACTIVE"


# --- Listing: search, q, filter, sort, cursors --------------------------------------------------


@pytest.fixture
def people(db):
    names = [("Ann", "Smith"), ("ann", "Jones"), ("Bo", "Smithers"), ("", ""), ("Cy", "Annis")]
    return [entity_create(email=f"p{n}@example.com", first_name=first, last_name=last)
            for n, (first, last) in enumerate(names)]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "expected"),
    [({"q": "ann"}, [0, 1, 4]),
     ({"q": "p3@"}, [3]),
     ({"search": 'profile.firstName eq "ANN"'}, [0, 1]),
     ({"search": 'profile.lastName sw "smith" and not (profile.firstName eq "bo")'}, [0]),
     ({"search": "profile.firstName pr"}, [0, 1, 2, 4]),
     ({"search": 'status eq "ACTIVE" and created gt "2000-01-01T00:00:00.000Z"'}, [0, 1, 2, 3, 4]),
     ({"search": '(status lt "ACTIVE" or status gt "ACTIVE")'}, []),
     ({"filter": 'profile.firstName eq "ann"'}, [1]),
     ({"filter": 'profile.email eq "p2@example.com" or profile.email sw "p4@"'}, [2, 4])],
)  # fmt: skip
def test_search_q_and_filter_select_users(api, people, params, expected):
    found = {u["id"] for u in api.get(USERS, params).json()}
    assert found == {people[n].pk for n in expected}


def test_sort_by_a_profile_attribute_pages_in_that_order(api, people):
    query = {"search": "profile.lastName pr", "sortBy": "profile.lastName", "sortOrder": "desc",
             "limit": 2}  # fmt: skip
    first = api.get(USERS, query)
    second = api.get(next_link(first))
    names = [u["profile"]["lastName"] for u in first.json() + second.json()]
    assert names == ["Smithers", "Smith", "Jones", "Annis"]
    assert next_link(second) is None


def test_user_with_no_names_has_null_names_not_empty_strings(api, people):
    profile = api.get(f"{USERS}/{people[3].pk}").json()["profile"]
    assert (profile["firstName"], profile["lastName"]) == (None, None)


def test_link_header_is_written_as_okta_writes_it(api, people):
    response = api.get(USERS, {"limit": 2, "search": 'status eq "ACTIVE"'})
    self_link, next_part = response["Link"].split(", ")
    assert self_link == ('<http://testserver/api/v1/users?limit=2&search=status+eq+%22ACTIVE%22>'
                         '; rel="self"')  # fmt: skip
    assert re.fullmatch(r'<http://testserver/api/v1/users\?after=[\w.-]+&limit=2&search=status'
                        r'\+eq\+%22ACTIVE%22>; rel="next"', next_part)  # fmt: skip
    second = api.get(next_link(response))
    assert second["Link"].split(", ")[0] == next_part.replace('rel="next"', 'rel="self"')


def test_every_user_cursor_is_checked(api, people):
    first = api.get(USERS, {"limit": 2})
    after = parse_qs(urlparse(next_link(first)).query)["after"][0]
    other_order = api.get(USERS, {"limit": 2, "after": after, "sortBy": "profile.lastName"})
    for response in (
        api.get(USERS, {"after": people[0].pk}),  # a bare id, as Okta's own cursors look
        api.get(USERS, {"after": after[:-2] + "xx"}),
        api.get(USERS, {"after": log_cursor(published=timezone.now())}),
        other_order,
    ):
        assert assert_okta_error(response, 400, "E0000001") == [
            "after: The pagination cursor is not valid."
        ]
    assert len(api.get(USERS, {"after": after}).json()) == 3
