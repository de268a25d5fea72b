"""`SSFTransmitter`: the test peer's settings, its HTTP server's lifecycle, and SET delivery.

Tests drive it from Python (`tx.send(...)`, `tx.set_status_by_transmitter(...)`) while the
receiver under test drives it over HTTP; both end up in `TransmitterState` and in `_deliver` here.
Pushes happen outside the state lock, so a receiver that calls back while handling a SET (say,
reads its stream status) cannot deadlock the transmitter.
"""

import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict
from http.server import ThreadingHTTPServer
from typing import Any

import requests

from streams.transmitter.dialects import SSF_1_0, Dialect
from streams.transmitter.events import (
    EVENT_TYPES,
    STREAM_EVENTS,
    STREAM_UPDATED,
    Quirks,
    as_subject,
    build_claims,
    event_type,
)
from streams.transmitter.server import JWKS_PATH, POLL_PREFIX, TOKEN_PATH, handler_class
from streams.transmitter.signing import KeySet
from streams.transmitter.state import (
    STATUSES,
    NoStreamError,
    PushResult,
    SignedSet,
    TransmitterState,
)


class SSFTransmitter:
    """An SSF 1.0 transmitter on loopback, for tests and demos; `start()` serves it in a thread.

    Without `static_token` or client credentials a random static token is made, so the
    management API is never open; `tx.static_token` tells it. `dialect` makes it behave as a
    transmitter in the field does (streams.transmitter.dialects); `token_auth_methods` are the
    client authentications its token endpoint takes.
    """

    def __init__(
        self,
        *,
        audience: str | list[str] = "http://127.0.0.1:8000",
        host: str = "127.0.0.1",
        port: int = 0,
        issuer_path: str = "",
        trailing_slash_issuer: bool = False,
        static_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_lifetime: float = 300,
        default_subjects: str = "ALL",
        events_supported: list[str] | None = None,
        min_verification_interval: int = 0,
        inactivity_timeout: int = 86400,
        signing_alg: str | None = None,
        long_poll_timeout: float = 2.0,
        push_timeout: float = 5.0,
        dialect: Dialect = SSF_1_0,
        token_auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post"),
    ):
        if default_subjects not in ("ALL", "NONE"):
            raise ValueError("default_subjects must be ALL or NONE")
        if bool(client_id) != bool(client_secret):
            raise ValueError("client_id and client_secret go together")
        self.host, self.port = host, port
        self.issuer_path = "/" + issuer_path.strip("/") if issuer_path.strip("/") else ""
        self.trailing_slash_issuer = trailing_slash_issuer
        self.client_id, self.client_secret = client_id, client_secret
        self.static_token = static_token or (None if client_id else secrets.token_urlsafe(24))
        self.token_lifetime = token_lifetime
        self.long_poll_timeout = long_poll_timeout
        self.push_timeout = push_timeout
        self.answer_delay = 0.0  # seconds every request waits before its answer (timeout tests)
        # Answer stream updates and status changes 202 and keep them for apply_deferred().
        self.defer_changes = False
        self.deferred: list[Callable[[], Any]] = []
        self.dialect = dialect
        self.token_auth_methods = token_auth_methods
        self.keys = KeySet(signing_alg or dialect.signing_alg)
        events = events_supported or dialect.events_supported or EVENT_TYPES
        self.state = TransmitterState(
            audience=audience,
            events_supported=[event_type(e).uri for e in events],
            default_subjects=default_subjects,
            min_verification_interval=min_verification_interval,
            inactivity_timeout=inactivity_timeout,
            single_stream=dialect.single_stream,
        )
        if self.static_token:
            self.state.add_token(self.static_token)
        self._server: ThreadingHTTPServer | None = None

    # Lifecycle: stop() makes the transmitter unreachable; start() again reuses the same port.

    def start(self) -> "SSFTransmitter":
        """Serve in a background thread (on a free port unless one was given)."""
        self._server = ThreadingHTTPServer((self.host, self.port), handler_class(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.state.issuer = self.issuer
        self.state.poll_url_prefix = self.endpoint_base + POLL_PREFIX
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def endpoint_base(self) -> str:
        """Where the endpoints live: under the issuer's path."""
        return self.url + self.issuer_path

    @property
    def issuer(self) -> str:
        if self.dialect.fixed_issuer:
            return self.dialect.fixed_issuer
        if self.dialect.issuer_is_metadata_url:
            return self.well_known_url
        return self.endpoint_base + ("/" if self.trailing_slash_issuer else "")

    @property
    def well_known_url(self) -> str:
        """SSF §7.1.1: `/.well-known/ssf-configuration` inserted before the issuer's path."""
        return f"{self.url}/.well-known/{self.dialect.well_known_name}{self.issuer_path}"

    @property
    def jwks_url(self) -> str:
        return self.endpoint_base + JWKS_PATH

    @property
    def token_url(self) -> str:
        return self.endpoint_base + TOKEN_PATH

    # What tests look at.

    @property
    def stream(self) -> dict[str, Any] | None:
        """The stream's configuration as the receiver would read it, or None."""
        configs = self.state.configs()
        return configs[0] if configs else None

    @property
    def subjects(self) -> list[dict]:
        with self.state.cond:
            return list(self.state.stream.subjects) if self.state.stream else []

    @property
    def push_results(self) -> list[PushResult]:
        with self.state.cond:
            return list(self.state.push_results)

    @property
    def poll_errors(self) -> dict[str, dict]:
        with self.state.cond:
            return dict(self.state.poll_errors)

    @property
    def sent_verification_states(self) -> list[str | None]:
        with self.state.cond:
            return list(self.state.sent_verification_states)

    def rotate_keys(self) -> None:
        self.keys.rotate()

    # Sending.

    def send(
        self,
        event: str,
        subject: str | dict | None = None,
        *,
        txn: str | None = None,
        force: bool = False,
        **fields: Any,
    ) -> str:
        """Build, sign and deliver one SET; returns its jti.

        `event` is a catalogue name (`session-revoked`) or a URI; `subject` an email address
        (default alice@example.com) or a subject identifier dict; `fields` override the event's
        fields (None removes one) and may carry `Quirks` flags (`legacy=True`, ...). `force`
        delivers even when the stream's events_delivered or subjects would drop it. Push is done
        before this returns; poll SETs wait in the queue.
        """
        quirks = Quirks.pop_from(fields, base=self.dialect.quirks)
        chosen = event_type(event)
        stream = self.stream
        if stream is not None and chosen.uri in STREAM_EVENTS:
            subject = {"format": "opaque", "id": stream["stream_id"]}
        subject = as_subject(subject)
        claims = build_claims(
            chosen,
            subject=subject,
            issuer=self.issuer,
            audience=self.state.audience,
            txn=txn or uuid.uuid4().hex,
            quirks=quirks,
            overrides=fields,
        )
        typ = "JWT" if quirks.jwt_typ else "secevent+jwt"
        signed = SignedSet(claims["jti"], chosen.uri, self.keys.sign(claims, typ=typ))
        delivery = self.state.route(signed, subject, force=force)
        if chosen.uri == self.dialect.verification_event:
            self.state.record_verification(fields.get("state"))
        self._deliver(signed, delivery)
        return signed.jti

    def send_verification(self, state: str | None = None) -> str:
        """A verification SET; without `state` it is an unsolicited (transmitter-initiated) one."""
        quirks = asdict(self.dialect.verification_quirks)  # all of them: the dialect's own differ
        return self.send(self.dialect.verification_event, state=state, **quirks)

    def verify_during_create(self) -> PushResult | None:
        """Push an unsolicited verification SET from another thread (a task queue's worker)
        while the create call waits for it; the receiver's answer to it, if any."""
        sent: list[str] = []
        worker = threading.Thread(target=lambda: sent.append(self.send_verification()))
        worker.start()
        worker.join(self.push_timeout + 1)
        return next((r for r in reversed(self.push_results) if sent and r.jti == sent[0]), None)

    def set_status_by_transmitter(self, status: str, reason: str | None = None) -> None:
        """Change the stream's status on the transmitter's own initiative, announcing it with a
        stream-updated SET: before stopping (paused/disabled), after re-enabling (SSF status)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        stream = self.stream
        if stream is None:
            raise NoStreamError("no receiver has created a stream yet")
        if status != "enabled":
            self.send(STREAM_UPDATED, status=status, reason=reason)
        released = self.state.set_status(stream["stream_id"], status, reason)
        if status == "enabled":
            self.send(STREAM_UPDATED, status=status, reason=reason)
        self.deliver_released(released)

    def apply_deferred(self) -> None:
        """Apply, in order, the changes answered 202 while `defer_changes` was on."""
        while self.deferred:
            self.deferred.pop(0)()

    def deliver_released(self, released: list[SignedSet]) -> None:
        """Deliver, in order, the SETs held while the stream was paused."""
        for signed in released:
            self._deliver(signed, self.state.release(signed))

    def _deliver(self, signed: SignedSet, push: dict[str, Any] | None) -> None:
        """RFC 8935 push to the receiver; `authorization_header` is sent verbatim, and only when
        the receiver configured one (the conformance suite fails an unasked-for header)."""
        if push is None:
            return
        headers = {"Content-Type": "application/secevent+jwt", "Accept": "application/json"}
        if "authorization_header" in push:
            headers["Authorization"] = push["authorization_header"]
        try:
            answer = requests.post(
                push["endpoint_url"],
                data=signed.token.encode(),
                headers=headers,
                timeout=self.push_timeout,
            )
            result = PushResult(signed.jti, signed.event_type, answer.status_code, answer.text)
        except requests.RequestException as exc:
            result = PushResult(signed.jti, signed.event_type, None, "", error=str(exc))
        self.state.record_push(result)
