"""Fixtures for the whole suite: real PostgreSQL and Redis, keys, a transmitter, console users.

PostgreSQL and Redis are started once per session from the system binaries (tests/servers.py);
set TEST_DATABASE_URL / TEST_REDIS_URL to use servers of your own instead.
"""

import os

import pytest
from django.conf import settings
from django.urls import reverse

from common.roles import Role
from common.services import admin_user_create
from streams.discovery import well_known_url_for_issuer
from streams.services import stream_create
from tests import keys
from tests.http_server import LocalHTTPServer
from tests.servers import PostgresServer, RedisServer


@pytest.fixture(scope="session")
def postgres_server():
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, postgres_server):
    """Point Django at the session's PostgreSQL before pytest-django creates the test database."""
    if postgres_server is not None:
        settings.DATABASES["default"].update(
            HOST="127.0.0.1", PORT=str(postgres_server.port), USER="postgres", PASSWORD=""
        )


@pytest.fixture(scope="session")
def redis_server():
    if os.environ.get("TEST_REDIS_URL"):
        yield None
        return
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server) -> str:
    return os.environ.get("TEST_REDIS_URL") or redis_server.url


@pytest.fixture(scope="session", autouse=True)
def _use_session_redis(redis_url):
    """Every Redis user (cache, Celery broker, ingest dispatch) talks to the session's Redis."""
    from config.celery import app

    settings.REDIS_URL = redis_url
    settings.CELERY_BROKER_URL = redis_url
    settings.CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url,
    }
    app.conf.broker_url = redis_url


@pytest.fixture(scope="session")
def rsa_key():
    return keys.generate_rsa("rsa-1")


@pytest.fixture(scope="session")
def rotated_rsa_key():
    return keys.generate_rsa("rsa-2")


@pytest.fixture(scope="session")
def ec_key():
    return keys.generate_ec("ec-1")


class TransmitterDouble:
    """A local HTTP server serving SSF metadata and a JWKS, signing SETs with its keys."""

    def __init__(self, server: LocalHTTPServer, key):
        self.server = server
        self.key = key
        self.issuer = server.url()
        self.well_known_url = well_known_url_for_issuer(self.issuer)
        self.jwks_url = server.url("/jwks.json")
        self.metadata = {
            "spec_version": "1_0",
            "issuer": self.issuer,
            "jwks_uri": self.jwks_url,
            "delivery_methods_supported": ["urn:ietf:rfc:8935"],
        }
        self.publish_metadata(self.metadata)
        self.publish_jwks(key)

    def publish_metadata(self, metadata, status: int = 200) -> None:
        self.server.route(
            "GET", "/.well-known/ssf-configuration", json_body=metadata, status=status
        )

    def publish_jwks(self, *jwks_keys) -> None:
        self.server.route("GET", "/jwks.json", json_body=keys.public_jwks(*jwks_keys))

    def claims(self, **overrides):
        return keys.set_claims(
            **{"iss": self.issuer, "aud": settings.RECEIVER_AUDIENCE, **overrides}
        )

    def make_set(self, *, key=None, header=None, **claims) -> str:
        return keys.sign(self.claims(**claims), key or self.key, header=header)


@pytest.fixture
def transmitter(rsa_key):
    server = LocalHTTPServer().start()
    yield TransmitterDouble(server, rsa_key)
    server.stop()


@pytest.fixture
def stream(db, transmitter):
    return stream_create(name="Acme MDM", well_known_url=transmitter.well_known_url)


@pytest.fixture
def make_set(transmitter):
    return transmitter.make_set


@pytest.fixture
def push(client):
    """POST a SET to the push endpoint the way a transmitter does."""

    def _push(token: str, content_type: str = "application/secevent+jwt", **headers):
        return client.post(
            reverse("events:security_event_push"),
            data=token,
            content_type=content_type,
            HTTP_ACCEPT="application/json",
            **headers,
        )

    return _push


@pytest.fixture
def super_admin(db):
    return admin_user_create(username="sam", password="pw-sam-123", role=Role.SUPER_ADMIN)


@pytest.fixture
def readonly_admin(db):
    return admin_user_create(username="rita", password="pw-rita-123", role=Role.READ_ONLY_ADMIN)


@pytest.fixture
def admin_client(client, super_admin):
    client.force_login(super_admin)
    return client


@pytest.fixture
def readonly_client(db, readonly_admin):
    from django.test import Client

    client = Client()
    client.force_login(readonly_admin)
    return client


@pytest.fixture
def counters(redis_url):
    """The metrics counters from zero; `counters(name, **labels)` reads one, flushed first."""
    from common import metrics
    from common.redis import redis_client

    metrics.flush()
    redis_client().delete(metrics.COUNTERS_KEY, metrics.GAUGES_KEY)

    def read(name: str, **labels: str) -> float:
        metrics.flush()
        for family in metrics.stored_families():
            for sample in family.samples:
                if family.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    return read
