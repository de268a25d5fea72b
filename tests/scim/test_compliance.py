"""The service against a live server: scim2-tester's RFC 7643/7644 checks, and scim2-client
driving a provisioning cycle (create, read, patch, deactivate, delete), over loopback HTTP."""

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import EnterpriseUser, PatchOp
from scim2_tester import check_server
from scim2_tester.utils import Status

from risk.models import Entity, LogEvent, UserStatus

pytestmark = pytest.mark.django_db(transaction=True)

# Statuses scim2-tester gives conforming behaviour (MUST, SHOULD and MAY respected).
PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE, Status.SKIPPED}
# Checks judged wrong for this service, by (check, attribute):
# - add/replace `members`: the check expects a member's `display` to come back as the client
#   wrote it. RFC 7643 §8.7.1 gives Group.members only value, $ref and type; `display` is the
#   provider's human-readable name of the member (§2.4), here the user's name in the directory.
# - remove `active`: the check expects `active` gone after a PATCH remove. RFC 7643 §4.1.1
#   leaves the definitive meaning of `active` to the service provider; here it is the user's
#   lifecycle (ACTIVE or DEPROVISIONED), which always has a value, so a remove leaves it as is.
JUDGED_WRONG = {
    ("check_add_attribute", "members"),
    ("check_replace_attribute", "members"),
    ("check_remove_attribute", "active"),
}


def _judged_wrong(result) -> bool:
    urn = result.data.get("urn") if isinstance(result.data, dict) else None
    return (result.title, urn) in JUDGED_WRONG


@pytest.fixture
def scim_http(live_server, scim_token):
    # live_server listens on localhost (loopback) only.
    with httpx2.Client(
        base_url=f"{live_server.url}/scim/v2",
        headers={"Authorization": f"Bearer {scim_token}"},
        timeout=30,
    ) as http:
        yield http


@pytest.mark.timeout(900)
def test_scim2_tester_finds_no_failure(scim_http):
    results = check_server(SyncSCIMClient(scim_http))
    failures = [f"{r.status.name} {r.title}: {r.data}" for r in results
                if r.status not in PASSING and not _judged_wrong(r)]  # fmt: skip
    assert len(results) > 100
    assert failures == []


@pytest.mark.timeout(300)
def test_scim2_client_provisioning_cycle(scim_http):
    client = SyncSCIMClient(scim_http)
    client.discover()
    user_model = client.get_resource_model("User")
    assert user_model is not None
    # The model scim2-client built from our /Schemas, fed what an IdP would send.
    created = client.create(
        user_model.model_validate(
            {"userName": "erin@example.com", "name": {"givenName": "Erin", "familyName": "Ex"},
             "emails": [{"value": "erin@example.com", "primary": True, "type": "work"}],
             "externalId": "ext-erin", "active": True}
        )
    )  # fmt: skip
    assert isinstance(created, user_model)
    entity = Entity.objects.get(pk=created.id)
    assert (entity.login, entity.first_name, entity.status) == (
        "erin@example.com", "Erin", UserStatus.ACTIVE,
    )  # fmt: skip
    read = client.query(user_model, created.id)
    assert read.user_name == "erin@example.com"
    assert read.external_id == "ext-erin"
    patch = PatchOp[user_model].model_validate(
        {"Operations": [
            {"op": "replace", "path": "displayName", "value": "Erin E."},
            {"op": "add", "path": f"{EnterpriseUser.__schema__}:department", "value": "Ops"},
        ]}
    )  # fmt: skip
    patched = client.modify(user_model, created.id, patch)
    assert patched.display_name == "Erin E."
    entity.refresh_from_db()
    assert entity.display_name == "Erin E."
    deactivate = PatchOp[user_model].model_validate(
        {"Operations": [{"op": "replace", "path": "active", "value": False}]}
    )
    assert client.modify(user_model, created.id, deactivate).active is False
    entity.refresh_from_db()
    assert entity.status == UserStatus.DEPROVISIONED
    client.delete(user_model, created.id)
    assert not Entity.objects.filter(pk=created.id).exists()
    assert list(
        LogEvent.objects.filter(target_id=created.id).order_by("id").values_list("event_type",
                                                                                  flat=True)
    ) == [
        "user.lifecycle.create", "user.account.update_profile", "user.lifecycle.deactivate",
        "user.lifecycle.delete.initiated",
    ]  # fmt: skip
