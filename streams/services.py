"""Every write to streams. Network checks run before the transaction; each write is audited."""

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from common.metrics import jwks_fetch_counted
from common.tasks import enqueue_on_commit
from common.types import Actor
from streams.audit import stream_change_record, stream_snapshot
from streams.discovery import (
    DiscoveryError,
    TransmitterConfig,
    discover_from_issuer_and_jwks_url,
    discover_from_well_known_url,
    fetch_jwks,
    normalize_issuer,
)
from streams.fetch import url_origin
from streams.models import ConfigMethod, Stream, StreamAction, StreamStatus, push_secret_hash
from streams.push_secret import PUSH_SECRET_FIELDS, push_secret_replace
from streams.ssf_client import ManagementError
from streams.stream_management import (
    ManagementRequest,
    RemoteStream,
    client_for,
    management_row,
    remote_create_plan,
    remote_stream_create,
    stream_remote_delete,
    stream_remote_replace,
)

NAME_MAX_LENGTH = 100
EITHER_METHOD = "Give either a Well-known URL, or an Issuer URL and a JWKS URL."


def _clean_name(name: str, *, exclude_id: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Enter an integration name."})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError({"name": f"Use at most {NAME_MAX_LENGTH} characters."})
    if Stream.objects.filter(name=name).exclude(pk=exclude_id).exists():
        raise ValidationError(
            {"name": ValidationError(f"A stream named {name!r} exists already.", code="taken")}
        )
    return name


def _discover(
    *, well_known_url: str, issuer: str, jwks_url: str, expected_issuer: str = ""
) -> tuple[str, TransmitterConfig]:
    well_known_url, issuer, jwks_url = (v.strip() for v in (well_known_url, issuer, jwks_url))
    if well_known_url and not (issuer or jwks_url):
        found = discover_from_well_known_url(well_known_url, expected_issuer=expected_issuer)
        return ConfigMethod.WELL_KNOWN_URL, found
    if issuer and jwks_url and not well_known_url:
        return ConfigMethod.ISSUER_AND_JWKS_URL, discover_from_issuer_and_jwks_url(issuer, jwks_url)
    errors = {}
    if not well_known_url:
        if not issuer and jwks_url:
            errors["issuer"] = "Enter the transmitter's Issuer URL."
        if issuer and not jwks_url:
            errors["jwks_url"] = "Enter the transmitter's JWKS URL."
    raise ValidationError(errors or EITHER_METHOD)


def _check_issuer_free(issuer: str, *, exclude_id: str | None) -> None:
    other = (
        Stream.objects.filter(issuer_key=normalize_issuer(issuer)).exclude(pk=exclude_id).first()
    )
    if other is not None:
        raise ValidationError(
            f"The stream {other.name!r} already receives SETs from {issuer!r}.", code="issuer_taken"
        )


def _apply_config(
    stream: Stream, method: str, config: TransmitterConfig, well_known_url: str
) -> None:
    stream.config_method = method
    stream.well_known_url = well_known_url.strip() if method == ConfigMethod.WELL_KNOWN_URL else ""
    stream.issuer = config.issuer
    stream.issuer_key = normalize_issuer(config.issuer)
    stream.jwks_url = config.jwks_url
    stream.metadata = config.metadata
    stream.jwks = config.jwks
    stream.jwks_fetched_at = timezone.now()


# The metadata members whose URLs the management credential is sent to (SSF §7.1).
MANAGEMENT_ENDPOINTS = (
    "configuration_endpoint",
    "status_endpoint",
    "add_subject_endpoint",
    "remove_subject_endpoint",
    "verification_endpoint",
)


def _management_origins(metadata: dict[str, Any] | None) -> set[str]:
    urls = [(metadata or {}).get(name) for name in MANAGEMENT_ENDPOINTS]
    return {url_origin(url) for url in urls if isinstance(url, str) and url}


def _check_credential_stays(stream: Stream, config: TransmitterConfig) -> None:
    """A stream we manage keeps its credential's origins: re-pointed elsewhere, the stored
    token would go to a host it was never given to (and the stream lives at the old one)."""
    if not hasattr(stream, "management"):
        return
    moved = _management_origins(config.metadata) - _management_origins(stream.metadata)
    if moved:
        raise ValidationError(
            f"This stream is managed at the transmitter with a credential given for "
            f"{', '.join(sorted(_management_origins(stream.metadata)))}; it cannot be sent to "
            f"{', '.join(sorted(moved))}. Remove the stream and add it again with the new "
            "transmitter's credential."
        )


def _save_unique(stream: Stream, **kwargs: Any) -> None:
    """Save; a name or issuer taken meanwhile by a concurrent save is a ValidationError too."""
    try:
        with transaction.atomic():
            stream.save(**kwargs)
    except IntegrityError as exc:
        raise ValidationError(
            "Another stream with this name or issuer was saved meanwhile."
        ) from exc


# A create at the transmitter takes a few bounded calls (token, up to MAX_NEGOTIATION_ROUNDS
# creates, a read back), each under streams.fetch's deadline: far less than this.
PENDING_STREAM_MAX_AGE = timedelta(minutes=5)


def streams_pending_discard() -> int:
    """Delete streams left pending by a create at the transmitter that never finished (the
    process died mid-call): after PENDING_STREAM_MAX_AGE they block their name and issuer for
    nothing. A rerun finds nothing more."""
    stale = Stream.objects.filter(pending_since__lt=timezone.now() - PENDING_STREAM_MAX_AGE)
    return stale.delete()[1].get(Stream._meta.label, 0)


def stream_create(
    *,
    name: str,
    well_known_url: str = "",
    issuer: str = "",
    jwks_url: str = "",
    expected_issuer: str = "",
    provider_type: str = "ssf",
    strict_claims: bool = False,
    management: ManagementRequest | None = None,
    actor: Actor = None,
    actor_name: str | None = None,
) -> Stream:
    """Validate the transmitter (metadata, issuer, JWKS) and save the stream Active.

    With `management`, the stream is also created at the transmitter (SSF §8.1.1.1; on 409
    the existing one is adopted). Raises ValidationError for bad input and DiscoveryError when
    the transmitter does not check out; either way nothing is kept here.
    """
    if management is not None:
        streams_pending_discard()
    name = _clean_name(name, exclude_id=None)
    method, config = _discover(
        well_known_url=well_known_url,
        issuer=issuer,
        jwks_url=jwks_url,
        expected_issuer=expected_issuer,
    )
    _check_issuer_free(config.issuer, exclude_id=None)
    stream = Stream(name=name, provider_type=provider_type or "ssf", strict_claims=strict_claims)
    _apply_config(stream, method, config, well_known_url)
    row = None
    if management is not None:
        remote = _stream_create_remote(stream, management)
        try:
            row = management_row(stream=stream, request=management, remote=remote)
        except ManagementError as exc:
            _pending_discard(stream)
            raise DiscoveryError(f"The transmitter's stream is not usable: {exc}") from exc
    with transaction.atomic():
        if row is None:
            _save_unique(stream, force_insert=True)
        else:
            stream.pending_since = None
            stream.save(update_fields=["pending_since", "updated_at"])
            row.save()
            if (config.metadata or {}).get("verification_endpoint"):
                enqueue_on_commit("streams.tasks.request_stream_verification", stream.pk)
        stream_change_record(
            stream=stream,
            action=StreamAction.CREATE,
            actor=actor,
            actor_name=actor_name,
            before=None,
            after=stream_snapshot(stream),
        )
    return stream


def _pending_discard(stream: Stream) -> None:
    Stream.objects.filter(pk=stream.pk, pending_since__isnull=False).delete()


def _stream_create_remote(stream: Stream, management: ManagementRequest) -> RemoteStream:
    """Create the stream at the transmitter, the stream saved pending first: transmitters push
    their verification SET during the call (solarssk before answering, and it undoes the
    stream unless that push gets 202; authentik queues it), so our side must already know the
    issuer, the keys and the push secret. A failed create removes the pending stream."""
    metadata = stream.metadata or {}
    if not metadata.get("configuration_endpoint"):
        raise DiscoveryError(
            "The transmitter offers no stream management (its metadata has no "
            "configuration_endpoint). Add the stream without creating it at the transmitter."
        )
    try:
        plan = remote_create_plan(
            stream_id=stream.pk, metadata=metadata, request=management, description=stream.name
        )
    except ManagementError as exc:
        raise DiscoveryError(f"The stream cannot be created at the transmitter: {exc}") from exc
    if plan.push_secret is not None:
        stream.push_authorization_hash = push_secret_hash(plan.push_secret)
    stream.pending_since = timezone.now()
    _save_unique(stream, force_insert=True)  # committed: the transmitter's pushes must find it
    done = False
    try:
        client = client_for(stream, management.credentials)
        remote = remote_stream_create(client=client, plan=plan)
        done = True
    except ManagementError as exc:
        raise DiscoveryError(f"Creating the stream at the transmitter failed: {exc}") from exc
    finally:
        if not done:
            _pending_discard(stream)
    return remote


def stream_update(
    *,
    stream: Stream,
    name: str,
    well_known_url: str = "",
    issuer: str = "",
    jwks_url: str = "",
    expected_issuer: str = "",
    provider_type: str | None = None,
    strict_claims: bool | None = None,
    actor: Actor = None,
    actor_name: str | None = None,
) -> Stream:
    """Revalidate the transmitter exactly as `stream_create` does and save the changes."""
    name = _clean_name(name, exclude_id=stream.pk)
    method, config = _discover(
        well_known_url=well_known_url,
        issuer=issuer,
        jwks_url=jwks_url,
        expected_issuer=expected_issuer,
    )
    _check_issuer_free(config.issuer, exclude_id=stream.pk)
    _check_credential_stays(stream, config)
    before = stream_snapshot(stream)
    stream.name = name
    if provider_type is not None:
        stream.provider_type = provider_type or "ssf"
    if strict_claims is not None:
        stream.strict_claims = strict_claims
    _apply_config(stream, method, config, well_known_url)
    with transaction.atomic():
        _save_unique(stream)
        stream_change_record(
            stream=stream,
            action=StreamAction.UPDATE,
            actor=actor,
            actor_name=actor_name,
            before=before,
            after=stream_snapshot(stream),
        )
    return stream


def _set_status(
    stream: Stream,
    status: StreamStatus,
    action: StreamAction,
    actor: Actor,
    actor_name: str | None,
) -> Stream:
    with transaction.atomic():
        locked = Stream.objects.select_for_update().get(pk=stream.pk)
        if locked.status == status:
            stream.status = status
            return stream
        before = stream_snapshot(locked)
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        stream_change_record(
            stream=locked,
            action=action,
            actor=actor,
            actor_name=actor_name,
            before=before,
            after=stream_snapshot(locked),
        )
    stream.status = status
    return stream


def stream_activate(
    *, stream: Stream, actor: Actor = None, actor_name: str | None = None
) -> Stream:
    """Accept SETs from the stream again; activating an Active stream changes nothing."""
    return _set_status(stream, StreamStatus.ACTIVE, StreamAction.ACTIVATE, actor, actor_name)


def stream_deactivate(
    *, stream: Stream, actor: Actor = None, actor_name: str | None = None
) -> Stream:
    """Refuse the stream's SETs (access_denied) until it is activated; a repeat changes nothing."""
    return _set_status(stream, StreamStatus.INACTIVE, StreamAction.DEACTIVATE, actor, actor_name)


def stream_delete(
    *,
    stream: Stream,
    at_transmitter: bool = True,
    actor: Actor = None,
    actor_name: str | None = None,
) -> None:
    """Remove the stream; its audit trail and other apps' records of its events stay.

    A stream we manage is deleted at the transmitter first (`at_transmitter`); if that fails,
    ManagementError is raised and nothing is removed here.
    """
    if at_transmitter and hasattr(stream, "management"):
        stream_remote_delete(stream=stream)
    with transaction.atomic():
        stream_change_record(
            stream=stream,
            action=StreamAction.DELETE,
            actor=actor,
            actor_name=actor_name,
            before=stream_snapshot(stream),
            after=None,
        )
        stream.delete()


@transaction.atomic
def stream_push_secret_rotate(
    *, stream: Stream, actor: Actor = None, actor_name: str | None = None
) -> str:
    """Generate a new push authorization secret, store its hash and return it (shown once).

    The transmitter must send the returned value, verbatim, as its `Authorization` header; the
    previous secret keeps working for PUSH_SECRET_GRACE_SECONDS while it is reconfigured.
    """
    secret = "Bearer " + secrets.token_urlsafe(32)
    push_secret_replace(stream, secret)
    stream.save(update_fields=PUSH_SECRET_FIELDS)
    stream_change_record(
        stream=stream,
        action=StreamAction.ROTATE_PUSH_SECRET,
        actor=actor,
        actor_name=actor_name,
    )
    return secret


def stream_push_secret_renew(*, stream: Stream, actor: Actor = None) -> str | None:
    """Rotate the push secret where the transmitter will learn it. A push stream we manage gets
    the new value installed at the transmitter by replacing its configuration (PUT, SSF
    §8.1.1.5: `delivery` is receiver-supplied) and None is returned, as there is nothing to give
    by hand; otherwise the new secret is returned, to be shown once.

    ManagementError when the transmitter refused: it still has the old secret, which stays valid.
    """
    management = getattr(stream, "management", None)
    if management is None or management.is_poll:
        return stream_push_secret_rotate(stream=stream, actor=actor)
    stream_remote_replace(stream=stream, actor=actor)
    stream_change_record(stream=stream, action=StreamAction.ROTATE_PUSH_SECRET, actor=actor)
    return None


@transaction.atomic
def stream_push_secret_clear(
    *, stream: Stream, actor: Actor = None, actor_name: str | None = None
) -> None:
    """Stop requiring an Authorization header on the stream's pushes."""
    stream.push_authorization_hash = ""
    stream.previous_push_authorization_hash = ""
    stream.previous_push_authorization_until = None
    stream.save(update_fields=PUSH_SECRET_FIELDS)
    stream_change_record(
        stream=stream,
        action=StreamAction.CLEAR_PUSH_SECRET,
        actor=actor,
        actor_name=actor_name,
    )


def stream_jwks_refetch(*, stream: Stream) -> bool:
    """Refetch the stream's JWKS (key rotation), at most once per JWKS_REFETCH_MIN_INTERVAL_SECONDS.

    Returns False when the rate limit says not now. The claim on the refetch is a conditional
    UPDATE, so concurrent workers fetch once between them. Raises DiscoveryError when the JWKS
    cannot be fetched or holds no usable key; the cached JWKS is then kept.
    """
    now = timezone.now()
    window_start = now - timedelta(seconds=settings.JWKS_REFETCH_MIN_INTERVAL_SECONDS)
    claimed = (
        Stream.objects.filter(pk=stream.pk)
        .filter(
            Q(jwks_refetch_attempted_at__isnull=True)
            | Q(jwks_refetch_attempted_at__lt=window_start)
        )
        .update(jwks_refetch_attempted_at=now)
    )
    if not claimed:
        return False
    with jwks_fetch_counted(stream_id=stream.pk):
        jwks, _keys = fetch_jwks(stream.jwks_url)
    fetched_at = timezone.now()
    Stream.objects.filter(pk=stream.pk).update(jwks=jwks, jwks_fetched_at=fetched_at)
    stream.jwks, stream.jwks_fetched_at = jwks, fetched_at
    return True


def streams_jwks_refresh() -> dict[str, int]:
    """Refetch every active stream's JWKS (beat, hourly), so revoked keys stop verifying.

    A JWKS that cannot be fetched or holds no usable key leaves the cached one in place;
    a rerun only fetches again.
    """
    counts = {"refreshed": 0, "failed": 0}
    for stream in Stream.objects.filter(status=StreamStatus.ACTIVE):
        try:
            with jwks_fetch_counted(stream_id=stream.pk):
                jwks, _keys = fetch_jwks(stream.jwks_url)
        except DiscoveryError:
            counts["failed"] += 1
            continue
        if jwks != stream.jwks:
            Stream.objects.filter(pk=stream.pk).update(jwks=jwks, jwks_fetched_at=timezone.now())
        counts["refreshed"] += 1
    return counts
