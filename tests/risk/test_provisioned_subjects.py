"""SETs about people an IdP provisioned through SCIM: their userName, emails and externalId
name them; a deactivated (deprovisioned) person matches no active user."""

import pytest

from risk.mapping import OKTA
from risk.models import DirectoryGroup, Entity, LogEvent, RiskLevel
from risk.services.policy_config import policy_rule_save
from risk.services.system_log import POLICY_EVALUATE, RECEIVE_EVENT
from scim.services import scim_client_create

pytestmark = pytest.mark.django_db

USER_RISK = OKTA + "user-risk-change"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def provision(client):
    """POST a user to /scim/v2/Users as Okta sends it; returns the directory's entity."""
    _, token = scim_client_create(name="Okta")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def _provision(**attributes):
        body = {"schemas": [USER], "userName": "dana@example.com", "active": True,
                "emails": [{"value": "dana@example.com", "primary": True, "type": "work"},
                           {"value": "dana.alt@example.org", "type": "home"}],
                "externalId": "00u-okta-dana", **attributes}  # fmt: skip
        response = client.post("/scim/v2/Users", body, content_type="application/scim+json",
                               **headers)  # fmt: skip
        assert response.status_code == 201, response.content
        return Entity.objects.get(pk=response.json()["id"])

    def _deactivate(entity):
        body = {"schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "value": {"active": False}}]}  # fmt: skip
        response = client.patch(f"/scim/v2/Users/{entity.pk}", body,
                                content_type="application/scim+json", **headers)  # fmt: skip
        assert response.status_code == 200, response.content

    _provision.deactivate = _deactivate
    return _provision


@pytest.mark.parametrize(
    "sub_id",
    [
        {"format": "email", "email": "Dana@Example.com"},
        {"format": "email", "email": "dana.alt@example.org"},
        {"format": "opaque", "id": "00u-okta-dana"},
        {"format": "opaque", "id": "dana@example.com"},
    ],
)
def test_set_for_a_provisioned_user_changes_their_risk(provision, deliver, sub_id):
    dana = provision()
    deliver(USER_RISK, {"current_level": "high"}, sub_id=sub_id)
    dana.refresh_from_db()
    assert dana.risk_level == RiskLevel.HIGH
    assert LogEvent.objects.get(event_type=RECEIVE_EVENT).outcome_result == "SUCCESS"


def test_set_for_a_deprovisioned_user_matches_no_active_person(provision, deliver):
    dana = provision()
    provision.deactivate(dana)
    deliver(USER_RISK, {"current_level": "high"}, sub_id={"format": "email",
                                                         "email": "dana@example.com"})  # fmt: skip
    dana.refresh_from_db()
    assert dana.risk_level == RiskLevel.NONE
    log = LogEvent.objects.get(event_type=RECEIVE_EVENT)
    assert log.outcome_result == "FAILURE"
    assert log.outcome_reason == f"The subject matches no active user: {dana.pk} is deactivated"
    assert log.entity_id == dana.pk  # in their history, which stays readable


def test_a_scim_group_is_a_group_the_policy_includes(provision, deliver, client):
    dana = provision()
    _, token = scim_client_create(name="Entra")
    response = client.post(
        "/scim/v2/Groups",
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Finance",
         "members": [{"value": dana.pk}]},
        content_type="application/scim+json", HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    finance = DirectoryGroup.objects.get(pk=response.json()["id"])
    policy_rule_save(name="Finance", risk_level="ANY", groups_include=[finance], priority=1)
    deliver(USER_RISK, {"current_level": "high"}, sub_id={"format": "email",
                                                         "email": "dana@example.com"})  # fmt: skip
    record = LogEvent.objects.get(event_type=POLICY_EVALUATE)
    assert record.debug_data["RuleName"] == "Finance"
