"""Safe outbound HTTP: the one way this project calls a transmitter (or any admin-given URL).

Every request goes through `safe_request`, which
- allows only https (and http only when ALLOW_INSECURE_TRANSMITTER_URLS is true);
- resolves the host itself, refuses loopback, private and reserved addresses unless that setting is
  true, and always refuses link-local and cloud-metadata addresses; then connects to the address it
  checked, so a DNS answer that changes between check and connect (rebinding) cannot slip through;
- bounds connect and read timeouts, the whole exchange's duration, the response size and the
  number of redirects (each redirect target passes the same checks);
- never uses proxies from the environment, and never logs request headers (they carry secrets).
"""

import contextlib
import ipaddress
import json
import socket
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

# Refused whatever ALLOW_INSECURE_TRANSMITTER_URLS says: link-local (the cloud metadata services
# live at 169.254.169.254), AWS's IPv6 metadata address, Alibaba Cloud's and Oracle Cloud
# Classic's metadata addresses.
ALWAYS_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",
        "fe80::/10",
        "fd00:ec2::254/128",
        "100.100.100.200/32",
        "192.0.0.192/32",
    )
)
# Not public hosts, though Python 3.11's ipaddress counts them as global: IETF protocol
# assignments and the deprecated 6to4 relay anycast.
NOT_GLOBAL_IPV4_NETWORKS = tuple(
    ipaddress.IPv4Network(n) for n in ("192.0.0.0/24", "192.88.99.0/24")
)
# IPv6 addresses whose last 32 bits are the IPv4 address the packets are translated to:
# IPv4-mapped, SIIT (RFC 2765), NAT64's well-known prefix (RFC 6052) and IPv4-compatible.
IPV4_IN_LAST_32_BITS_NETWORKS = tuple(
    ipaddress.IPv6Network(n) for n in ("::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96", "::/96")
)
# RFC 8215's local-use NAT64 prefix: the operator chooses how IPv4 addresses are embedded, so the
# target cannot be checked.
NAT64_LOCAL_USE_NETWORK = ipaddress.IPv6Network("64:ff9b:1::/48")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "ssf-receiver/0.1 (+https://openid.net/wg/sharedsignals/)"


class FetchError(Exception):
    """An outbound request failed; the message is written for the admin who gave the URL."""


class RefusedURL(FetchError):
    """The URL or the address it resolves to is not allowed."""


class Unreachable(FetchError):
    """DNS failed or the connection could not be made."""


class FetchTimeout(FetchError):
    """Connecting, reading or the whole exchange took too long."""


class ResponseTooLarge(FetchError):
    """The response body is bigger than OUTBOUND_MAX_BYTES."""


class BadStatus(FetchError):
    """The server answered with a status the caller does not accept."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class NotJSON(FetchError):
    """The body is not a JSON document."""


@dataclass
class FetchedResponse:
    url: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON, or NotJSON naming the URL."""
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise NotJSON(f"{self.url} did not answer with a JSON document.") from exc


def address_refusal(address: str, *, allow_insecure: bool) -> str | None:
    """Why connecting to `address` is refused, or None when it is allowed.

    An IPv6 address that carries an IPv4 address (mapped, translated, tunnelled) reaches that
    IPv4 address, so both must pass.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL_USE_NETWORK:
            return f"{ip} is in the local-use NAT64 prefix, whose IPv4 target cannot be checked"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            refusal = _own_refusal(embedded, allow_insecure=allow_insecure)
            if refusal is not None:
                return f"{ip} carries the IPv4 address {embedded}, and {refusal}"
    return _own_refusal(ip, allow_insecure=allow_insecure)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that `ip` leads to through a translator or tunnel, if any."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address; (server, client)
    # :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
    if int(ip) > 1 and any(ip in network for network in IPV4_IN_LAST_32_BITS_NETWORKS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _own_refusal(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_insecure: bool
) -> str | None:
    """Why `ip` itself is refused, without looking at any IPv4 address it carries."""
    if any(ip in network for network in ALWAYS_REFUSED_NETWORKS):
        return f"{ip} is a link-local or cloud-metadata address, which is never allowed"
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is not a unicast address"
    is_public = ip.is_global and not any(ip in network for network in NOT_GLOBAL_IPV4_NETWORKS)
    if not allow_insecure and not is_public:
        return (
            f"{ip} is a loopback, private or reserved address; transmitter URLs must resolve to "
            "public addresses (ALLOW_INSECURE_TRANSMITTER_URLS allows them in a lab)"
        )
    return None


def resolve_allowed_address(host: str, port: int) -> str:
    """Resolve `host` and return the first address that may be connected to, or raise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unreachable(f"The host {host} could not be resolved.") from exc
    refusals = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        refusal = address_refusal(
            address, allow_insecure=_allow_insecure() or _private_addresses_allowed.get()
        )
        if refusal is None:
            return address
        refusals.append(refusal)
    raise RefusedURL(f"Refused to connect to {host}: {refusals[0]}.")


class _ExchangeDeadline:
    """Cuts off every connection of one exchange once its total time is up.

    The read timeout bounds each recv, not their sum: a server trickling a byte at a time, in the
    headers or the body, would hold the worker for as long as it likes. Shutting the sockets down
    from a timer ends any blocked read, TLS handshake included. Like asyncio.timeout, leaving the
    block after the deadline raises FetchTimeout in place of whatever the block raised or returned
    (a body that ends when its connection closes is cut short without any error).
    """

    def __init__(self, seconds: float, *, host: str | None):
        self.seconds = seconds
        self.host = host
        self._expired = False
        self._lock = threading.Lock()
        # Duplicates of the connections' sockets: shutting one down ends the connection even once
        # TLS has taken the original socket over.
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            duplicate = sock.dup()
            self._sockets.append(duplicate)
            if self._expired:
                _shut_down(duplicate)

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            for sock in self._sockets:
                _shut_down(sock)

    def __enter__(self) -> "_ExchangeDeadline":
        self._token = _current_deadline.set(self)
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        _current_deadline.reset(self._token)
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()
            expired = self._expired
        if expired:
            raise FetchTimeout(
                f"{self.host} did not finish answering within {self.seconds:g}s, "
                "the limit for a whole request."
            ) from exc


def _shut_down(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the peer may have closed it already
        sock.shutdown(socket.SHUT_RDWR)


_current_deadline: ContextVar[_ExchangeDeadline | None] = ContextVar(
    "outbound_exchange_deadline", default=None
)
# Set for the length of one safe_request(allow_private_addresses=True).
_private_addresses_allowed: ContextVar[bool] = ContextVar(
    "outbound_private_addresses_allowed", default=False
)


class _GuardedHTTPConnection(HTTPConnection):
    """Connect only to an address that `resolve_allowed_address` approved.

    The host name stays the connection's host: TLS needs it for SNI and the certificate check.
    """

    def _new_conn(self) -> socket.socket:
        host = self._dns_host.strip("[]")
        address = resolve_allowed_address(host, self.port)
        try:
            sock = create_connection(
                (address, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(
                self, f"Connection to {host} timed out. (connect timeout={self.timeout})"
            ) from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc
        deadline = _current_deadline.get()
        if deadline is not None:
            deadline.watch(sock)
        return sock


class _GuardedHTTPSConnection(_GuardedHTTPConnection, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }


CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


DEFAULT_PORTS = {"http": 80, "https": 443}


def url_origin(url: str) -> str:
    """`scheme://host[:port]` (RFC 6454): where a request to `url` goes, and so who gets the
    credential sent with it. Lower-cased, the scheme's default port left out."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS.get(scheme) else "")


def _allow_insecure() -> bool:
    return bool(settings.ALLOW_INSECURE_TRANSMITTER_URLS)


def allowed_schemes() -> set[str]:
    """The schemes transmitter URLs may use: https, and http only when allowed insecure."""
    return {"https", "http"} if _allow_insecure() else {"https"}


def check_url(url: str) -> None:
    """Refuse a URL whose scheme or form is not allowed (before any network traffic)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise RefusedURL(f"{url!r} is not a valid URL.") from exc
    if parts.scheme not in allowed_schemes():
        raise RefusedURL(f"{url} must use https.")
    if not parts.hostname:
        raise RefusedURL(f"{url!r} has no host.")
    if parts.username or parts.password:
        raise RefusedURL(f"{parts.hostname}: URLs with credentials in them are not allowed.")


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc from the environment
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def _read_body(response: requests.Response, *, url: str) -> bytes:
    limit = settings.OUTBOUND_MAX_BYTES
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(f"{url} sent {declared} bytes; the limit is {limit}.")
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=16384):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"{url} sent more than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def exchange_time_limit() -> float:
    """The longest one safe_request may take, redirects included: callers that hold a lease
    across a request (policy actions) hold it longer than this."""
    return settings.OUTBOUND_CONNECT_TIMEOUT + 2 * settings.OUTBOUND_READ_TIMEOUT


def safe_request(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    allow_private_addresses: bool = False,
) -> FetchedResponse:
    """Send one request under the rules in this module's docstring and return the answer.

    GET requests follow up to OUTBOUND_MAX_REDIRECTS redirects; other methods return the 3xx.
    `allow_private_addresses` is for URLs an operator configured (the sign-in identity provider,
    often on the company network), never for admin-given ones: loopback and private addresses
    are then allowed, link-local and metadata addresses still refused, https still required.
    Raises a FetchError subclass whose message names what failed.
    """
    connect_timeout = settings.OUTBOUND_CONNECT_TIMEOUT
    read_timeout = settings.OUTBOUND_READ_TIMEOUT
    total_limit = exchange_time_limit()
    private_token = _private_addresses_allowed.set(allow_private_addresses)
    try:
        return _exchange(method, url, json_body=json_body, data=data, headers=headers,
                         connect_timeout=connect_timeout, read_timeout=read_timeout,
                         total_limit=total_limit)  # fmt: skip
    finally:
        _private_addresses_allowed.reset(private_token)


def _exchange(
    method: str,
    url: str,
    *,
    json_body: Any,
    data: bytes | None,
    headers: dict[str, str] | None,
    connect_timeout: float,
    read_timeout: float,
    total_limit: float,
) -> FetchedResponse:
    with _session() as session, _ExchangeDeadline(total_limit, host=urlsplit(url).hostname):
        for _hop in range(settings.OUTBOUND_MAX_REDIRECTS + 1):
            check_url(url)
            host = urlsplit(url).hostname
            try:
                response = session.request(
                    method,
                    url,
                    json=json_body,
                    data=data,
                    headers=headers,
                    timeout=(connect_timeout, read_timeout),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.exceptions.ConnectTimeout as exc:
                raise FetchTimeout(
                    f"Connecting to {host} timed out after {connect_timeout:g}s."
                ) from exc
            except requests.exceptions.ReadTimeout as exc:
                raise FetchTimeout(f"{host} did not answer within {read_timeout:g}s.") from exc
            except requests.exceptions.SSLError as exc:
                raise Unreachable(f"The TLS connection to {host} failed: {_reason(exc)}.") from exc
            except requests.exceptions.ConnectionError as exc:
                raise Unreachable(f"Could not connect to {host}: {_reason(exc)}.") from exc
            except requests.exceptions.RequestException as exc:
                raise Unreachable(f"The request to {host} failed: {_reason(exc)}.") from exc
            with response:
                location = response.headers.get("Location")
                if method == "GET" and response.status_code in REDIRECT_STATUSES and location:
                    target = urljoin(url, location)
                    if url_origin(target) != url_origin(url):
                        # A credential is for the host it was given to, never for another one.
                        headers = {k: v for k, v in (headers or {}).items()
                                   if k.lower() not in CREDENTIAL_HEADERS}  # fmt: skip
                    url = target
                    continue
                try:
                    body = _read_body(response, url=url)
                except requests.exceptions.RequestException as exc:
                    raise FetchTimeout(
                        f"{host} stopped sending its answer: {_reason(exc)}."
                    ) from exc
                return FetchedResponse(
                    url=url, status=response.status_code, headers=dict(response.headers), body=body
                )
    raise FetchError(f"{url} redirected more than {settings.OUTBOUND_MAX_REDIRECTS} times.")


def fetch_json(url: str) -> Any:
    """GET `url`, require 200 and a JSON body, and return the parsed document."""
    response = safe_request("GET", url, headers={"Accept": "application/json"})
    if response.status != 200:
        raise BadStatus(f"{url} answered HTTP {response.status}.", response.status)
    return response.json()


_REASONS = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", "the host name could not be resolved"),
    ("Temporary failure in name resolution", "the host name could not be resolved"),
    ("CERTIFICATE_VERIFY_FAILED", "the server certificate could not be verified"),
    ("Connection reset", "the connection was reset"),
    ("Network is unreachable", "the network is unreachable"),
    ("No route to host", "there is no route to the host"),
    ("timed out", "timed out"),
)


def _reason(exc: BaseException) -> str:
    """A short, admin-readable cause of a requests/urllib3 error (no URLs, no headers)."""
    text = str(exc)
    return next((label for needle, label in _REASONS if needle in text), type(exc).__name__)
