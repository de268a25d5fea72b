"""Safe outbound fetching: what it refuses, and that it reports each failure clearly."""

import pytest

from streams import fetch
from tests.http_server import LocalHTTPServer
from tests.servers import free_port


@pytest.fixture
def server():
    server = LocalHTTPServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254",
     "100.100.100.200"],
)  # fmt: skip
def test_metadata_and_link_local_addresses_are_refused_even_when_insecure_is_allowed(
    settings, address
):
    settings.ALLOW_INSECURE_TRANSMITTER_URLS = True
    assert "link-local or cloud-metadata" in fetch.address_refusal(address, allow_insecure=True)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "::1", "172.16.5.4"])
def test_private_and_loopback_addresses_are_refused_by_default(address):
    assert "loopback, private or reserved" in fetch.address_refusal(address, allow_insecure=False)
    assert fetch.address_refusal(address, allow_insecure=True) is None


def test_public_addresses_are_allowed():
    assert fetch.address_refusal("93.184.215.14", allow_insecure=False) is None


def test_metadata_url_is_refused_before_any_connection(settings):
    settings.ALLOW_INSECURE_TRANSMITTER_URLS = True
    with pytest.raises(fetch.RefusedURL, match="cloud-metadata"):
        fetch.fetch_json("http://169.254.169.254/latest/meta-data/")


def test_plain_http_is_refused_by_default(settings, server):
    settings.ALLOW_INSECURE_TRANSMITTER_URLS = False
    with pytest.raises(fetch.RefusedURL, match="must use https"):
        fetch.fetch_json(server.url("/x"))
    assert server.requests == []


def test_https_to_loopback_is_refused_after_resolution_by_default(settings):
    settings.ALLOW_INSECURE_TRANSMITTER_URLS = False
    # "localhost" is a name: the refusal comes from the address it resolves to.
    with pytest.raises(fetch.RefusedURL, match=r"127\.0\.0\.1|::1"):
        fetch.fetch_json(f"https://localhost:{free_port()}/.well-known/ssf-configuration")


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/x", "https://user:pw@example.com/x", "https://"],
)
def test_other_schemes_credentials_and_hostless_urls_are_refused(url):
    with pytest.raises(fetch.RefusedURL):
        fetch.fetch_json(url)


def test_fetch_json_returns_the_document(server):
    server.route("GET", "/doc", json_body={"issuer": "x"})
    assert fetch.fetch_json(server.url("/doc")) == {"issuer": "x"}


def test_http_error_status_is_named(server):
    server.route("GET", "/doc", status=404, body="nope")
    with pytest.raises(fetch.BadStatus, match="HTTP 404") as caught:
        fetch.fetch_json(server.url("/doc"))
    assert caught.value.status == 404


def test_non_json_body_is_named(server):
    server.route("GET", "/doc", body="<html>hello</html>")
    with pytest.raises(fetch.NotJSON, match="JSON"):
        fetch.fetch_json(server.url("/doc"))


def test_oversized_body_is_refused(settings, server):
    settings.OUTBOUND_MAX_BYTES = 1000
    server.route("GET", "/big", body="x" * 5000)
    with pytest.raises(fetch.ResponseTooLarge):
        fetch.fetch_json(server.url("/big"))


def test_slow_server_times_out(settings, server):
    settings.OUTBOUND_READ_TIMEOUT = 0.3
    server.route("GET", "/slow", json_body={}, delay=1.5)
    with pytest.raises(fetch.FetchTimeout, match="did not answer"):
        fetch.fetch_json(server.url("/slow"))


def test_closed_port_is_unreachable():
    with pytest.raises(fetch.Unreachable, match="connection refused"):
        fetch.fetch_json(f"http://127.0.0.1:{free_port()}/x")


def test_redirects_are_followed_and_each_target_checked(settings, server):
    server.route("GET", "/a", status=302, headers={"Location": "/b"})
    server.route("GET", "/b", json_body={"ok": True})
    assert fetch.fetch_json(server.url("/a")) == {"ok": True}
    server.route("GET", "/evil", status=302, headers={"Location": "http://169.254.169.254/"})
    with pytest.raises(fetch.RefusedURL, match="cloud-metadata"):
        fetch.fetch_json(server.url("/evil"))


def test_redirect_loops_are_bounded(settings, server):
    settings.OUTBOUND_MAX_REDIRECTS = 2
    server.route("GET", "/loop", status=302, headers={"Location": "/loop"})
    with pytest.raises(fetch.FetchError, match="redirected more than 2"):
        fetch.fetch_json(server.url("/loop"))
    assert len(server.requests_to("/loop")) == 3


def test_credentials_are_not_forwarded_to_another_host(server):
    other = LocalHTTPServer().start()
    try:
        other.route("GET", "/landing", json_body={})
        server.route("GET", "/same", status=302, headers={"Location": "/here"})
        server.route("GET", "/here", json_body={})
        server.route("GET", "/away", status=302, headers={"Location": other.url("/landing")})
        fetch.safe_request("GET", server.url("/same"), headers={"Authorization": "Bearer t"})
        assert server.requests_to("/here")[0].headers["Authorization"] == "Bearer t"
        fetch.safe_request("GET", server.url("/away"), headers={"Authorization": "Bearer t"})
        assert "Authorization" not in other.requests_to("/landing")[0].headers
    finally:
        other.stop()
