"""The shipped nginx configuration (deploy/nginx/) in front of gunicorn, for real: Debian's nginx
runs the rendered template on loopback ports, with TLS from a throwaway CA.

Clients here connect from 127.0.0.2, a loopback address of their own, so that the receiver can
tell them from nginx (127.0.0.1). Every connection goes to 127.0.0.1.
"""

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection

from events.models import RejectedSecurityEvent
from tests.processes import production_env, start_gunicorn, start_nginx
from tests.servers import free_port
from tests.tls import CertificateAuthority

PUSH = "/security/api/v1/security-events"
# Answers 405 at once, from Django, with no database or template involved.
PROBE = PUSH
CLIENT = "127.0.0.2"
SPOOFED = "198.51.100.7"  # a header value only: nothing is sent there


@dataclass
class Shape:
    gunicorn_port: int
    http_port: int
    https_port: int
    tls: ssl.SSLContext


@pytest.fixture(scope="module")
def shape(tmp_path_factory, django_db_setup, redis_url):
    """One gunicorn (2 workers, production settings) behind one nginx for the module's tests."""
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    tmp_path = tmp_path_factory.mktemp("nginx")
    env = production_env(
        database_url=database_url, redis_url=redis_url, DJANGO_SECURE_SSL_REDIRECT="true",
        RECEIVER_AUDIENCE=settings.RECEIVER_AUDIENCE,
    )  # fmt: skip
    gunicorn_port, http_port, https_port = free_port(), free_port(), free_port()
    gunicorn = start_gunicorn(env, port=gunicorn_port, workers=2)
    authority = CertificateAuthority(tmp_path)
    certificate, key = authority.issue("localhost")
    nginx = start_nginx(
        tmp_path, http_port=http_port, https_port=https_port, upstream_port=gunicorn_port,
        certificate=certificate, key=key,
    )  # fmt: skip
    warm_up(gunicorn_port, workers=2)
    tls = ssl.create_default_context(cafile=str(authority.certificate_path))
    tls.check_hostname = False  # the certificate names localhost; we dial 127.0.0.1
    try:
        yield Shape(gunicorn_port, http_port, https_port, tls)
    finally:
        nginx.stop()
        gunicorn.stop()


def warm_up(port: int, *, workers: int) -> None:
    """Have every gunicorn worker serve one request, so that no test waits for a worker's first
    (cold) request: each sends its headers in two parts, holding the worker that took it while
    the next connection is taken by another."""

    def one() -> None:
        with socket.create_connection(("127.0.0.1", port), 60) as sock:
            sock.sendall(f"GET {PROBE} HTTP/1.1\r\nHost: localhost\r\n".encode())
            time.sleep(0.5)
            sock.sendall(b"Connection: close\r\n\r\n")
            sock.recv(100)

    threads = [threading.Thread(target=one) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


def request(
    port: int,
    path: str,
    *,
    tls: ssl.SSLContext | None = None,
    method: str = "GET",
    body: str | None = None,
    headers: dict | None = None,
    source: str = CLIENT,
    timeout: float = 15.0,
) -> http.client.HTTPResponse:
    connection: http.client.HTTPConnection
    if tls is None:
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
        )
    else:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=timeout, source_address=(source, 0), context=tls
        )
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


class SlowClients:
    """`count` connections that send a SET push's headers, then trickle its body a byte every
    0.2 s: each holds whatever reads the body until it is complete."""

    BODY_LENGTH = 4000

    def __init__(self, port: int, count: int, tls: ssl.SSLContext | None = None):
        self.port, self.count, self.tls = port, count, tls
        self.sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> "SlowClients":
        head = (
            f"POST {PUSH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/secevent+jwt"
            f"\r\nContent-Length: {self.BODY_LENGTH}\r\n\r\n"
        ).encode()
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), 5, (CLIENT, 0))
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname="localhost")
            sock.sendall(head)
            self.sockets.append(sock)
        self._thread.start()
        time.sleep(0.5)  # every gunicorn worker that will take one has taken one
        return self

    def _trickle(self) -> None:
        while not self._stop.wait(0.2):
            for sock in self.sockets:
                sock.sendall(b"x")

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


def test_slow_clients_hold_nginx_connections_not_gunicorn_workers(shape):
    with SlowClients(shape.https_port, 8, tls=shape.tls):
        started = time.monotonic()
        answer = request(shape.https_port, PROBE, tls=shape.tls)
        elapsed = time.monotonic() - started
    assert answer.status == 405
    # Gunicorn alone stalls 32 s here; the bound leaves room for a loaded CI machine.
    assert elapsed < 5, f"a request behind nginx took {elapsed:.2f}s while clients trickled"
    with SlowClients(shape.gunicorn_port, 8), pytest.raises(TimeoutError):
        # Straight at gunicorn, the same clients hold both of its workers: nothing answers.
        request(shape.gunicorn_port, PROBE, timeout=1.5)
    # Once they are gone gunicorn answers again (and the next test finds it free).
    assert request(shape.gunicorn_port, PROBE, timeout=15).status == 301


@pytest.mark.django_db(transaction=True)
def test_nginx_says_who_the_client_is_whatever_the_client_claims(shape):
    claims = {"X-Forwarded-For": SPOOFED, "Content-Type": "application/secevent+jwt"}
    first = request(shape.https_port, PUSH, tls=shape.tls, method="POST", body="not-a-jws",
                    headers=claims)  # fmt: skip
    assert first.status == 400
    # From 127.0.0.1, an address the receiver trusts as a proxy, a claim would be believed if
    # nginx passed it on: it replaces it.
    second = request(shape.https_port, PUSH, tls=shape.tls, method="POST", body="not-a-jws",
                     headers=claims, source="127.0.0.1")  # fmt: skip
    assert second.status == 400
    recorded = RejectedSecurityEvent.objects.order_by("id").values_list("remote_addr", flat=True)
    assert list(recorded) == [CLIENT, "127.0.0.1"]


def test_only_nginx_says_a_request_came_over_https(shape):
    # Django redirects what it takes for plain http (SECURE_SSL_REDIRECT): a 405 means https.
    over_https = request(shape.https_port, PROBE, tls=shape.tls,
                         headers={"X-Forwarded-Proto": "http"})  # fmt: skip
    assert over_https.status == 405
    over_http = request(shape.http_port, PROBE, headers={"X-Forwarded-Proto": "https"})
    assert over_http.status == 301  # nginx itself: plain http never reaches the receiver
    assert over_http.getheader("Location").startswith("https://")
    assert "nginx" in over_http.getheader("Server")
    # Straight at gunicorn from an address that is not a trusted proxy, the claim is dropped.
    direct = request(shape.gunicorn_port, PROBE, headers={"X-Forwarded-Proto": "https"})
    assert direct.status == 301
