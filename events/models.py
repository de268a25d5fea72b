"""Stored SETs: the accepted ones (processed once by the risk app) and the rejected ones."""

from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from common.json_depth import StoredJSONDecoder
from events.subject_label import subject_label
from streams.models import Stream


def _date(value: object) -> datetime | None:
    """A NumericDate (RFC 7519 §2) as a UTC datetime; None for anything else or out of range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


class SecurityEventStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    PROCESSED = "PROCESSED", "Processed"
    IGNORED = "IGNORED", "Ignored"
    # Processing raised an error on this SET alone; kept for an admin, never retried by itself.
    FAILED = "FAILED", "Failed"

    @property
    def badge(self) -> str:
        return {"PENDING": "warning", "PROCESSED": "success", "IGNORED": "muted",
                "FAILED": "danger"}[self.value]  # fmt: skip


class SecurityEvent(models.Model):
    """A verified SET, committed before its 202 was sent; the risk app processes it once."""

    # No index of its own: (stream, jti) and (stream, -received_at) lead with it, and every
    # index is one more write per stored SET.
    stream = models.ForeignKey(
        Stream,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="security_events",
        db_index=False,
    )
    # The stream's id and issuer, kept readable after the stream is removed.
    stream_ref = models.CharField(max_length=20)
    issuer = models.CharField(max_length=700)
    # The issuer as streams match it (streams.discovery.normalize_issuer): a jti is unique per
    # issuer (RFC 8417 §2.2), whichever way a stream added again spells it.
    issuer_key = models.CharField(max_length=700)
    jti = models.CharField(max_length=255)
    # The event the SET is processed as (streams.vocabulary.chosen_event); what pages filter on.
    event_type = models.CharField(max_length=255)
    raw = models.TextField(help_text="The SET exactly as received (compact JWS).")
    # Decoded safely whatever a row holds: a page or a drain must not fail on one row.
    header = models.JSONField(decoder=StoredJSONDecoder)
    claims = models.JSONField(decoder=StoredJSONDecoder)
    # Verification outcome: the key and algorithm that verified it, and tolerated deviations.
    kid = models.CharField(max_length=255, blank=True)
    alg = models.CharField(max_length=16)
    # No `typ`, or PyJWT's default `JWT` (authentik): not the SET type SSF 1.0 §4.1.1 asks for.
    typ_missing = models.BooleanField(default=False)
    content_type_mislabelled = models.BooleanField(default=False)
    # Posted as a JSON string ("eyJ..." with the quotes: requests' json=token, the Okta SDK).
    body_json_quoted = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16, choices=SecurityEventStatus.choices, default=SecurityEventStatus.PENDING
    )
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # RFC 8935 §2.3 re-delivery: the same SET twice is stored (and processed) once.
            models.UniqueConstraint(fields=["stream", "jti"], name="security_event_stream_jti"),
        ]
        indexes = [
            models.Index(
                fields=["id"],
                condition=Q(status=SecurityEventStatus.PENDING),
                name="security_event_pending",
            ),
            models.Index(fields=["stream", "-received_at"], name="security_event_stream_recv"),
            models.Index(fields=["-received_at"], name="security_event_received"),
            # Replays from the issuer of a stream since removed and added again.
            models.Index(fields=["issuer_key", "jti"], name="security_event_issuer_key_jti"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.jti}"

    @property
    def status_choice(self) -> SecurityEventStatus:
        return SecurityEventStatus(self.status)

    @property
    def subject_label(self) -> str:
        return subject_label(self.claims if isinstance(self.claims, dict) else {})

    @property
    def claim_times(self) -> list[tuple[str, datetime]]:
        """The SET's NumericDate claims as dates: issued (iat), the event's own time (CAEP
        event_timestamp), expiry (exp); those absent or not a number are left out."""
        claims = self.claims if isinstance(self.claims, dict) else {}
        events = claims.get("events")
        body: Any = next(iter(events.values()), {}) if isinstance(events, dict) and events else {}
        event_time = body.get("event_timestamp") if isinstance(body, dict) else None
        found = [
            ("Issued (iat)", claims.get("iat")),
            ("Event time (event_timestamp)", event_time),
            ("Expires (exp)", claims.get("exp")),
        ]
        dated = [(label, _date(value)) for label, value in found]
        return [(label, when) for label, when in dated if when is not None]


class RejectedSecurityEvent(models.Model):
    """A SET we refused, with the answer we gave, so an admin can see why events do not arrive.

    Bounded: the events.prune task keeps REJECTED_SET_RETENTION_DAYS and at most
    REJECTED_SET_CAP_PER_STREAM rows per stream (and as many for unknown issuers).
    """

    stream = models.ForeignKey(
        Stream,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rejected_security_events",
        db_index=False,  # (stream, -received_at) leads with it
    )
    issuer = models.CharField(max_length=700, blank=True, help_text="The claimed iss, unverified.")
    jti = models.CharField(max_length=255, blank=True)
    http_status = models.PositiveSmallIntegerField()
    err = models.CharField(max_length=32)
    description = models.TextField()
    raw = models.TextField(blank=True, help_text="The body as received, truncated.")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["stream", "-received_at"], name="rejected_set_stream_recv"),
            models.Index(fields=["-received_at"], name="rejected_set_received"),
        ]

    def __str__(self) -> str:
        return f"{self.err}: {self.description[:60]}"
