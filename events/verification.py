"""SET verification: the one function the push endpoint and the poll client both call.

Checks, in order (RFC 8417, RFC 8935 §2, SSF 1.0 §4 and the checklist in protocol.md §9):
1. the body is one compact JWS whose header and payload are JSON objects (`invalid_request`);
2. its `iss` names one of our streams (`invalid_issuer`) and that stream is Active
   (`access_denied`); for a push, the stream's Authorization secret when it has one
   (`authentication_failed`);
3. `typ` is `secevent+jwt` (missing, or PyJWT's `JWT`, is tolerated and recorded unless the
   stream is strict), `alg` an asymmetric algorithm, the key found by `kid` (one rate-limited
   JWKS refetch on an unknown `kid`), pinned to `alg`, and the signature good (`invalid_key`; an
   unreachable JWKS is a 503, not a refusal);
4. the claims: `aud` holds our audience (`invalid_audience`); `iat`, `jti`, `events` and a subject
   are present and well-formed; `sub`/`exp` refused on strict streams (`invalid_request`); a
   stream event names this stream and a verification's `state` is ours (SSF 1.0 §8.1.4).
Claims are not trusted before the signature checks out; only `iss` is read earlier, to find keys.
Nothing is decoded that nests deeper than SET_MAX_JSON_DEPTH.

What a refusal says to the sender (`SetError.answer`) names nothing of ours that the sender did
not send: stream names and outbound-fetch details stay in the stored rejection, for admins.
"""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.utils import timezone
from jwcrypto.common import base64url_decode
from jwcrypto.jwa import JWA
from redis.exceptions import RedisError

from common.json_depth import json_text_deeper_than
from common.text import has_unstorable_text
from events.selectors import security_event_seen
from streams.discovery import DiscoveryError, normalize_issuer
from streams.keys import SIGNING_ALGORITHMS, SigningKey
from streams.models import Stream, push_secret_hash
from streams.selectors import (
    stream_for_issuer,
    stream_jwks,
    stream_remote_id,
    stream_signing_keys,
)
from streams.services import stream_jwks_refetch
from streams.stream_management import stream_verification_outstanding
from streams.vocabulary import SSF_STREAM_UPDATED, SSF_VERIFICATION, chosen_event

logger = logging.getLogger(__name__)

SET_TYPES = frozenset({"secevent+jwt", "application/secevent+jwt"})
# RFC 7519 §5.1's type of any JWT: what PyJWT writes by default (authentik's SSF provider).
PLAIN_JWT_TYPES = frozenset({"jwt", "application/jwt"})
MAX_JTI_LENGTH = 255
MAX_EVENT_TYPE_LENGTH = 255
JWKS_RETRY_AFTER_SECONDS = 30
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class SetErrorCode(models.TextChoices):
    """RFC 8935 §2.4 error codes (and SSF's `invalid_state`)."""

    INVALID_REQUEST = "invalid_request", "The request is not a valid SET"
    INVALID_KEY = "invalid_key", "The signing key is unknown or not acceptable"
    INVALID_ISSUER = "invalid_issuer", "The issuer is not one of ours"
    INVALID_AUDIENCE = "invalid_audience", "The audience does not name this receiver"
    AUTHENTICATION_FAILED = "authentication_failed", "The transmitter could not be authenticated"
    ACCESS_DENIED = "access_denied", "The transmitter may not send this SET here"
    INVALID_STATE = "invalid_state", "The verification state does not match"
    # Not RFC 8935 codes: the answer was a 503, the SET could not be checked just now.
    JWKS_UNAVAILABLE = "jwks_unavailable", "The transmitter's keys could not be fetched"
    STREAM_CHANGED = "stream_changed", "The stream changed while the SET was checked"


class SetError(Exception):
    """A refused SET: the RFC 8935 `err` code, a description, and what we knew of it.

    `description` is kept with the stored rejection for admins; `answer` is what the sender is
    told (the description, unless that would tell an unauthenticated sender something of ours).
    `sender_authenticated` is true once the push secret or the signature checked out.
    """

    def __init__(
        self,
        err: SetErrorCode,
        description: str,
        *,
        answer: str | None = None,
        stream: Stream | None = None,
        issuer: str = "",
        jti: str = "",
        status: int = 400,
        retry_after: int | None = None,
        sender_authenticated: bool = False,
    ):
        super().__init__(description)
        self.err, self.description, self.status = err, description, status
        self.answer = description if answer is None else answer
        self.stream, self.issuer, self.jti, self.retry_after = stream, issuer, jti, retry_after
        self.sender_authenticated = sender_authenticated
        # True when the stream came from the per-process cache: a fresh look may decide otherwise.
        self.on_cached_stream = False


@dataclass
class CompactJws:
    """A compact JWS split and decoded, not yet verified."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]


@dataclass
class VerifiedSet:
    """A SET whose signature and claims checked out against its stream."""

    stream: Stream
    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]
    kid: str
    alg: str
    typ_missing: bool

    @property
    def jti(self) -> str:
        return self.claims["jti"]

    @property
    def event_type(self) -> str:
        """The event the SET is processed as (risk reads it with the same function)."""
        return chosen_event(self.claims["events"])[0]


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        padded = segment + "=" * (-len(segment) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        # PostgreSQL's jsonb cannot store NUL; such a SET could never be kept, so it is refused.
        if "\\u0000" in text:
            raise ValueError("NUL character")
        if json_text_deeper_than(text, settings.SET_MAX_JSON_DEPTH):
            # Counted before parsing: everything after (storage, processing, pages) recurses.
            raise SetError(
                SetErrorCode.INVALID_REQUEST,
                f"The JWS {what} nests more than {settings.SET_MAX_JSON_DEPTH} levels deep.",
            )
        value = json.loads(text, parse_float=_finite_float, parse_constant=_reject_constant)
    except (ValueError, UnicodeError, binascii.Error, RecursionError) as exc:
        raise SetError(
            SetErrorCode.INVALID_REQUEST, f"The JWS {what} is not base64url JSON."
        ) from exc
    if not isinstance(value, dict):
        raise SetError(SetErrorCode.INVALID_REQUEST, f"The JWS {what} is not a JSON object.")
    if has_unstorable_text(value):
        # A lone UTF-16 surrogate ("\ud800") is valid JSON but not Unicode text: no database
        # (nor UTF-8) can store it, so the SET could never be kept.
        raise SetError(
            SetErrorCode.INVALID_REQUEST, f"The JWS {what} holds text that is not valid Unicode."
        )
    return value


def looks_like_compact_jws(body: str) -> bool:
    """Header and payload in base64url, then a signature (empty for `alg: none`)."""
    parts = body.split(".")
    return (
        len(parts) == 3
        and bool(parts[0])
        and bool(parts[1])
        and all(set(part) <= _BASE64URL for part in parts)
    )


def parse_compact_jws(raw: str) -> CompactJws:
    """Split and decode a compact JWS; `invalid_request` when it is not one."""
    parts = raw.split(".")
    if len(parts) == 5:
        raise SetError(SetErrorCode.INVALID_REQUEST, "Encrypted SETs (JWE) are not supported.")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise SetError(
            SetErrorCode.INVALID_REQUEST,
            "The body is not a SET in compact JWS form (header.payload.signature).",
        )
    return CompactJws(
        raw=raw, header=_json_object(parts[0], "header"), claims=_json_object(parts[1], "payload")
    )


# Keys built once per stream and JWKS version: jwcrypto key objects are costly to make
# (../shared/docs/PERFORMANCE.md). Bounded; a cleared cache only costs a rebuild.
_KEY_CACHE: dict[tuple[str, datetime], list[SigningKey]] = {}
_KEY_CACHE_MAX = 512


# Streams read per process for a few seconds: the hot path then reads no stream row. The store
# is conditional on the stream being as read (events.services), so a deactivation, a new push
# secret or new keys take effect at once anyway.
_STREAM_CACHE: dict[str, tuple[float, Stream]] = {}
STREAM_CACHE_SECONDS = 5.0


def _stream_for(issuer: str, *, fresh: bool) -> tuple[Stream | None, bool]:
    """The stream of `issuer` and whether it came from the cache (never when `fresh`). An
    unknown issuer is not cached, so a stream added a moment ago is found at once."""
    now = time.monotonic()
    hit = None if fresh else _STREAM_CACHE.get(issuer)
    if hit is not None and now - hit[0] <= STREAM_CACHE_SECONDS:
        return hit[1], True
    stream = stream_for_issuer(issuer=issuer)
    if stream is not None:
        if len(_STREAM_CACHE) >= _KEY_CACHE_MAX:
            _STREAM_CACHE.clear()
        _STREAM_CACHE[issuer] = (now, stream)
    return stream, False


def _stream_keys(stream: Stream) -> list[SigningKey]:
    cache_key = (stream.pk, stream.jwks_fetched_at)
    keys = _KEY_CACHE.get(cache_key)
    if keys is None:
        if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
            _KEY_CACHE.clear()
        keys = _KEY_CACHE[cache_key] = stream_signing_keys(stream=stream)
    return keys


def _pick(keys: list[SigningKey], kid: str | None) -> SigningKey | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.kid == kid), None)


JWKS_UNAVAILABLE_ANSWER = (
    "The transmitter's JWKS could not be fetched to check this SET's key; try again later."
)
# What a sender is told when its JWKS cannot be used: the fetch's details (addresses, our
# settings) are for admins, in the stored rejection.
JWKS_UNUSABLE_ANSWER = "The transmitter's JWKS could not be fetched or holds no usable key."


def _jwks_unavailable(context: dict, retry_after: int, detail: str = "") -> SetError:
    description = f"{JWKS_UNAVAILABLE_ANSWER} {detail}".strip()
    return SetError(SetErrorCode.JWKS_UNAVAILABLE, description, answer=JWKS_UNAVAILABLE_ANSWER,
                    status=503, retry_after=retry_after, **context)  # fmt: skip


def _absent_kid_key(stream: Stream, kid: str) -> str:
    return f"ssf:kid-absent:{stream.pk}:{hashlib.sha256(kid.encode()).hexdigest()[:32]}"


def _absent_kid_record(stream: Stream, kid: str) -> None:
    """Remember that a JWKS fetch looked for `kid` and did not find it (one write per refetch,
    so at most one per stream and JWKS_REFETCH_MIN_INTERVAL_SECONDS)."""
    try:
        timeout = 2 * max(settings.JWKS_REFETCH_MIN_INTERVAL_SECONDS, 30)
        cache.set(_absent_kid_key(stream, kid), 1, timeout=timeout)
    except RedisError as exc:
        logger.warning("An absent kid is not remembered: Redis is unavailable (%s)",
                       type(exc).__name__)  # fmt: skip


def _absent_kid_known(stream: Stream, kid: str) -> bool:
    try:
        return cache.get(_absent_kid_key(stream, kid)) is not None
    except RedisError:  # not known: the sender is told to retry, which loses nothing
        return False


def _select_key(stream: Stream, kid: str | None, context: dict) -> SigningKey:
    """The key for `kid`; an unknown `kid` refetches the JWKS once (key rotation).

    RFC 8935 §2.3: a `kid` that a fresh fetch of the JWKS did not hold is `invalid_key`, for
    every SET that carries it until the refetch interval allows another look (a retired key:
    bursts of such SETs are each refused, never told to retry). A `kid` no fetch has been
    allowed to look for yet (the refetch interval is running, or another request's refetch is
    under way) is a 503 instead: a transmitter that just rotated its keys must retry, not drop
    the SET.
    """
    key = _pick(_stream_keys(stream), kid)
    if key is not None or (kid is None and _stream_keys(stream)):
        return _found(key, kid, context)
    try:
        refetched = stream_jwks_refetch(stream=stream)
    except DiscoveryError as exc:
        if exc.transient:
            raise _jwks_unavailable(context, JWKS_RETRY_AFTER_SECONDS, str(exc)) from exc
        if kid is not None:  # looked for, in the only JWKS there is: refused until next time
            _absent_kid_record(stream, kid)
        raise SetError(SetErrorCode.INVALID_KEY, str(exc), answer=JWKS_UNUSABLE_ANSWER,
                       **context) from exc  # fmt: skip
    if not refetched:
        jwks, fetched_at = stream_jwks(stream_id=stream.pk)
        stream.jwks, stream.jwks_fetched_at = jwks, fetched_at
    key = _pick(_stream_keys(stream), kid)
    if key is None and kid is not None:
        if refetched:
            _absent_kid_record(stream, kid)
        elif not _absent_kid_known(stream, kid):
            raise _jwks_unavailable(context, settings.JWKS_REFETCH_MIN_INTERVAL_SECONDS)
    return _found(key, kid, context)


def _found(key: SigningKey | None, kid: str | None, context: dict) -> SigningKey:
    if key is not None:
        return key
    if kid is None:
        raise SetError(
            SetErrorCode.INVALID_KEY,
            "The SET has no kid and the transmitter's JWKS does not hold exactly one usable key.",
            **context,
        )
    raise SetError(
        SetErrorCode.INVALID_KEY,
        f"No usable key with kid {kid!r} in the transmitter's JWKS.",
        **context,
    )


def _check_header(
    header: dict[str, Any], stream: Stream, context: dict
) -> tuple[str, str | None, bool]:
    """The header's alg and kid, and whether it lacks the SET type (SSF 1.0 §4.1.1 asks for
    `secevent+jwt`; a missing `typ` or a plain `JWT` is tolerated unless the stream is strict)."""
    typ = header.get("typ")
    lowered = typ.lower() if isinstance(typ, str) else None
    if typ is not None and lowered not in SET_TYPES | PLAIN_JWT_TYPES:
        raise SetError(
            SetErrorCode.INVALID_REQUEST,
            f"The JOSE header typ is {typ!r}; a SET must have typ secevent+jwt.",
            **context,
        )
    untyped = lowered not in SET_TYPES
    if untyped and stream.strict_claims:
        raise SetError(
            SetErrorCode.INVALID_REQUEST,
            f"The JOSE header typ is {typ!r}; SSF 1.0 §4.1.1 requires typ secevent+jwt.",
            **context,
        )
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SIGNING_ALGORITHMS:
        raise SetError(
            SetErrorCode.INVALID_KEY,
            f"alg {alg!r} is not allowed; SETs must be signed with an asymmetric algorithm "
            "(RS256/384/512, PS256/384/512, ES256/384/512, EdDSA).",
            **context,
        )
    if "crit" in header:
        # RFC 7515 §4.1.11: we understand no JOSE header extension, so none may be critical.
        raise SetError(
            SetErrorCode.INVALID_REQUEST,
            f"The JOSE header marks {header['crit']!r} critical; this receiver knows no extension.",
            **context,
        )
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise SetError(
            SetErrorCode.INVALID_REQUEST, "The JOSE header kid is not a string.", **context
        )
    return alg, kid, untyped


def _verify_signature(raw: str, key: SigningKey, alg: str, context: dict) -> None:
    if alg not in key.algorithms:
        raise SetError(
            SetErrorCode.INVALID_KEY,
            f"The key {key.kid or '(no kid)'} does not allow alg {alg} "
            f"(it allows {key.alg_label}).",
            **context,
        )
    signing_input, _, signature = raw.rpartition(".")
    try:
        # jwcrypto's algorithm object on the segments as received: the same check JWS.verify
        # makes, without re-parsing the token (../shared/docs/PERFORMANCE.md).
        JWA.signing_alg(alg).verify(key.jwk, signing_input.encode(), base64url_decode(signature))
    except (InvalidSignature, ValueError, TypeError, binascii.Error) as exc:
        raise SetError(
            SetErrorCode.INVALID_KEY,
            "The signature does not verify with the transmitter's key.",
            **context,
        ) from exc


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _audience_matches(aud: Any) -> bool:
    ours = normalize_issuer(settings.RECEIVER_AUDIENCE)
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    return any(isinstance(v, str) and normalize_issuer(v) == ours for v in values)


def _has_subject(claims: dict[str, Any]) -> bool:
    if isinstance(claims.get("sub_id"), dict) and claims["sub_id"]:
        return True
    if chosen_event(claims["events"])[0] == SSF_VERIFICATION:
        # Its subject is the stream itself (SSF 1.0 §8.1.4.1); the SSE-draft (Duo) and RISC
        # (Google) verification events carry only `state`.
        return True
    return any(
        isinstance(e.get("subject"), dict) and e["subject"] for e in claims["events"].values()
    )


def _check_claims(claims: dict[str, Any], stream: Stream, context: dict) -> None:
    def invalid(description: str) -> SetError:
        return SetError(SetErrorCode.INVALID_REQUEST, description, **context)

    if not _audience_matches(claims.get("aud")):
        raise SetError(
            SetErrorCode.INVALID_AUDIENCE,
            f"aud {claims.get('aud')!r} does not contain this receiver's audience "
            f"{settings.RECEIVER_AUDIENCE!r}.",
            **context,
        )
    now = time.time()
    iat = claims.get("iat")
    if not _is_number(iat):
        raise invalid("The iat claim is missing or not a NumericDate.")
    if iat > now + settings.SET_CLOCK_SKEW_SECONDS:
        raise invalid("The iat claim is in the future.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise invalid(
            f"The jti claim is missing or not a string of 1 to {MAX_JTI_LENGTH} characters."
        )
    events = claims.get("events")
    if not isinstance(events, dict) or not events:
        raise invalid("The events claim is missing or not a non-empty JSON object.")
    for uri, body in events.items():
        if len(uri) > MAX_EVENT_TYPE_LENGTH or not isinstance(body, dict):
            raise invalid(
                f"The event {uri[:80]!r} is not a JSON object keyed by an event-type URI."
            )
    if not _has_subject(claims):
        raise invalid("The SET names no subject (sub_id, or subject inside the event).")
    if stream.strict_claims:
        present = [name for name in ("sub", "exp") if name in claims]
        if present:
            raise invalid(f"SSF 1.0 forbids the {' and '.join(present)} claim(s) in a SET.")
    exp = claims.get("exp")
    if exp is not None and (not _is_number(exp) or exp < now - settings.SET_CLOCK_SKEW_SECONDS):
        raise invalid("The SET has expired (exp).")


def _check_stream_subject(claims: dict[str, Any], stream: Stream, context: dict) -> None:
    """SSF 1.0 §8.1.4.1 (and §8.1.5 for stream-updated): the `sub_id` of a stream event is the
    opaque stream_id of the stream it is about. One naming another of the transmitter's streams
    must not verify (or change) this one: it is refused as not conforming to its event type,
    400 `invalid_request` (the conformance suite's verification-wrong-subject module expects a
    refusal; poll reports it in setErrs). Unchecked where we know no stream_id (a stream not
    managed here, or a transmitter that gave none)."""
    if chosen_event(claims["events"])[0] not in (SSF_VERIFICATION, SSF_STREAM_UPDATED):
        return
    sub_id = claims.get("sub_id")
    if not isinstance(sub_id, dict) or sub_id.get("format") != "opaque" or "id" not in sub_id:
        return
    ours = stream_remote_id(stream_id=stream.pk)
    if ours and sub_id["id"] != ours:
        raise SetError(
            SetErrorCode.INVALID_REQUEST,
            f"The sub_id names stream {str(sub_id['id'])[:80]!r}; SETs here are for stream "
            f"{ours!r}.",
            **context,
        )


def _check_verification_state(claims: dict[str, Any], stream: Stream, context: dict) -> None:
    """SSF §8.1.4: a verification SET's `state` must be the one we asked for; one without a
    `state` is the transmitter's own (unsolicited) and is fine."""
    uri, event = chosen_event(claims["events"])
    if uri != SSF_VERIFICATION or event.get("state") is None:
        return
    outstanding = stream_verification_outstanding(stream_id=stream.pk)
    # Bytes: compare_digest refuses str with non-ASCII characters.
    if outstanding and hmac.compare_digest(str(event["state"]).encode(), outstanding.encode()):
        return
    # RFC 8935 §2.3: a re-delivered SET is answered as it was the first time, even though the
    # state it carried was used up when it was first processed.
    if not security_event_seen(issuer_key=stream.issuer_key, jti=claims["jti"]):
        raise SetError(
            SetErrorCode.INVALID_STATE,
            "The verification state does not match a verification this receiver requested.",
            **context,
        )


def _check_authorization(stream: Stream, authorization: str | None, context: dict) -> None:
    """The stream's push secret, compared in constant time (the previous one during its grace
    period after a rotation); RFC 8935's example answer for a failure is 400."""
    if not stream.push_authorization_hash:
        return
    given = push_secret_hash(authorization or "")
    accepted = [stream.push_authorization_hash]
    until = stream.previous_push_authorization_until
    if stream.previous_push_authorization_hash and until and until > timezone.now():
        accepted.append(stream.previous_push_authorization_hash)
    if not authorization or not any(hmac.compare_digest(given, h) for h in accepted):
        raise SetError(
            SetErrorCode.AUTHENTICATION_FAILED,
            "The Authorization header is missing or does not match the stream's push secret.",
            **context,
        )


def _verify_against(
    stream: Stream,
    jws: CompactJws,
    raw: str,
    authorization: str | None,
    stream_id: str | None,
    check_authorization: bool,
) -> tuple[SigningKey, str, bool]:
    """Everything verify_set checks once the stream is known: the key used, alg, typ missing."""
    issuer, jti = jws.claims["iss"], jws.claims.get("jti")
    context = {"stream": stream, "issuer": issuer, "jti": jti if isinstance(jti, str) else ""}
    if stream_id is not None and stream.pk != stream_id:
        raise SetError(
            SetErrorCode.INVALID_ISSUER,
            f"Issuer {issuer!r} does not send to this stream's endpoint.",
            issuer=issuer,
            jti=context["jti"],
        )
    if not stream.is_active:
        raise SetError(SetErrorCode.ACCESS_DENIED, f"The stream {stream.name!r} is deactivated.",
                       answer="The stream for this issuer is deactivated.", **context)  # fmt: skip
    if check_authorization:
        _check_authorization(stream, authorization, context)
        # From here on a refusal is kept whatever the flood cap says (events.services).
        context["sender_authenticated"] = stream.requires_push_authorization
    alg, kid, typ_missing = _check_header(jws.header, stream, context)
    key = _select_key(stream, kid, context)
    _verify_signature(raw, key, alg, context)
    context["sender_authenticated"] = True
    _check_claims(jws.claims, stream, context)
    _check_stream_subject(jws.claims, stream, context)
    _check_verification_state(jws.claims, stream, context)
    return key, alg, typ_missing


def verify_set(
    raw: str,
    *,
    authorization: str | None = None,
    check_authorization: bool = True,
    stream_id: str | None = None,
    fresh: bool = False,
) -> VerifiedSet:
    """Verify one SET end to end and return it with its stream; SetError says why not.

    `check_authorization` is true for pushes (RFC 8935) and false for polled SETs (RFC 8936),
    which we fetched ourselves. `stream_id` is set when the SET came to a stream's own push
    endpoint or poll: its issuer must then be that stream's. `fresh` reads the stream from the
    database instead of the per-process cache.
    """
    jws = parse_compact_jws(raw)
    issuer = jws.claims.get("iss")
    jti = jws.claims["jti"] if isinstance(jws.claims.get("jti"), str) else ""
    if not isinstance(issuer, str) or not issuer:
        raise SetError(SetErrorCode.INVALID_REQUEST, "The SET has no iss claim.", jti=jti)
    stream, cached = _stream_for(issuer, fresh=fresh)
    if stream is None:
        raise SetError(
            SetErrorCode.INVALID_ISSUER,
            f"No stream receives SETs from issuer {issuer!r}.",
            issuer=issuer,
            jti=jti,
        )
    try:
        key, alg, typ_missing = _verify_against(stream, jws, raw, authorization, stream_id,
                                                check_authorization)  # fmt: skip
    except SetError as error:
        error.on_cached_stream = cached
        raise
    return VerifiedSet(
        stream=stream,
        raw=raw,
        header=jws.header,
        claims=jws.claims,
        kid=key.kid or "",
        alg=alg,
        typ_missing=typ_missing,
    )
