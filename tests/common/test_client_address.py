"""The client's address behind a reverse proxy, and forwarded headers believed only from the
proxies in TRUSTED_PROXY_ADDRESSES. Addresses here are META values: nothing is sent to them."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from common.proxy import client_address
from events.models import RejectedSecurityEvent

NGINX = "127.0.0.1"


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "198.51.100.7", "", "198.51.100.7"),
        ([], "127.0.0.1", "198.51.100.7", "127.0.0.1"),  # no proxy trusted: the peer
        (["127.0.0.1"], "127.0.0.1", "198.51.100.7", "198.51.100.7"),
        (["127.0.0.1"], "203.0.113.5", "198.51.100.7", "203.0.113.5"),  # peer not a proxy
        # The client wrote the left part itself; the right-most untrusted hop is the client.
        (["127.0.0.1"], "127.0.0.1", "192.0.2.1, 198.51.100.7", "198.51.100.7"),
        (["127.0.0.1", "10.0.0.0/8"], "127.0.0.1", "192.0.2.1, 198.51.100.7, 10.1.2.3",
         "198.51.100.7"),
        (["127.0.0.1"], "127.0.0.1", "garbage", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "192.0.2.1, bad, 198.51.100.7", "198.51.100.7"),
        (["127.0.0.0/8", "::1"], "::1", "2001:db8::9", "2001:db8::9"),
        (["127.0.0.1"], "::ffff:127.0.0.1", "198.51.100.7", "198.51.100.7"),
    ],
)  # fmt: skip
def test_client_address(settings, trusted, remote, forwarded, expected):
    settings.TRUSTED_PROXY_ADDRESSES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_a_rejected_set_records_the_client_not_the_proxy(db, settings, push):
    settings.TRUSTED_PROXY_ADDRESSES = [NGINX]
    assert push("not-a-jws", REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code
    assert RejectedSecurityEvent.objects.get().remote_addr == "198.51.100.7"


def test_a_rejected_set_from_a_direct_client_ignores_its_forwarded_for(db, settings, push):
    settings.TRUSTED_PROXY_ADDRESSES = [NGINX]
    push("not-a-jws", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert RejectedSecurityEvent.objects.get().remote_addr == "203.0.113.5"


@pytest.fixture
def https_redirect(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXY_ADDRESSES = [NGINX]


def test_forwarded_proto_is_believed_from_the_proxy(db, client, https_redirect):
    response = client.get(reverse("login"), REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200


def test_forwarded_proto_from_anyone_else_is_dropped(db, client, https_redirect):
    response = client.get(
        reverse("login"), REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_PROTO="https"
    )
    assert response.status_code == 301  # plain http after all: sent to https
    assert response["Location"].startswith("https://")


def test_the_sign_in_budget_is_per_client_behind_the_proxy(db, settings, client):
    """Behind nginx every client has the proxy's address: the budget must use the client's."""
    settings.TRUSTED_PROXY_ADDRESSES = [NGINX]
    settings.SIGN_IN_ADDRESS_MAX_FAILURES = 2
    login = reverse("login")

    def attempt(name: str, forwarded_for: str) -> int:
        data = {"username": name, "password": "nope"}
        return client.post(
            login, data, REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=forwarded_for
        ).status_code

    assert attempt("budget-a", "198.51.100.20") == 200
    assert attempt("budget-b", "198.51.100.20") == 200
    assert attempt("budget-c", "198.51.100.20") == 429
    assert attempt("budget-d", "198.51.100.21") == 200  # another client behind the same proxy
