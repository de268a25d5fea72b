"""Safe outbound fetching: what it refuses, and that it reports each failure clearly."""

import socket
import threading
import time

import pytest

from streams import fetch
from tests.http_server import LocalHTTPServer
from tests.servers import free_port
from tests.tls import CertificateAuthority, LocalHTTPSServer

TRANSMITTER_HOST = "transmitter.test"


@pytest.fixture
def server():
    server = LocalHTTPServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254",
     "100.100.100.200", "192.0.0.192"],
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


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:0:a9fe:a9fe",  # SIIT
        "64:ff9b::a9fe:a9fe",  # NAT64, well-known prefix
        "2002:a9fe:a9fe::1",  # 6to4
        "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, client 169.254.169.254 (obfuscated)
        "::a9fe:a9fe",  # IPv4-compatible
    ],
)
def test_metadata_addresses_inside_ipv6_addresses_are_refused_even_when_insecure_is_allowed(
    address,
):
    assert "link-local or cloud-metadata" in fetch.address_refusal(address, allow_insecure=True)
    assert "link-local or cloud-metadata" in fetch.address_refusal(address, allow_insecure=False)


@pytest.mark.parametrize(
    "address",
    [
        "192.0.0.9",  # IETF protocol assignments, which Python counts as global
        "192.0.0.170",
        "192.88.99.1",  # 6to4 relay anycast, which Python counts as global
        "::ffff:10.1.2.3",
        "::ffff:0:7f00:1",  # SIIT, 127.0.0.1
        "64:ff9b::a01:203",  # NAT64, 10.1.2.3
        "2002:c0a8:a::1",  # 6to4, 192.168.0.10
        "::a01:203",  # IPv4-compatible, 10.1.2.3
    ],
)
def test_reserved_and_embedded_private_addresses_are_refused_by_default(address):
    assert "loopback, private or reserved" in fetch.address_refusal(address, allow_insecure=False)
    assert fetch.address_refusal(address, allow_insecure=True) is None


def test_local_use_nat64_prefix_is_refused_even_when_insecure_is_allowed():
    for allow_insecure in (False, True):
        refusal = fetch.address_refusal("64:ff9b:1::5db8:d822", allow_insecure=allow_insecure)
        assert "local-use NAT64" in refusal


@pytest.mark.parametrize("address", ["93.184.215.14", "64:ff9b::5db8:d822", "::ffff:93.184.216.34"])
def test_public_addresses_are_allowed(address):
    assert fetch.address_refusal(address, allow_insecure=False) is None


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


@pytest.mark.parametrize("body", ["<html>hello</html>", "[" * 5000 + "]" * 5000])
def test_non_json_body_is_named(server, body):
    server.route("GET", "/doc", body=body)
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


@pytest.fixture
def transmitter_host_is_loopback(monkeypatch):
    """TRANSMITTER_HOST resolves to 127.0.0.1, as a real transmitter's name resolves for real."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real_getaddrinfo("127.0.0.1" if host == TRANSMITTER_HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def test_ca(tmp_path, monkeypatch):
    """A CA that fetch trusts (and the only one): fetch has no CA setting and ignores the env."""
    ca = CertificateAuthority(tmp_path)
    make_session = fetch._session

    def session_trusting_test_ca():
        session = make_session()
        session.verify = str(ca.certificate_path)
        return session

    monkeypatch.setattr(fetch, "_session", session_trusting_test_ca)
    return ca


def https_server(ca, *, certificate_for: str):
    return LocalHTTPSServer(TRANSMITTER_HOST, *ca.issue(certificate_for)).start()


def test_https_sends_sni_and_verifies_the_host_name(transmitter_host_is_loopback, test_ca):
    server = https_server(test_ca, certificate_for=TRANSMITTER_HOST)
    try:
        server.route("GET", "/.well-known/ssf-configuration", json_body={"issuer": "x"})
        url = server.url("/.well-known/ssf-configuration")
        assert fetch.fetch_json(url) == {"issuer": "x"}
        assert server.server_names == [TRANSMITTER_HOST]
    finally:
        server.stop()


def test_https_certificate_for_another_name_is_refused(transmitter_host_is_loopback, test_ca):
    server = https_server(test_ca, certificate_for="other.test")
    try:
        server.route("GET", "/doc", json_body={})
        with pytest.raises(fetch.Unreachable, match="certificate could not be verified"):
            fetch.fetch_json(server.url("/doc"))
        assert server.requests == []
    finally:
        server.stop()


class TricklingServer:
    """Answers each connection with `head` at once, then `trickle` one byte per `interval`."""

    def __init__(self, head: bytes, trickle: bytes, interval: float):
        self.head, self.trickle, self.interval = head, trickle, interval
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}{path}"

    def stop(self) -> None:
        self._stopped.set()

    def _serve(self) -> None:
        with self._listener:
            while not self._stopped.is_set():
                try:
                    connection, _ = self._listener.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(None)
            connection.recv(65536)  # the request
            try:
                connection.sendall(self.head)
                for byte in self.trickle:
                    if self._stopped.wait(self.interval):
                        return
                    connection.sendall(bytes([byte]))
            except OSError:  # the client hung up
                return


@pytest.fixture
def short_limits(settings):
    """Each read may take 0.4s, the whole request 0.2 + 2 * 0.4 = 1s."""
    settings.OUTBOUND_CONNECT_TIMEOUT = 0.2
    settings.OUTBOUND_READ_TIMEOUT = 0.4


HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize(
    ("head", "trickle"),
    [
        pytest.param(b"", HEADERS + b"X-Padding: " + b"x" * 200 + b"\r\n\r\n{}", id="headers"),
        pytest.param(
            HEADERS + b"Content-Length: 202\r\n\r\n", b"[" + b"0," * 100 + b"0]", id="body"
        ),
        pytest.param(
            HEADERS + b"Connection: close\r\n\r\n", b"[" + b"0," * 100 + b"0]", id="body-to-close"
        ),
    ],
)
def test_a_trickling_server_is_cut_off_at_the_total_limit(short_limits, head, trickle):
    # A byte every 0.05s never trips the 0.4s read timeout; only the total limit stops it.
    server = TricklingServer(head, trickle, interval=0.05)
    try:
        started = time.monotonic()
        with pytest.raises(fetch.FetchTimeout, match=r"did not finish answering within 1s"):
            fetch.fetch_json(server.url("/doc"))
        assert 0.9 < time.monotonic() - started < 1.5
    finally:
        server.stop()


def test_operator_configured_urls_may_reach_private_addresses_but_only_over_https(settings):
    """The sign-in IdP (common.sso) is often on the company network; https stays required."""
    settings.ALLOW_INSECURE_TRANSMITTER_URLS = False
    url = f"https://localhost:{free_port()}/.well-known/openid-configuration"

    # Past the address check: nothing listens there, so the connection itself fails.
    with pytest.raises(fetch.Unreachable, match="connection refused"):
        fetch.safe_request("GET", url, allow_private_addresses=True)
    with pytest.raises(fetch.RefusedURL, match="must use https"):
        fetch.safe_request("GET", url.replace("https", "http"), allow_private_addresses=True)
    # The allowance ends with its request.
    with pytest.raises(fetch.RefusedURL, match=r"127\.0\.0\.1|::1"):
        fetch.safe_request("GET", url)
