"""In-memory state of the transmitter: its stream, subjects, held and queued SETs, access tokens.

It runs as threads inside the test process: HTTP handler threads, long polls and the test's own
calls (`tx.send`) all read and change the same stream, so every access happens under one condition
variable, which long polls also wait on for new SETs. No database: a new transmitter starts empty.

It serves a single receiver, so it holds at most one stream: a second create is 409 (protocol.md
§1.7, as the OpenID conformance suite's transmitter does). Delivery itself (HTTP push) happens
outside the lock, in the transmitter.
"""

import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from streams.transmitter.events import STREAM_EVENTS

PUSH = "urn:ietf:rfc:8935"
POLL = "urn:ietf:rfc:8936"
# The pre-2023 RISC delivery URIs, which older transmitters still take (protocol.md §1.5).
RISC_PUSH = "https://schemas.openid.net/secevent/risc/delivery-method/push"
RISC_POLL = "https://schemas.openid.net/secevent/risc/delivery-method/poll"
LEGACY_METHODS = {RISC_PUSH: PUSH, RISC_POLL: POLL}
STATUSES = ("enabled", "paused", "disabled")
SCOPES = ("ssf.read", "ssf.manage")
# SSF stream update/replace: these may be sent, but must equal the transmitter's (protocol.md §1.7).
TRANSMITTER_SUPPLIED = (
    "iss",
    "aud",
    "events_supported",
    "events_delivered",
    "min_verification_interval",
    "inactivity_timeout",
)


class ApiError(Exception):
    """A failed API call: the HTTP status, an error code for the JSON body, extra headers, and
    `body` when a dialect answers in its own shape instead of `{error, error_description}`."""

    def __init__(self, status: int, error: str, description: str = "", headers=None, body=None):
        super().__init__(description or error)
        self.status = status
        self.error = error
        self.description = description
        self.headers: dict[str, str] = headers or {}
        self.body = body


class NoStreamError(RuntimeError):
    """The transmitter was asked to send an event but no receiver has created a stream."""


@dataclass
class SignedSet:
    jti: str
    event_type: str
    token: str


@dataclass
class PushResult:
    """The receiver's answer to one pushed SET; `status` is None when it could not be reached."""

    jti: str
    event_type: str
    status: int | None
    body: str
    error: str = ""


@dataclass
class Stream:
    """The receiver's stream: what it asked for, its status, subjects, and undelivered SETs."""

    stream_id: str
    delivery: dict[str, Any]
    events_requested: list[str]
    description: str | None
    status: str = "enabled"
    reason: str | None = None
    subjects: list[dict] = field(default_factory=list)
    removed_subjects: list[dict] = field(default_factory=list)
    held: list[SignedSet] = field(default_factory=list)  # while paused (protocol.md §1.8)
    queue: dict[str, SignedSet] = field(default_factory=dict)  # poll: jti -> SET until acked
    last_verification: float = -math.inf


def subjects_match(a: dict, b: dict) -> bool:
    """SSF subject matching (protocol.md §1.4): simple subjects match when identical, complex
    ones member by member, where a member missing on either side matches anything."""
    if a.get("format") == b.get("format") == "complex":
        return all(a[name] == b[name] for name in a.keys() & b.keys())
    return a == b


def _bad(description: str) -> ApiError:
    return ApiError(400, "invalid_request", description)


def _parse_delivery(value: Any) -> dict[str, Any]:
    """SSF stream creation: no delivery means poll; push needs the receiver's endpoint_url."""
    if value is None:
        return {"method": POLL}
    if isinstance(value, dict) and value.get("method") in LEGACY_METHODS:
        value = {**value, "method": LEGACY_METHODS[value["method"]]}
    if not isinstance(value, dict) or value.get("method") not in (PUSH, POLL):
        raise _bad(f"delivery.method must be {PUSH} or {POLL}")
    if value["method"] == POLL:
        return {"method": POLL}  # the transmitter supplies the poll endpoint_url
    url, authorization = value.get("endpoint_url"), value.get("authorization_header")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise _bad("push delivery needs an http(s) endpoint_url")
    if authorization is not None and not isinstance(authorization, str):
        raise _bad("authorization_header must be a string")
    delivery = {"method": PUSH, "endpoint_url": url}
    if authorization is not None:
        delivery["authorization_header"] = authorization
    return delivery


def _parse_receiver_props(body: dict[str, Any], *, fill_missing: bool) -> dict[str, Any]:
    """The receiver-supplied properties in `body`; with fill_missing, absent ones get defaults
    (create, and PUT where a missing property is deleted)."""
    props: dict[str, Any] = {}
    if "events_requested" in body or fill_missing:
        requested = body.get("events_requested", [])
        if not isinstance(requested, list) or not all(isinstance(u, str) for u in requested):
            raise _bad("events_requested must be an array of URIs")
        props["events_requested"] = requested
    if "description" in body or fill_missing:
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise _bad("description must be a string")
        props["description"] = description
    if "delivery" in body or fill_missing:
        props["delivery"] = _parse_delivery(body.get("delivery"))
    return props


def _comparable(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


class TransmitterState:
    """Everything the transmitter remembers, and the stream operations, behind one lock."""

    def __init__(
        self,
        *,
        audience: str | list[str],
        events_supported: list[str],
        default_subjects: str,
        min_verification_interval: int,
        inactivity_timeout: int,
        single_stream: bool = False,
    ):
        self.cond = threading.Condition()
        # 2021 drafts: calls name no stream; the receiver's one stream is meant.
        self.single_stream = single_stream
        self.audience = audience
        self.events_supported = events_supported
        self.default_subjects = default_subjects
        self.min_verification_interval = min_verification_interval
        self.inactivity_timeout = inactivity_timeout
        self.issuer = ""  # both set by the transmitter once its server is bound
        self.poll_url_prefix = ""
        self.stream: Stream | None = None
        self.tokens: dict[str, tuple[frozenset[str], float]] = {}
        self.push_results: list[PushResult] = []
        self.poll_errors: dict[str, dict] = {}
        self.sent_verification_states: list[str | None] = []

    # Access tokens (static or issued by the token endpoint).

    def add_token(self, token: str, scopes=SCOPES, lifetime: float = math.inf) -> None:
        with self.cond:
            self.tokens[token] = (frozenset(scopes), time.monotonic() + lifetime)

    def issue_token(self, scopes: list[str], lifetime: float) -> str:
        token = secrets.token_urlsafe(32)
        self.add_token(token, scopes, lifetime)
        return token

    def token_scopes(self, token: str) -> frozenset[str] | None:
        """The scopes of a live token, or None when it is unknown or expired."""
        with self.cond:
            scopes, expires_at = self.tokens.get(token, (None, 0.0))
            return scopes if time.monotonic() < expires_at else None

    # Stream configuration (protocol.md §1.6, §1.7).

    def _config(self, stream: Stream) -> dict[str, Any]:
        delivery = dict(stream.delivery)
        if delivery["method"] == POLL:
            delivery["endpoint_url"] = self.poll_url_prefix + stream.stream_id
        config = {
            "stream_id": stream.stream_id,
            "iss": self.issuer,
            "aud": self.audience,
            "events_supported": self.events_supported,
            "events_requested": stream.events_requested,
            "events_delivered": self._delivered(stream),
            "delivery": delivery,
            "min_verification_interval": self.min_verification_interval,
            "inactivity_timeout": self.inactivity_timeout,
        }
        if stream.description is not None:
            config["description"] = stream.description
        return config

    def _delivered(self, stream: Stream) -> list[str]:
        return [uri for uri in self.events_supported if uri in stream.events_requested]

    def _get(self, stream_id: Any) -> Stream:
        if stream_id is None and self.single_stream:
            if self.stream is None:
                raise ApiError(404, "not_found", "no stream yet")
            return self.stream
        if not isinstance(stream_id, str):
            raise _bad("stream_id is required")
        if self.stream is None or self.stream.stream_id != stream_id:
            raise ApiError(404, "not_found", f"no stream {stream_id!r}")
        return self.stream

    def configs(self) -> list[dict[str, Any]]:
        with self.cond:
            return [self._config(self.stream)] if self.stream else []

    def read(self, stream_id: Any) -> dict[str, Any]:
        with self.cond:
            return self._config(self._get(stream_id))

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        props = _parse_receiver_props(body, fill_missing=True)
        with self.cond:
            if self.stream is not None:
                raise ApiError(409, "conflict", "this receiver already has a stream")
            self.stream = Stream(stream_id=secrets.token_urlsafe(12), **props)
            return self._config(self.stream)

    def update(self, body: dict[str, Any], *, replace: bool) -> dict[str, Any]:
        """PATCH (only the given properties change) or PUT (missing ones are deleted)."""
        props = _parse_receiver_props(body, fill_missing=replace)
        with self.cond:
            stream = self._get(body.get("stream_id"))
            current = self._config(stream)
            for name in TRANSMITTER_SUPPLIED:
                if name in body and _comparable(body[name]) != _comparable(current[name]):
                    raise _bad(f"{name} is set by the transmitter and cannot be changed")
            for name, value in props.items():
                setattr(stream, name, value)
            return self._config(stream)

    def delete(self, stream_id: Any) -> None:
        with self.cond:
            self._get(stream_id)
            self.stream = None
            self.cond.notify_all()

    # Status (protocol.md §1.8), subjects and verification (§1.7, §1.9).

    def status(self, stream_id: Any) -> dict[str, Any]:
        with self.cond:
            stream = self._get(stream_id)
            answer = {"stream_id": stream.stream_id, "status": stream.status}
            return answer | ({"reason": stream.reason} if stream.reason else {})

    def set_status(self, stream_id: Any, status: Any, reason: Any = None) -> list[SignedSet]:
        """Change the status; returns the held SETs to deliver now (when it became enabled)."""
        if status not in STATUSES:
            raise _bad(f"status must be one of {', '.join(STATUSES)}")
        with self.cond:
            stream = self._get(stream_id)
            stream.status, stream.reason = status, reason
            if status == "paused":
                return []
            released, stream.held = stream.held, []  # disabled holds nothing
            return released if status == "enabled" else []

    def change_subject(self, body: dict[str, Any], *, add: bool) -> None:
        subject = body.get("subject")
        if not isinstance(subject, dict) or "format" not in subject:
            raise _bad("subject must be a subject identifier with a format")
        with self.cond:
            stream = self._get(body.get("stream_id"))
            keep, drop = (
                (stream.subjects, stream.removed_subjects)
                if add
                else (stream.removed_subjects, stream.subjects)
            )
            if subject in drop:
                drop.remove(subject)
            if subject not in keep:
                keep.append(subject)

    def start_verification(self, stream_id: Any) -> None:
        """Accept a verification request unless it comes sooner than min_verification_interval
        after the last accepted one (429 with Retry-After)."""
        with self.cond:
            stream = self._get(stream_id)
            wait = stream.last_verification + self.min_verification_interval - time.monotonic()
            if wait > 0:
                headers = {"Retry-After": str(math.ceil(wait))}
                raise ApiError(429, "too_many_requests", "verification asked too often", headers)
            stream.last_verification = time.monotonic()

    # Delivery decisions.

    def _wanted(self, stream: Stream, event_type: str, subject: dict) -> bool:
        if event_type not in self._delivered(stream):
            return False
        if any(subjects_match(subject, removed) for removed in stream.removed_subjects):
            return False
        return self.default_subjects == "ALL" or any(
            subjects_match(subject, added) for added in stream.subjects
        )

    def route(self, signed: SignedSet, subject: dict, *, force: bool) -> dict[str, Any] | None:
        """Decide a new SET's fate: returns the push delivery to use now, or None when it was
        queued for poll, held (paused), or dropped (disabled, or not wanted unless `force`).

        SETs about the stream itself (verification, stream-updated) skip status and filters.
        """
        with self.cond:
            stream = self.stream
            if stream is None:
                raise NoStreamError("no receiver has created a stream yet")
            if signed.event_type not in STREAM_EVENTS:
                if not force and not self._wanted(stream, signed.event_type, subject):
                    return None
                if stream.status != "enabled":
                    if stream.status == "paused":
                        stream.held.append(signed)
                    return None
            return self._release(stream, signed)

    def release(self, signed: SignedSet) -> dict[str, Any] | None:
        """Deliver a formerly held SET: the push delivery to use, or None once queued for poll."""
        with self.cond:
            return self._release(self.stream, signed) if self.stream else None

    def _release(self, stream: Stream, signed: SignedSet) -> dict[str, Any] | None:
        if stream.delivery["method"] == PUSH:
            return dict(stream.delivery)
        stream.queue[signed.jti] = signed
        self.cond.notify_all()
        return None

    def record_push(self, result: PushResult) -> None:
        with self.cond:
            self.push_results.append(result)

    def record_verification(self, state: str | None) -> None:
        with self.cond:
            self.sent_verification_states.append(state)

    # RFC 8936 poll.

    def poll(self, stream_id: str, body: dict[str, Any], *, wait: float) -> dict[str, Any]:
        """Take acks and setErrs, then answer up to maxEvents queued SETs. Unacknowledged SETs
        stay queued and are sent again by the next poll. Without returnImmediately, an empty
        queue is waited on for up to `wait` seconds."""
        max_events, ack = body.get("maxEvents"), body.get("ack", [])
        set_errs, return_now = body.get("setErrs", {}), body.get("returnImmediately", False)
        if max_events is not None and (type(max_events) is not int or max_events < 0):
            raise _bad("maxEvents must be a non-negative integer")
        if not isinstance(ack, list) or not all(isinstance(jti, str) for jti in ack):
            raise _bad("ack must be an array of jti strings")
        if not isinstance(set_errs, dict):
            raise _bad("setErrs must be an object")
        with self.cond:
            stream = self._get(stream_id)
            if stream.delivery["method"] != POLL:
                raise ApiError(404, "not_found", "this stream is delivered by push")
            for jti in [*ack, *set_errs]:
                stream.queue.pop(jti, None)
            self.poll_errors.update(set_errs)
            if max_events != 0 and return_now is not True:
                self.cond.wait_for(lambda: self.stream is not stream or stream.queue, wait)
            pending = list(stream.queue.values())
            batch = pending if max_events is None else pending[:max_events]
            return {
                "sets": {s.jti: s.token for s in batch},
                "moreAvailable": len(batch) < len(pending),
            }
