"""The SCIM service provider with the requests Okta and Microsoft Entra ID document sending.

Okta: developer.okta.com "SCIM 2.0 ... provisioning" (create with userName, deactivate with
PATCH replace {"active": false}, lookup GET ?filter=userName eq "..."&startIndex=1&count=100).
Entra: learn.microsoft.com "Tutorial: Develop a SCIM endpoint" (capitalised ops, externalId
filter, group member Add/Remove, `emails[type eq "work"].value`).
"""

import json

import pytest

from risk.models import DirectoryGroup, Entity, LogEvent, UserStatus

pytestmark = pytest.mark.django_db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

OKTA_CREATE = {
    "schemas": [USER],
    "userName": "john.doe@example.com",
    "name": {"givenName": "John", "familyName": "Doe"},
    "emails": [{"primary": True, "value": "john.doe@example.com", "type": "work"}],
    "displayName": "John Doe",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}
ENTRA_CREATE = {
    "schemas": [USER, ENTERPRISE],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com",
    "active": True,
    "emails": [{"primary": True, "type": "work", "value": "Test_User_fd0ea19b@contoso.com"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "givenName familyName", "familyName": "familyName",
             "givenName": "givenName"},
    "roles": [],
    ENTERPRISE: {"department": "Sales"},
}  # fmt: skip


def created(scim, body):
    response = scim.post("Users", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_okta_create_feeds_the_directory(scim):
    body = created(scim, OKTA_CREATE)
    entity = Entity.objects.get(pk=body["id"])
    assert (entity.login, entity.email, entity.first_name, entity.last_name) == (
        "john.doe@example.com", "john.doe@example.com", "John", "Doe",
    )  # fmt: skip
    assert entity.status == UserStatus.ACTIVE
    assert body["externalId"] == "00ujl29u0le5T6Aj10h7"
    assert body["meta"]["location"].endswith(f"/scim/v2/Users/{entity.id}")
    assert "password" not in body
    assert "1mz050nq" not in json.dumps(entity.scim.resource)
    log = LogEvent.objects.get(event_type="user.lifecycle.create")
    assert log.actor["type"] == "PublicClientApp"
    assert log.actor["displayName"] == "Okta"
    assert log.target_id == entity.id


def test_okta_lookup_filter_with_paging(scim):
    created(scim, OKTA_CREATE)
    response = scim.get(
        "Users", filter='userName eq "john.doe@example.com"', startIndex="1", count="100"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
    assert body["Resources"][0]["userName"] == "john.doe@example.com"
    # userName is caseExact=false (RFC 7643 §4.1.1); an unknown one is an empty list.
    assert scim.get("Users", filter='userName eq "JOHN.DOE@example.com"').json()["totalResults"]
    empty = scim.get("Users", filter='userName eq "nobody@example.com"').json()
    assert (empty["totalResults"], empty["Resources"]) == (0, [])


def test_okta_deactivate_with_patch_replace_active_false(scim):
    user_id = created(scim, OKTA_CREATE)["id"]
    response = scim.patch(
        f"Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    entity = Entity.objects.get(pk=user_id)
    assert entity.status == UserStatus.DEPROVISIONED
    assert LogEvent.objects.filter(event_type="user.lifecycle.deactivate").count() == 1
    # Okta sends the same PATCH again on a retry: nothing more happens.
    scim.patch(
        f"Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    assert LogEvent.objects.filter(event_type="user.lifecycle.deactivate").count() == 1
    reactivated = scim.patch(
        f"Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": True}}]},
    )
    assert reactivated.json()["active"] is True
    assert LogEvent.objects.filter(event_type="user.lifecycle.activate").count() == 1


def test_okta_put_replaces_the_profile(scim):
    user = created(scim, OKTA_CREATE)
    replacement = {**OKTA_CREATE, "id": user["id"], "name": {"givenName": "Johnny",
                   "familyName": "Doe"}, "displayName": "Johnny Doe"}  # fmt: skip
    response = scim.put(f"Users/{user['id']}", replacement)
    assert response.status_code == 200, response.content
    entity = Entity.objects.get(pk=user["id"])
    assert (entity.first_name, entity.display_name) == ("Johnny", "Johnny Doe")
    assert LogEvent.objects.filter(event_type="user.account.update_profile").count() == 1


def test_entra_create_filter_by_external_id_and_capitalised_ops(scim):
    user = created(scim, ENTRA_CREATE)
    assert user[ENTERPRISE]["department"] == "Sales"
    found = scim.get("Users", filter='externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')
    assert found.json()["totalResults"] == 1
    response = scim.patch(
        f"Users/{user['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Replace", "path": 'emails[type eq "work"].value',
                 "value": "updatedEmail@microsoft.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
                {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Marketing"},
                {"op": "Replace", "path": "active", "value": "False"},
            ],
        },
    )  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["emails"][0]["value"] == "updatedEmail@microsoft.com"
    assert body[ENTERPRISE]["department"] == "Marketing"
    entity = Entity.objects.get(pk=user["id"])
    assert (entity.email, entity.last_name) == ("updatedEmail@microsoft.com", "updatedFamilyName")
    assert entity.status == UserStatus.DEPROVISIONED
    # The old address no longer names the user; the new one does.
    keys = set(entity.identifiers.values_list("key", flat=True))
    assert "email:updatedemail@microsoft.com" in keys
    assert "email:test_user_fd0ea19b@contoso.com" not in keys


def test_entra_group_create_and_member_add_remove(scim):
    alice = created(scim, {**OKTA_CREATE})["id"]
    bob = created(scim, {**ENTRA_CREATE})["id"]
    response = scim.post(
        "Groups",
        {"schemas": [GROUP], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
         "displayName": "displayName", "meta": {"resourceType": "Group"}},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    group_id = response.json()["id"]
    found = scim.get("Groups", filter='displayName eq "displayName"', excludedAttributes="members")
    assert found.json()["totalResults"] == 1
    assert "members" not in found.json()["Resources"][0]
    add = scim.patch(
        f"Groups/{group_id}",
        {"schemas": [PATCH_OP],
         "Operations": [{"op": "Add", "path": "members", "value": [{"value": alice},
                                                                   {"value": bob}]}]},
    )  # fmt: skip
    assert add.status_code == 200, add.content
    group = DirectoryGroup.objects.get(pk=group_id)
    assert set(group.members.values_list("id", flat=True)) == {alice, bob}
    assert LogEvent.objects.filter(event_type="group.user_membership.add").count() == 2
    remove = scim.patch(
        f"Groups/{group_id}",
        {"schemas": [PATCH_OP],
         "Operations": [{"op": "Remove", "path": "members", "value": [{"value": alice}]}]},
    )  # fmt: skip
    assert remove.status_code == 200, remove.content
    assert list(group.members.values_list("id", flat=True)) == [bob]
    record = LogEvent.objects.get(event_type="group.user_membership.remove")
    assert [t["type"] for t in record.target] == ["User", "UserGroup"]
    # RFC 7644 §3.5.2.2 form: the member named in the path filter.
    scim.patch(
        f"Groups/{group_id}",
        {"schemas": [PATCH_OP],
         "Operations": [{"op": "remove", "path": f'members[value eq "{bob}"]'}]},
    )  # fmt: skip
    assert not group.members.exists()
    # The user's groups attribute is the same directory membership.
    scim.patch(
        f"Groups/{group_id}",
        {"schemas": [PATCH_OP],
         "Operations": [{"op": "add", "value": {"members": [{"value": bob}]}}]},
    )  # fmt: skip
    assert scim.get(f"Users/{bob}").json()["groups"][0]["value"] == group_id


def test_filters_on_emails_display_name_and_logic(scim):
    created(scim, OKTA_CREATE)
    created(scim, ENTRA_CREATE)
    total = lambda f: scim.get("Users", filter=f).json()["totalResults"]  # noqa: E731
    assert total('emails.value eq "john.doe@example.com"') == 1
    assert total('emails[value eq "john.doe@example.com"]') == 1
    assert total('displayName eq "John Doe"') == 1
    assert total('userName eq "john.doe@example.com" or externalId eq '
                 '"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"') == 2  # fmt: skip
    assert total('userName eq "john.doe@example.com" and externalId eq "nope"') == 0
    assert total('userName sw "john"') == 1


def test_paging_and_attributes(scim):
    for n in range(3):
        created(scim, {**OKTA_CREATE, "userName": f"u{n}@example.com", "emails": [],
                       "externalId": f"x{n}"})  # fmt: skip
    page = scim.get("Users", startIndex="2", count="1", attributes="userName").json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (3, 2, 1)
    assert set(page["Resources"][0]) == {"schemas", "id", "userName"}
    assert scim.get("Users", count="0").json()["Resources"] == []


@pytest.mark.parametrize(
    ("call", "status", "scim_type"),
    [
        (lambda s: s.get("Users", filter='userName eq "x'), 400, "invalidFilter"),
        (lambda s: s.get("Users", filter='title eq "x"'), 400, "invalidFilter"),
        (lambda s: s.post("Users", {"schemas": [USER]}), 400, "invalidValue"),
        (lambda s: s.post("Users", "{not json"), 400, "invalidSyntax"),
        (lambda s: s.post("Users", {"schemas": [USER], "userName": "a",
                                    "emails": [{"value": "not-an-email"}]}), 400, "invalidValue"),
        (lambda s: s.get("Users/00unknown"), 404, None),
        (lambda s: s.get("Groups/999999"), 404, None),
        (lambda s: s.patch("Users/00unknown", {"schemas": [PATCH_OP], "Operations": []}), 404,
         None),
    ],
)  # fmt: skip
def test_bad_requests_get_scim_errors(scim, call, status, scim_type):
    response = call(scim)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type


def test_taken_user_name_is_409_uniqueness_and_saves_nothing(scim):
    created(scim, OKTA_CREATE)
    again = scim.post("Users", {**OKTA_CREATE, "userName": "JOHN.DOE@example.com",
                                "externalId": "other"})  # fmt: skip
    assert again.status_code == 409
    assert again.json()["scimType"] == "uniqueness"
    assert Entity.objects.count() == 1


def test_patch_with_an_unknown_member_changes_nothing(scim):
    user_id = created(scim, OKTA_CREATE)["id"]
    group_id = scim.post("Groups", {"schemas": [GROUP], "displayName": "Eng",
                                    "members": [{"value": user_id}]}).json()["id"]  # fmt: skip
    response = scim.patch(
        f"Groups/{group_id}",
        {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "displayName", "value": "Engineering"},
            {"op": "add", "path": "members", "value": [{"value": "00uNoSuchUser"}]}]},
    )  # fmt: skip
    assert response.status_code == 400
    assert DirectoryGroup.objects.get(pk=group_id).name == "Eng"


def test_delete_user_then_404_and_the_log_stays(scim):
    user_id = created(scim, OKTA_CREATE)["id"]
    assert scim.delete(f"Users/{user_id}").status_code == 204
    assert scim.get(f"Users/{user_id}").status_code == 404
    types = list(LogEvent.objects.filter(target_id=user_id).values_list("event_type", flat=True))
    assert "user.lifecycle.delete.initiated" in types
    assert "user.lifecycle.deactivate" in types


def test_post_search_and_unknown_endpoints(scim):
    created(scim, OKTA_CREATE)
    search = scim.post(
        "Users/.search",
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
         "filter": 'userName eq "john.doe@example.com"', "attributes": ["userName"]},
    )  # fmt: skip
    assert search.status_code == 200, search.content
    assert search.json()["Resources"][0]["userName"] == "john.doe@example.com"
    assert "name" not in search.json()["Resources"][0]
    root = scim.post(
        ".search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    )
    assert (root.status_code, root.json()["schemas"]) == (501, [ERROR])
    unknown = scim.get("Devices")
    assert (unknown.status_code, unknown.json()["status"]) == (404, "404")


def test_discovery_endpoints(scim):
    config = scim.get("ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is False
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    schemas = {s["id"] for s in scim.get("Schemas").json()["Resources"]}
    assert {USER, GROUP, ENTERPRISE} <= schemas
    assert scim.get(f"Schemas/{USER}").json()["id"] == USER
    types = scim.get("ResourceTypes").json()["Resources"]
    assert {t["endpoint"] for t in types} == {"/Users", "/Groups"}
    assert scim.get("ResourceTypes/Group").json()["schema"] == GROUP


def test_console_users_appear_in_scim(scim):
    from risk.services.directory import entity_create

    entity = entity_create(login="csv@example.com", email="csv@example.com", first_name="C")
    body = scim.get("Users", filter='userName eq "csv@example.com"').json()
    assert body["Resources"][0]["id"] == entity.id
    assert body["Resources"][0]["emails"][0]["value"] == "csv@example.com"
