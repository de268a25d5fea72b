"""Streams this receiver manages at the transmitter: create (or adopt on 409), read, update,
replace, delete, status, subjects and verification (SSF 1.0 §8), and their upkeep.

Calls go out before any transaction is opened (streams.ssf_client); what they return is then
saved. A failed call is recorded on the stream (`last_error`, flagged on the list) and raised
as ManagementError for the caller to show.
"""

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from common.crypto import decrypt, encrypt
from common.tasks import enqueue_on_commit
from common.types import Actor
from streams.audit import stream_change_record
from streams.models import (
    DeliveryMethod,
    ManagementAuth,
    RemoteStatus,
    Stream,
    StreamAction,
    StreamManagement,
    StreamSubject,
)
from streams.push_secret import PUSH_SECRET_FIELDS, push_secret_replace
from streams.ssf_client import Credentials, ManagementError, TransmitterClient, with_stream_id

LEGACY_DELIVERY_METHODS = {
    "https://schemas.openid.net/secevent/risc/delivery-method/push": DeliveryMethod.PUSH,
    "https://schemas.openid.net/secevent/risc/delivery-method/poll": DeliveryMethod.POLL,
}
LEGACY_URI_OF: dict[str, str] = {method: uri for uri, method in LEGACY_DELIVERY_METHODS.items()}
# A strict transmitter's refusal is read for what it names, at most this many times per change.
MAX_NEGOTIATION_ROUNDS = 3
# Receiver-supplied members we leave out when a refusal names them (SSF: optional).
OPTIONAL_MEMBERS = ("description",)


@dataclass(frozen=True)
class ManagementRequest:
    """What an admin asks for when a new stream is created at the transmitter."""

    delivery_method: str
    events_requested: list[str]
    credentials: Credentials


@dataclass(frozen=True)
class CreatePlan:
    """The create request, decided before the call: its body and, for push, the Authorization
    value in it (the stream must accept that value before the call is made)."""

    body: dict[str, Any]
    push_secret: str | None


@dataclass(frozen=True)
class RemoteStream:
    """The stream as created (or adopted) at the transmitter, and what was asked for in the end."""

    config: dict[str, Any]
    push_secret: str | None
    events_requested: list[str]
    sends_description: bool


def push_endpoint_for(stream_id: str) -> str:
    """Our per-stream push endpoint (SSF §6.1.1: unique per stream), given to the transmitter."""
    return str(settings.SITE_URL) + reverse("events:security_event_push_stream", args=[stream_id])


def credentials_of(management: StreamManagement) -> Credentials:
    """The stored credential, decrypted; ManagementError when DJANGO_SECRET_KEY changed."""
    try:
        return _decrypted(management)
    except ValueError as exc:
        raise ManagementError(f"The management credential cannot be read: {exc}") from exc


def _decrypted(management: StreamManagement) -> Credentials:
    if management.auth_method == ManagementAuth.CLIENT_CREDENTIALS:
        return Credentials(
            auth_method=management.auth_method,
            token_url=management.token_url,
            client_id=management.client_id,
            client_secret=decrypt(management.encrypted_client_secret),
            scope=management.scope,
            token_auth_method=management.token_auth_method,
        )
    return Credentials(
        auth_method=management.auth_method, token=decrypt(management.encrypted_token)
    )


def client_for(stream: Stream, credentials: Credentials | None = None) -> TransmitterClient:
    """A management client for a stream we manage (its own credential unless one is given)."""
    if credentials is None:
        credentials = credentials_of(stream.management)
    return TransmitterClient(
        metadata=stream.metadata or {}, issuer=stream.issuer, credentials=credentials
    )


def delivery_method_uri(metadata: dict[str, Any], method: str) -> str:
    """The URI to ask for `method` by: one the transmitter lists in delivery_methods_supported,
    SSF's (`urn:ietf:rfc:893x`) before the legacy RISC one; SSF's when it lists none (the
    member is only RECOMMENDED). ManagementError names what it offers when neither is there."""
    offered = metadata.get("delivery_methods_supported")
    if not isinstance(offered, list) or not offered:
        return method
    for uri in (method, LEGACY_URI_OF[method]):
        if uri in offered:
            return uri
    label = DeliveryMethod(method).label
    listed = ", ".join(str(uri) for uri in offered)
    raise ManagementError(
        f"The transmitter does not offer {label} delivery; it offers only: {listed}."
    )


def _delivery(
    method: str, stream_id: str, metadata: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """The receiver-supplied `delivery` member and, for push, the new Authorization value."""
    uri = delivery_method_uri(metadata, method)
    if method == DeliveryMethod.POLL:
        return {"method": uri}, None
    secret = "Bearer " + secrets.token_urlsafe(32)
    body = {
        "method": uri,
        "endpoint_url": push_endpoint_for(stream_id),
        "authorization_header": secret,
    }
    return body, secret


def _without_secret(config: dict[str, Any]) -> dict[str, Any]:
    """The transmitter's view of the stream minus the push secret it echoes (kept hashed only)."""
    delivery = config.get("delivery")
    if isinstance(delivery, dict) and "authorization_header" in delivery:
        config = {**config, "delivery": {k: v for k, v in delivery.items()
                                         if k != "authorization_header"}}  # fmt: skip
    return config


def _delivery_of(config: dict[str, Any]) -> tuple[str, str]:
    delivery = config.get("delivery")
    if not isinstance(delivery, dict):
        delivery = {}
    method = delivery.get("method", "")
    method = LEGACY_DELIVERY_METHODS.get(method, method)
    if method not in DeliveryMethod.values:
        raise ManagementError(f"The transmitter chose an unknown delivery method {method!r}.")
    endpoint = delivery.get("endpoint_url") or delivery.get("url") or ""
    if method == DeliveryMethod.POLL and not endpoint:
        raise ManagementError("The transmitter gave no poll endpoint_url.")
    return method, endpoint


def supported_events(requested: list[str], config: dict[str, Any]) -> list[str]:
    """The requested events a stream's `events_supported` lists (all of them when it lists none);
    ManagementError when it lists none of them, since strict transmitters refuse the others."""
    supported = config.get("events_supported")
    if not isinstance(supported, list) or not supported:
        return requested
    kept = [uri for uri in requested if uri in supported]
    if not kept:
        raise ManagementError(
            "The transmitter supports none of the events requested; it supports: "
            + ", ".join(str(uri) for uri in supported)
        )
    return kept


def _names(text: str, name: str) -> bool:
    """Whether a refusal names `name` (as a word, a JSON key or a quoted path element)."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def _adjusted(
    body: dict[str, Any], exc: ManagementError, asked_for: dict[str, Any]
) -> dict[str, Any] | None:
    """The body changed as a 400/422 refusal asks, or None when it names nothing we can change:
    optional members it names are left out, members of `asked_for` it names are added, and the
    requested events it names are dropped when some it does not name remain."""
    if exc.status not in (400, 422) or not exc.refusal:
        return None
    text, changed = exc.refusal, dict(body)
    for name in OPTIONAL_MEMBERS:
        if name in changed and _names(text, name):
            del changed[name]
    for name, value in asked_for.items():
        if name not in changed and _names(text, name):
            changed[name] = value
    events = changed.get("events_requested") or []
    refused = [uri for uri in events if uri in text]
    if refused and len(refused) < len(events):
        changed["events_requested"] = [uri for uri in events if uri not in refused]
    return changed if changed != body else None


def _negotiated(
    send: Callable[[dict[str, Any]], Any], body: dict[str, Any], asked_for: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """Send `body`; while a strict transmitter's refusal names what to change, change it and
    send again (MAX_NEGOTIATION_ROUNDS at most). Returns the answer and the body it took."""
    for _round in range(MAX_NEGOTIATION_ROUNDS):
        try:
            return send(body), body
        except ManagementError as exc:
            changed = _adjusted(body, exc, asked_for)
            if changed is None:
                raise
            body = changed
    return send(body), body


def _create_members() -> dict[str, Any]:
    """Members SSF has the transmitter supply that strict ones require at creation, as we send
    them when asked (protocol.md §12: solarssk and authentik want `aud`, authentik `format`)."""
    return {"aud": [settings.RECEIVER_AUDIENCE], "format": "email"}


def remote_create_plan(
    *, stream_id: str, metadata: dict[str, Any], request: ManagementRequest, description: str
) -> CreatePlan:
    """The create request for a stream; ManagementError when the transmitter offers no
    delivery method in common with the one asked for."""
    delivery, push_secret = _delivery(request.delivery_method, stream_id, metadata)
    body = {
        "delivery": delivery,
        "events_requested": list(request.events_requested),
        "description": description,
    }
    return CreatePlan(body=body, push_secret=push_secret)


def _read_back(client: TransmitterClient, created: dict[str, Any]) -> dict[str, Any]:
    """A create answered without `stream_id` (2021 drafts): read the stream back with GET. A
    single-stream transmitter may name none there either; its configuration is then used as is."""
    ours = (created.get("delivery") or {}).get("endpoint_url")
    found = client.read_streams()
    mine = [c for c in found if ours and (c.get("delivery") or {}).get("endpoint_url") == ours]
    return (mine or found or [created])[0]


def remote_stream_create(*, client: TransmitterClient, plan: CreatePlan) -> RemoteStream:
    """Create the stream at the transmitter (on 409, adopt the existing one by PATCH), asking
    only for what it accepts (`_negotiated`)."""
    body = plan.body
    try:
        config, body = _negotiated(client.create_stream, body, _create_members())
    except ManagementError as exc:
        if exc.status != 409:
            raise
        existing = [c for c in client.read_streams() if c.get("stream_id")]
        if not existing:
            raise
        remote_id = existing[0]["stream_id"]
        body = {**body, "events_requested": supported_events(body["events_requested"],
                                                             existing[0])}  # fmt: skip
        patched, body = _negotiated(
            lambda b: client.change_stream("PATCH", with_stream_id(remote_id, b)), body, {}
        )
        config = patched or client.read_stream(remote_id)
    if not config.get("stream_id"):
        config = _read_back(client, config)
    return RemoteStream(
        config=config,
        push_secret=plan.push_secret,
        events_requested=body["events_requested"],
        sends_description="description" in body,
    )


def management_row(
    *, stream: Stream, request: ManagementRequest, remote: RemoteStream
) -> StreamManagement:
    """The unsaved management record of a stream just created (or adopted) at the transmitter."""
    method, endpoint = _delivery_of(remote.config)
    credentials = request.credentials
    return StreamManagement(
        stream=stream,
        remote_stream_id=str(remote.config.get("stream_id") or ""),
        delivery_method=method,
        delivery_endpoint=endpoint,
        events_requested=remote.events_requested,
        remote_config=_without_secret(remote.config),
        auth_method=credentials.auth_method,
        encrypted_token=encrypt(credentials.token) if credentials.token else "",
        token_url=credentials.token_url,
        client_id=credentials.client_id,
        encrypted_client_secret=encrypt(credentials.client_secret)
        if credentials.client_secret
        else "",
        scope=credentials.scope,
        token_auth_method=credentials.token_auth_method,
        sends_description=remote.sends_description,
        last_contact_at=timezone.now(),
    )


def _contact(management: StreamManagement, **fields: Any) -> None:
    """Record that the transmitter answered (and what changed); clears a previous failure."""
    if "remote_config" in fields:
        fields["remote_config"] = _without_secret(fields["remote_config"])
    fields |= {"last_contact_at": timezone.now(), "last_error": "", "last_error_at": None}
    StreamManagement.objects.filter(pk=management.pk).update(**fields)
    for name, value in fields.items():
        setattr(management, name, value)


def _failed(management: StreamManagement, exc: ManagementError) -> ManagementError:
    """Record that the transmitter failed us (the list flags the stream); returns `exc`."""
    StreamManagement.objects.filter(pk=management.pk).update(
        last_error=str(exc)[:500], last_error_at=timezone.now()
    )
    management.last_error = str(exc)[:500]
    return exc


def _call(stream: Stream, method: str, *args: Any) -> tuple[StreamManagement, Any]:
    """Call `client.<method>(*args)`; record a failure on the stream (flagged on the list)."""
    management = stream.management
    try:
        client = client_for(stream)
        return management, getattr(client, method)(*args)
    except ManagementError as exc:
        raise _failed(management, exc) from exc


def stream_remote_refresh(*, stream: Stream) -> dict[str, Any]:
    """Read the stream at the transmitter and keep its view (`events_delivered`, ...)."""
    management, config = _call(stream, "read_stream", stream.management.remote_stream_id)
    _contact(management, remote_config=config)
    return dict(config)


def stream_remote_update(
    *, stream: Stream, events_requested: list[str], actor: Actor = None
) -> None:
    """PATCH the events we request (and our description); a 202 means later: re-read then.

    Events the stream's `events_supported` does not list are not requested (strict transmitters
    refuse them); a refusal naming our description drops it, for good (`_change_remote`).
    """
    management = stream.management
    events_requested = supported_events(events_requested, management.remote_config)
    body = _receiver_props(management, stream, events_requested=events_requested)
    config = _change_remote(stream, "PATCH", body)
    before = {"events_requested": management.events_requested}
    with transaction.atomic():
        if config is None:
            _check_deferred_change_later(stream)
        _contact(
            management,
            events_requested=events_requested,
            **({"remote_config": config} if config else {}),
        )
        stream_change_record(
            stream=stream,
            action=StreamAction.UPDATE,
            actor=actor,
            before=before,
            after={"events_requested": events_requested},
        )


def _receiver_props(
    management: StreamManagement, stream: Stream, *, events_requested: list[str]
) -> dict[str, Any]:
    props: dict[str, Any] = {"events_requested": events_requested}
    if management.sends_description:
        props["description"] = stream.name
    return props


def _change_remote(stream: Stream, method: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """PATCH or PUT `body` (negotiated as at creation, adding nothing); a transmitter that
    refused our description is not sent it again. Failures are recorded on the stream."""
    management = stream.management
    sid = management.remote_stream_id
    try:
        client = client_for(stream)
        config, sent = _negotiated(
            lambda b: client.change_stream(method, with_stream_id(sid, b)), body, {}
        )
    except ManagementError as exc:
        raise _failed(management, exc) from exc
    if "description" in body and "description" not in sent:
        StreamManagement.objects.filter(pk=management.pk).update(sends_description=False)
        management.sends_description = False
    return dict(config) if config is not None else None


def _push_secret_install(stream: Stream, secret: str) -> dict[str, Any]:
    """Accept `secret` from now on (the old one for its grace period); returns what to put
    back if the transmitter refuses it."""
    with transaction.atomic():
        locked = Stream.objects.select_for_update().get(pk=stream.pk)
        secret_fields = [name for name in PUSH_SECRET_FIELDS if name != "updated_at"]
        before = {name: getattr(locked, name) for name in secret_fields}
        push_secret_replace(locked, secret)
        locked.save(update_fields=PUSH_SECRET_FIELDS)
    return before


def stream_remote_replace(*, stream: Stream, actor: Actor = None) -> None:
    """PUT every receiver-supplied property again (SSF §8.1.1.5); a push stream gets a new
    Authorization value, since only the old one's hash is kept.

    The new value is accepted before the PUT is sent: the transmitter may push with it before
    its answer reaches us, or its answer may never reach us. Only a refusal (a 4xx or 429: not
    applied) puts the old value back; without an answer, or on a 5xx, both stay accepted.
    """
    management = stream.management
    delivery, secret = _delivery(management.delivery_method, stream.pk, stream.metadata or {})
    body = _receiver_props(management, stream, events_requested=management.events_requested)
    body["delivery"] = delivery
    before = _push_secret_install(stream, secret) if secret is not None else None
    try:
        config = _change_remote(stream, "PUT", body)
    except ManagementError as exc:
        if before is not None and exc.status is not None and not exc.transient:
            Stream.objects.filter(pk=stream.pk).update(**before, updated_at=timezone.now())
        raise
    with transaction.atomic():
        if config is None:
            _check_deferred_change_later(stream)
        _contact(management, **({"remote_config": config} if config else {}))
        stream_change_record(stream=stream, action=StreamAction.REPLACE_REMOTE, actor=actor)


def stream_remote_change(
    *, stream: Stream, events_requested: list[str], replace: bool, actor: Actor = None
) -> None:
    """What Edit does at the transmitter: update the events requested (PATCH), or replace the
    whole configuration with them (PUT). Only events the stream's `events_supported` lists are
    requested."""
    events_requested = supported_events(events_requested, stream.management.remote_config)
    if replace:
        StreamManagement.objects.filter(pk=stream.pk).update(events_requested=events_requested)
        stream.management.events_requested = events_requested
        stream_remote_replace(stream=stream, actor=actor)
    else:
        stream_remote_update(stream=stream, events_requested=events_requested, actor=actor)


def stream_remote_delete(*, stream: Stream) -> None:
    """DELETE the stream at the transmitter (404: already gone, which is fine)."""
    _call(stream, "delete_stream", stream.management.remote_stream_id)


def stream_status_refresh(*, stream: Stream) -> str:
    """GET the stream's status at the transmitter; this also counts as activity."""
    management, body = _call(stream, "get_status", stream.management.remote_stream_id)
    status = body.get("status", "")
    if status in RemoteStatus.values:
        _contact(
            management, remote_status=status, remote_status_reason=str(body.get("reason", ""))[:500]
        )
    else:
        _contact(management)
    return management.remote_status


def stream_status_set(
    *, stream: Stream, status: str, reason: str = "", actor: Actor = None
) -> bool:
    """POST a new status; False when the transmitter answered 202 (decided later)."""
    if status not in RemoteStatus.values:
        raise ManagementError(f"{status!r} is not an SSF stream status.")
    sid = stream.management.remote_stream_id
    management, answer = _call(stream, "set_status", sid, status, reason)
    with transaction.atomic():
        if answer is None:
            _contact(management)
            _check_deferred_change_later(stream, expected_status=status)
        else:
            # The transmitter's answer, when it is a status at all (it is stored and shown).
            answered = answer.get("status")
            _contact(
                management,
                remote_status=answered if answered in RemoteStatus.values else status,
                remote_status_reason=reason[:500],
            )
        stream_change_record(
            stream=stream,
            action=StreamAction.SET_REMOTE_STATUS,
            actor=actor,
            after={"status": status, "reason": reason},
        )
    return answer is not None


def _check_deferred_change_later(stream: Stream, expected_status: str = "") -> None:
    enqueue_on_commit("streams.tasks.check_deferred_change", stream.pk, expected_status, 0,
                      countdown=settings.STREAM_DEFERRED_CHECK_SECONDS)  # fmt: skip


def stream_deferred_change_check(*, stream: Stream, expected_status: str = "") -> bool:
    """Read the stream and its status again after the transmitter answered 202 (SSF §8.1.1.3,
    §8.1.2.2: accepted, applied later); true once the events we request and, if one was asked
    for, the status are what the transmitter reports."""
    config = stream_remote_refresh(stream=stream)
    status = stream_status_refresh(stream=stream)
    events_settled = config.get("events_requested") == stream.management.events_requested
    return events_settled and (not expected_status or status == expected_status)


def stream_remote_status_record(*, stream_id: str, status: str, reason: str = "") -> None:
    """A stream-updated SET (SSF §8.1.5) told us the transmitter changed the status."""
    if status in RemoteStatus.values:
        StreamManagement.objects.filter(pk=stream_id).update(
            remote_status=status, remote_status_reason=reason[:500]
        )


def stream_verification_request(*, stream: Stream, actor: Actor = None) -> str:
    """Ask for a verification SET with a fresh random `state`; Verified shows when it comes.

    The state is saved before the request: the transmitter may send the SET before it even
    answers ours. A 429 (too soon after the last one, `min_verification_interval`) postpones
    the next automatic request instead of failing the stream.
    """
    state = secrets.token_urlsafe(24)
    management = stream.management
    now = timezone.now()
    StreamManagement.objects.filter(pk=management.pk).update(
        verification_state=state, verification_requested_at=now
    )
    try:
        _call(stream, "request_verification", management.remote_stream_id, state)
    except ManagementError as exc:
        StreamManagement.objects.filter(pk=management.pk, verification_state=state).update(
            verification_state="", verification_requested_at=None
        )
        if exc.status == 429:
            wait = exc.retry_after or _min_interval(management) or 60
            StreamManagement.objects.filter(pk=management.pk).update(
                next_verification_at=timezone.now() + timedelta(seconds=wait), last_error=""
            )
        raise
    with transaction.atomic():
        _contact(management, next_verification_at=now + _verification_interval(management))
        stream_change_record(stream=stream, action=StreamAction.REQUEST_VERIFICATION, actor=actor)
    return state


def stream_verification_outstanding(*, stream_id: str) -> str:
    """The state of the verification we are waiting for ('' when none)."""
    return (
        StreamManagement.objects.filter(pk=stream_id)
        .values_list("verification_state", flat=True)
        .first()
        or ""
    )


def stream_verification_confirm(*, stream_id: str, state: str) -> bool:
    """The verification SET with our `state` arrived: the stream is Verified now."""
    return bool(
        StreamManagement.objects.filter(pk=stream_id, verification_state=state)
        .exclude(verification_state="")
        .update(verified_at=timezone.now(), verification_state="", verification_failed_at=None)
    )


def _min_interval(management: StreamManagement) -> int:
    """The transmitter's min_verification_interval, within reason (at most a week)."""
    value = management.remote_config.get("min_verification_interval")
    return min(value, 7 * 86400) if isinstance(value, int) and value > 0 else 0


def _verification_interval(management: StreamManagement) -> timedelta:
    return timedelta(
        seconds=max(settings.STREAM_VERIFICATION_INTERVAL_SECONDS, _min_interval(management))
    )


def stream_subject_add(
    *, stream: Stream, subject: dict[str, Any], actor: Actor = None
) -> StreamSubject:
    """Add a subject at the transmitter (for streams whose default_subjects is NONE)."""
    sid = stream.management.remote_stream_id
    management, _ = _call(stream, "add_subject", sid, subject)
    with transaction.atomic():
        _contact(management)
        row = StreamSubject.objects.create(stream=stream, subject=subject)
        stream_change_record(
            stream=stream, action=StreamAction.ADD_SUBJECT, actor=actor, after={"subject": subject}
        )
    return row


def stream_subject_remove(*, subject: StreamSubject, actor: Actor = None) -> None:
    """Remove a subject at the transmitter; its events may still come, and are still accepted."""
    stream = subject.stream
    sid = stream.management.remote_stream_id
    management, _ = _call(stream, "remove_subject", sid, subject.subject)
    with transaction.atomic():
        _contact(management)
        stream_change_record(
            stream=stream,
            action=StreamAction.REMOVE_SUBJECT,
            actor=actor,
            before={"subject": subject.subject},
        )
        subject.delete()


def managed_streams_maintain() -> dict[str, int]:
    """Upkeep, run by beat: keep push streams alive against `inactivity_timeout` with a status
    read, request periodic verification, and flag verifications that never came."""
    now = timezone.now()
    counts = {"status_reads": 0, "verifications": 0, "flagged": 0, "errors": 0}
    for management in StreamManagement.objects.select_related("stream"):
        stream = management.stream
        if not stream.is_active:
            continue
        timeout = management.remote_config.get("inactivity_timeout")
        keepalive = min(
            int(timeout) // 2 if isinstance(timeout, int) and timeout > 1 else 10**9,
            settings.STREAM_KEEPALIVE_MAX_SECONDS,
        )
        try:
            stale = (
                management.last_contact_at is None
                or management.last_contact_at < now - timedelta(seconds=keepalive)
            )
            if not management.is_poll and stale:
                stream_status_refresh(stream=stream)
                counts["status_reads"] += 1
            waiting_since = management.verification_requested_at
            if (
                management.verification_state
                and waiting_since
                and waiting_since
                < now - timedelta(seconds=settings.STREAM_VERIFICATION_TIMEOUT_SECONDS)
            ):
                StreamManagement.objects.filter(pk=management.pk).update(verification_failed_at=now)
                counts["flagged"] += 1
            due = management.next_verification_at is None or management.next_verification_at <= now
            if (stream.metadata or {}).get("verification_endpoint") and due:
                stream_verification_request(stream=stream)
                counts["verifications"] += 1
        except ManagementError:
            counts["errors"] += 1
    return counts


def stream_poll_request(*, stream: Stream, body: dict[str, Any]) -> dict[str, Any]:
    """One RFC 8936 request to the stream's poll endpoint; polling counts as activity."""
    management, answer = _call(stream, "poll", stream.management.delivery_endpoint, body)
    _contact(management, last_polled_at=timezone.now())
    return dict(answer)
