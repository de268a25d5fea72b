"""Helpers of the tests of streams managed at a transmitter: start one, add a stream by the form."""

from streams.models import DeliveryMethod, ManagementAuth
from streams.transmitter import SSFTransmitter
from streams.vocabulary import CAEP, OKTA
from tests.transmitter.wire import wait_for

__all__ = ["TOKEN", "add_managed_by_form", "start_transmitter", "wait_for"]

TOKEN = "tx-management-token"
ADD_URL = "/security/device-integrations/shared-signals/add/"


def start_transmitter(settings, **options) -> SSFTransmitter:
    options.setdefault("static_token", TOKEN)
    return SSFTransmitter(audience=settings.RECEIVER_AUDIENCE, **options).start()


def add_managed_by_form(client, tx, **extra):
    data = {
        "name": "Acme SSF",
        "config_method": "WELL_KNOWN_URL",
        "well_known_url": tx.well_known_url,
        "create_at_transmitter": "on",
        "delivery_method": DeliveryMethod.PUSH,
        "events_requested": [CAEP + "session-revoked", OKTA + "user-risk-change"],
        "auth_method": ManagementAuth.STATIC_TOKEN,
        "management_token": TOKEN,
        **extra,
    }
    return client.post(ADD_URL, data)
