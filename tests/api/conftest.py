"""API fixtures: tokens for both roles and clients that send them as Okta clients do."""

import pytest
from rest_framework.test import APIClient

from common.services import api_token_create
from risk.models import LogEvent
from risk.services.directory import entity_create
from risk.services.system_log import log_event, system_actor


def _token(user, name: str) -> str:
    # The System Log tests count records: the setup's system.api_token.create is not theirs.
    secret = api_token_create(user=user, name=name)[1]
    LogEvent.objects.filter(event_type="system.api_token.create").delete()
    return secret


@pytest.fixture
def super_token(super_admin) -> str:
    return _token(super_admin, "Terraform")


@pytest.fixture
def readonly_token(readonly_admin) -> str:
    return _token(readonly_admin, "Reporting")


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"SSWS {token}")
    return client


@pytest.fixture
def api(super_token) -> APIClient:
    """A Super admin's token, sent as `Authorization: SSWS <token>`."""
    return _client(super_token)


@pytest.fixture
def readonly_api(readonly_token) -> APIClient:
    return _client(readonly_token)


@pytest.fixture
def bob(db):
    """A directory user with no risk yet."""
    return entity_create(email="bob@example.com", first_name="Bob", last_name="Builder")


@pytest.fixture
def make_log(db):
    """Save one System Log record (event type, target, time...) as the risk services do."""

    def _make_log(event_type="user.risk.change", *, target_id="00uTarget", **fields):
        target = [{"id": target_id, "type": "User", "alternateId": "x@example.com",
                   "displayName": "X"}]  # fmt: skip
        record = log_event(
            event_type=event_type,
            display_message=fields.pop("display_message", f"{event_type} happened"),
            actor=fields.pop("actor", system_actor()),
            target=target,
            **fields,
        )
        record.save()
        return record

    return _make_log
