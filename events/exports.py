"""The columns of a stream's SET exports, accepted and rejected (written by common.exports)."""

from typing import Any

from common.exports import Columns
from events.models import RejectedSecurityEvent, SecurityEvent
from events.subject_label import set_subject


def _claim(event: SecurityEvent, name: str) -> Any:
    return event.claims.get(name) if isinstance(event.claims, dict) else None


# The claims as received are the last column: the CSV holds them as JSON text, the JSON export
# as an object, so nothing of the SET but its signature is lost to the reader.
ACCEPTED = Columns(
    names=["received_at", "jti", "iss", "event_type", "subject", "iat", "txn", "status",
           "processed_at", "kid", "alg", "typ_missing", "content_type_mislabelled",
           "body_json_quoted", "id", "claims"],
    values=lambda e: [
        e.received_at, e.jti, e.issuer, e.event_type, set_subject(e.claims), _claim(e, "iat"),
        _claim(e, "txn"), e.status, e.processed_at, e.kid, e.alg, e.typ_missing,
        e.content_type_mislabelled, e.body_json_quoted, e.pk, e.claims,
    ],
)  # fmt: skip


def _rejected_values(r: RejectedSecurityEvent) -> list[Any]:
    return [r.received_at, r.http_status, r.err, r.description, r.jti, r.issuer, r.remote_addr,
            r.pk, r.raw]  # fmt: skip


# `raw` is the body as received (truncated), attacker-controlled like every other cell.
REJECTED = Columns(
    names=["received_at", "http_status", "err", "description", "jti", "iss", "remote_addr", "id",
           "raw"],
    values=_rejected_values,
)  # fmt: skip
