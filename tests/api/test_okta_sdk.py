"""The official Okta Python SDK (okta 3.x from PyPI), unchanged, against a live server.

The SDK refuses an orgUrl that is not https (unless its `testing.testingDisableHttpsCheck` is
set), so the live server speaks TLS with a certificate from the throwaway CA of tests/tls.py:
the SDK is tested as it is used, over TLS with its checks on. It trusts that CA through its own
`httpClient` extension point (its HTTPClient with an SSL context): its `sslContext` setting
cannot be used, okta 3.4 deep-copies its configuration and an SSLContext cannot be copied.
Every other setting is the SDK's default (SSWS API token, retries and rate-limit handling, its
aiohttp client).
Netskope's plugin is played by `requests` with its exact Link-header handling.
"""

import asyncio
import re
import ssl
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.test.testcases import LiveServerThread
from django.utils import timezone
from okta.client import Client as OktaClient
from okta.http_client import HTTPClient
from okta.models import (
    CreateUserRequest,
    LogEvent,
    SecurityEventsProviderRequest,
    SecurityEventsProviderRequestSettings,
    SecurityEventsProviderResponse,
    SecurityEventsProviderSettingsSSFCompliant,
    UpdateUserRequest,
    User,
    UserProfile,
    UserRiskRequest,
)
from okta.pagination import PaginationHelper, paginate_all

from risk.models import Entity, EntityKind, UserStatus, new_entity_id
from risk.services.directory import entity_create
from streams.models import Stream
from tests.tls import CertificateAuthority

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The SDK's HTTPClient hands aiohttp its SSL context under the old argument name.
    pytest.mark.filterwarnings("ignore:ssl_context is deprecated:DeprecationWarning"),
]
HOST = "localhost"  # resolves to loopback; the certificate is issued for it
USERS_IN_DIRECTORY = 205  # more than one page of Okta's 200


class _HttpsHandler(WSGIRequestHandler):
    """Tells Django the request came over TLS, so the links it writes are https."""

    def get_environ(self):
        return {**super().get_environ(), "HTTPS": "on"}

    def log_message(self, *args):
        pass


class _TlsLiveServerThread(LiveServerThread):
    def __init__(self, context: ssl.SSLContext):
        super().__init__("127.0.0.1", static_handler=_no_static)
        self.context = context

    def _create_server(self, connections_override=None):
        server = ThreadedWSGIServer(
            (self.host, self.port),
            _HttpsHandler,
            allow_reuse_address=False,
            connections_override=connections_override,
        )
        server.socket = self.context.wrap_socket(server.socket, server_side=True)
        return server


def _no_static(application):
    return application


@pytest.fixture
def okta_org(tmp_path, super_token, settings):
    """The receiver served over TLS at https://localhost:<port>, and an SDK client for it."""
    settings.API_RATE_LIMIT_PER_MINUTE = 10_000
    authority = CertificateAuthority(tmp_path)
    certificate, key = authority.issue(HOST)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certificate, key)
    thread = _TlsLiveServerThread(server_context)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    org_url = f"https://{HOST}:{thread.port}"
    client_context = ssl.create_default_context(cafile=str(authority.certificate_path))

    class TrustingTestCa(HTTPClient):
        def __init__(self, http_config):
            super().__init__({**http_config, "sslContext": client_context})

    client = OktaClient({"orgUrl": org_url, "token": super_token, "httpClient": TrustingTestCa})
    yield client, org_url, authority
    thread.terminate()


def run(coroutine):
    return asyncio.run(coroutine)


def ok(result):
    """The data of an SDK call's (data, response, error), failing on an error."""
    data, _response, error = result
    assert error is None, error
    return data


def test_sdk_manages_security_events_providers(okta_org, transmitter):
    client, _org_url, _authority = okta_org

    async def scenario():
        settings = SecurityEventsProviderRequestSettings(
            SecurityEventsProviderSettingsSSFCompliant(well_known_url=transmitter.well_known_url)
        )
        request = SecurityEventsProviderRequest(name="Acme MDM", type="okta", settings=settings)
        created = ok(await client.create_security_events_provider_instance(request))
        listed = ok(await client.list_security_events_provider_instances())
        fetched = ok(await client.get_security_events_provider_instance(created.id))
        request.name = "Acme MDM (renamed)"
        replaced = ok(await client.replace_security_events_provider_instance(created.id, request))
        deactivated = ok(await client.deactivate_security_events_provider_instance(created.id))
        activated = ok(await client.activate_security_events_provider_instance(created.id))
        _data, _response, duplicate = await client.create_security_events_provider_instance(request)
        _data, _response, error = await client.delete_security_events_provider_instance(created.id)
        return created, listed, fetched, replaced, deactivated, activated, duplicate, error

    created, listed, fetched, replaced, deactivated, activated, duplicate, error = run(scenario())
    assert isinstance(created, SecurityEventsProviderResponse)
    assert created.status == "ACTIVE"
    assert created.settings.well_known_url == transmitter.well_known_url
    assert [p.id for p in listed] == [created.id] == [fetched.id]
    assert replaced.name == "Acme MDM (renamed)"
    assert (deactivated.status, activated.status) == ("INACTIVE", "ACTIVE")
    assert "Security Events Provider name must be unique" in str(duplicate)
    assert error is None
    assert not Stream.objects.exists()


def test_sdk_creates_reads_lists_updates_and_deletes_users(okta_org):
    client, _org_url, _authority = okta_org
    Entity.objects.bulk_create(
        Entity(id=new_entity_id(EntityKind.USER), login=f"user{n:03d}@example.com",
               email=f"user{n:03d}@example.com", first_name=f"First{n:03d}",
               last_name="Bulk")
        for n in range(USERS_IN_DIRECTORY)
    )  # fmt: skip
    nameless = entity_create(email="nameless@example.com")  # no first or last name

    async def scenario():
        profile = UserProfile(login="isaac.brock@example.com", email="isaac.brock@example.com",
                              first_name="Isaac", last_name="Brock")  # fmt: skip
        staged = ok(await client.create_user(CreateUserRequest(profile=profile), activate=False))
        ok(await client.activate_user(staged.id, send_email=False))
        fetched = ok(await client.get_user(staged.id))
        everyone = [u async for u in paginate_all(client.list_users, limit=200)]
        searched = ok(await client.list_users(search='profile.lastName eq "brock"'))
        by_q = ok(await client.list_users(q="Isaac"))
        filtered = ok(await client.list_users(filter='profile.email eq "nameless@example.com"'))
        page = [u async for u in paginate_all(client.list_users, limit=50,
                                              search='profile.lastName eq "Bulk"')]  # fmt: skip
        update = UpdateUserRequest(profile=UserProfile(first_name="Isaac J."))
        updated = ok(await client.update_user(staged.id, update))
        ok(await client.deactivate_user(staged.id))
        deactivated = ok(await client.get_user(staged.id))
        ok(await client.activate_user(staged.id))
        await client.delete_user(staged.id)  # deactivates
        await client.delete_user(staged.id)  # deletes
        _data, _response, gone = await client.get_user(staged.id)
        return (staged, fetched, everyone, searched, by_q, filtered, page, updated, deactivated,
                gone)  # fmt: skip

    staged, fetched, everyone, searched, by_q, filtered, page, updated, deactivated, gone = run(
        scenario()
    )
    assert isinstance(staged, User)
    assert staged.status.value == "STAGED"
    assert fetched.status.value == "ACTIVE"
    assert fetched.activated is not None
    assert len(everyone) == USERS_IN_DIRECTORY + 2
    assert len({u.id for u in everyone}) == len(everyone)
    nameless_seen = next(u for u in everyone if u.id == nameless.pk)
    assert (nameless_seen.profile.first_name, nameless_seen.profile.last_name) == (None, None)
    assert [u.id for u in searched] == [staged.id] == [u.id for u in by_q]
    assert [u.id for u in filtered] == [nameless.pk]
    assert len(page) == USERS_IN_DIRECTORY
    assert updated.profile.first_name == "Isaac J."
    assert updated.profile.last_name == "Brock"
    assert deactivated.status.value == "DEPROVISIONED"
    assert "E0000007" in str(gone)
    assert not Entity.objects.filter(login="isaac.brock@example.com").exists()


def test_sdk_reads_and_sets_user_risk_and_polls_the_system_log(okta_org):
    client, _org_url, _authority = okta_org
    alice = entity_create(email="alice@example.com", first_name="Alice", last_name="Liddell")
    since = (timezone.now() - timedelta(minutes=1)).isoformat()

    async def scenario():
        empty = ok(await client.list_log_events(since=since, filter='eventType eq "none.such"'))
        _data, first_poll, _error = await client.list_log_events(
            since=since, filter='eventType eq "none.such"'
        )
        before = ok(await client.get_user_risk(alice.pk))
        after = ok(await client.upsert_user_risk(alice.pk, UserRiskRequest(risk_level="HIGH")))
        query = f'target.id eq "{alice.pk}" and eventType sw "user.risk"'
        records = ok(await client.list_log_events(
            since=since, until=timezone.now().isoformat(), sort_order="DESCENDING",
            filter=query, limit=10))  # fmt: skip
        return empty, first_poll, before, after, records

    empty, first_poll, before, after, records = run(scenario())
    assert empty == []
    assert PaginationHelper.extract_next_cursor(first_poll.headers)  # the SDK keeps polling
    assert before.risk_level.value == "NONE"
    assert after.risk_level.value == "HIGH"
    assert [r.event_type for r in records] == ["user.risk.change"]
    assert isinstance(records[0], LogEvent)
    assert records[0].target[0].id == alice.pk


def netskope_get_all_users(base_url: str, token: str, verify: str) -> list[dict]:
    """Netskope URE plugin's `_get_all_users`, as it ships: `after` cut out of the Link header."""
    all_users, params, after = [], {"limit": 200}, ""
    headers = {"Accept": "application/json", "Content-Type": "application/json",
               "okta-response": "omitCredentials, omitCredentialsLinks, omitTransitioningToStatus",
               "Authorization": f"SSWS {token}"}  # fmt: skip
    while True:
        users = requests.get(f"{base_url}/api/v1/users", headers=headers, params=params,
                             verify=verify, timeout=10)  # fmt: skip
        assert users.status_code == 200, users.text
        all_users += users.json()
        links = re.findall(r"(https?://\S+)", users.headers.get("link", ""))
        flag = False
        for link in links:
            if "after" in link:
                after_from_link = parse_qs(urlparse(link).query)["after"]
                if after_from_link != after:
                    params["after"] = after_from_link
                    after = after_from_link
                    flag = True
                else:
                    flag = False
        if not flag:
            break
    return all_users


def test_netskope_pages_users_by_cutting_after_out_of_the_link_header(okta_org, super_token):
    _client, org_url, authority = okta_org
    Entity.objects.bulk_create(
        Entity(id=new_entity_id(EntityKind.USER), login=f"user{n:03d}@example.com",
               email=f"user{n:03d}@example.com", status=UserStatus.ACTIVE)
        for n in range(USERS_IN_DIRECTORY)
    )  # fmt: skip
    users = netskope_get_all_users(org_url, super_token, str(authority.certificate_path))
    assert len(users) == USERS_IN_DIRECTORY
    assert len({u["id"] for u in users}) == USERS_IN_DIRECTORY
