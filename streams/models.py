"""Streams: one per transmitter we receive SETs from (Okta: a Security Events Provider)."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from common.ids import okta_style_id


def new_stream_id() -> str:
    """An Okta-style provider id, `sse...`."""
    return okta_style_id("sse")


def push_secret_hash(secret: str) -> str:
    """How a push authorization secret is stored: SHA-256 (the secret is random, 256 bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class StreamStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    INACTIVE = "INACTIVE", "Inactive"

    @property
    def badge(self) -> str:
        return {"ACTIVE": "success", "INACTIVE": "muted"}[self.value]


class ConfigMethod(models.TextChoices):
    WELL_KNOWN_URL = "WELL_KNOWN_URL", "Well-known URL"
    ISSUER_AND_JWKS_URL = "ISSUER_AND_JWKS_URL", "Issuer URL + JWKS URL"


class Stream(models.Model):
    """A transmitter's stream of SETs to us: where its keys are and whether we accept it."""

    id = models.CharField(primary_key=True, max_length=20, default=new_stream_id, editable=False)
    name = models.CharField("integration name", max_length=100, unique=True)
    # Okta's provider `type`: a free label such as the vendor's name.
    provider_type = models.CharField(max_length=255, default="ssf")
    config_method = models.CharField(max_length=32, choices=ConfigMethod.choices)
    well_known_url = models.CharField(max_length=1000, blank=True)
    issuer = models.CharField(max_length=700)
    # The issuer as SETs are matched against it (streams.discovery.normalize_issuer).
    issuer_key = models.CharField(max_length=700, unique=True)
    jwks_url = models.CharField("JWKS URL", max_length=1000)
    status = models.CharField(
        max_length=16, choices=StreamStatus.choices, default=StreamStatus.ACTIVE
    )
    metadata = models.JSONField(null=True, blank=True, help_text="Transmitter metadata as fetched.")
    jwks = models.JSONField(default=dict, help_text="The transmitter's JWKS as last fetched.")
    jwks_fetched_at = models.DateTimeField(default=timezone.now)
    # When a SET with an unknown `kid` last caused a JWKS refetch (rate limit for key rotation).
    jwks_refetch_attempted_at = models.DateTimeField(null=True, blank=True)
    # SSF forbids `sub` and `exp` in SETs and asks for `typ: secevent+jwt`; older and
    # Okta-style senders still send them, authentik writes `typ: JWT`.
    strict_claims = models.BooleanField(
        "refuse SETs with sub or exp, or without typ secevent+jwt",
        default=False,
        help_text="SSF 1.0 forbids the sub and exp claims and requires typ secevent+jwt; turn on "
        "to refuse SETs that break these rules.",
    )
    # SHA-256 of the secret the transmitter must send as the Authorization header value.
    push_authorization_hash = models.CharField(max_length=64, blank=True)
    # The secret before the last rotation stays valid until then, so pushes already on their
    # way (or a transmitter not yet reconfigured) are not refused for good.
    previous_push_authorization_hash = models.CharField(max_length=64, blank=True)
    previous_push_authorization_until = models.DateTimeField(null=True, blank=True)
    last_set_received_at = models.DateTimeField(null=True, blank=True)
    # Set while the stream is being created at the transmitter: the row (issuer, keys, push
    # secret) exists first because transmitters push their verification SET before answering
    # the create call; the lists leave it out, and it is deleted if the create fails.
    pending_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == StreamStatus.ACTIVE

    @property
    def status_choice(self) -> StreamStatus:
        return StreamStatus(self.status)

    @property
    def requires_push_authorization(self) -> bool:
        return bool(self.push_authorization_hash)


class StreamAction(models.TextChoices):
    CREATE = "CREATE", "Added"
    UPDATE = "UPDATE", "Edited"
    ACTIVATE = "ACTIVATE", "Activated"
    DEACTIVATE = "DEACTIVATE", "Deactivated"
    DELETE = "DELETE", "Removed"
    ROTATE_PUSH_SECRET = "ROTATE_PUSH_SECRET", "Push authorization secret generated"
    CLEAR_PUSH_SECRET = "CLEAR_PUSH_SECRET", "Push authorization secret removed"
    REPLACE_REMOTE = "REPLACE_REMOTE", "Replaced at the transmitter"
    SET_REMOTE_STATUS = "SET_REMOTE_STATUS", "Status set at the transmitter"
    REQUEST_VERIFICATION = "REQUEST_VERIFICATION", "Verification requested"
    ADD_SUBJECT = "ADD_SUBJECT", "Subject added at the transmitter"
    REMOVE_SUBJECT = "REMOVE_SUBJECT", "Subject removed at the transmitter"


class StreamChange(models.Model):
    """One change to a stream: who made it, when, and the stream's fields before and after."""

    stream = models.ForeignKey(
        Stream, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    # Kept so the trail stays readable after the stream is removed.
    stream_ref = models.CharField(max_length=20, db_index=True)
    stream_name = models.CharField(max_length=100)
    action = models.CharField(max_length=32, choices=StreamAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.stream_name}: {self.get_action_display()} by {self.actor_name}"


class DeliveryMethod(models.TextChoices):
    """SSF delivery methods (SSF 1.0 §6.1); the legacy RISC URIs are read as these."""

    PUSH = "urn:ietf:rfc:8935", "Push (RFC 8935)"
    POLL = "urn:ietf:rfc:8936", "Poll (RFC 8936)"


class ManagementAuth(models.TextChoices):
    STATIC_TOKEN = "STATIC_TOKEN", "Static bearer token"
    CLIENT_CREDENTIALS = "CLIENT_CREDENTIALS", "OAuth client credentials"


class TokenAuthMethod(models.TextChoices):
    """How the client authenticates at the token endpoint (RFC 6749 §2.3.1; OAuth's names)."""

    CLIENT_SECRET_BASIC = "client_secret_basic", "HTTP Basic (client_secret_basic)"
    CLIENT_SECRET_POST = "client_secret_post", "In the request body (client_secret_post)"


class RemoteStatus(models.TextChoices):
    """Stream status at the transmitter (SSF 1.0 §8.1.2)."""

    ENABLED = "enabled", "Enabled"
    PAUSED = "paused", "Paused"
    DISABLED = "disabled", "Disabled"

    @property
    def badge(self) -> str:
        return {"enabled": "success", "paused": "warning", "disabled": "muted"}[self.value]


class StreamManagement(models.Model):
    """A stream this receiver created at the transmitter (SSF stream management API).

    Holds the management credential (secrets encrypted: they are sent, so cannot be hashed),
    the transmitter's view of the stream, its status and the verification health check.
    """

    stream = models.OneToOneField(
        Stream, primary_key=True, on_delete=models.CASCADE, related_name="management"
    )
    # "" for a single-stream transmitter of the 2021 drafts, whose configuration has no stream_id.
    remote_stream_id = models.CharField(max_length=255, blank=True)
    delivery_method = models.CharField(max_length=64, choices=DeliveryMethod.choices)
    # For poll: the transmitter's poll endpoint; for push: our per-stream endpoint we gave it.
    delivery_endpoint = models.CharField(max_length=1000)
    events_requested = models.JSONField(default=list)
    remote_config = models.JSONField(default=dict, help_text="The stream as the transmitter says.")
    auth_method = models.CharField(max_length=32, choices=ManagementAuth.choices)
    encrypted_token = models.TextField(blank=True)
    token_url = models.CharField(max_length=1000, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    encrypted_client_secret = models.TextField(blank=True)
    scope = models.CharField(max_length=255, default="ssf.read ssf.manage")
    token_auth_method = models.CharField(
        max_length=32, choices=TokenAuthMethod.choices, default=TokenAuthMethod.CLIENT_SECRET_BASIC
    )
    # False once the transmitter refused our `description` (strict ones forbid unknown members):
    # later updates leave it out too.
    sends_description = models.BooleanField(default=True)
    remote_status = models.CharField(max_length=16, choices=RemoteStatus.choices, blank=True)
    remote_status_reason = models.CharField(max_length=500, blank=True)
    # Last management call or poll that reached the transmitter (inactivity_timeout, SSF §8.1.1).
    last_contact_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    verification_state = models.CharField(max_length=64, blank=True)
    verification_requested_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_failed_at = models.DateTimeField(null=True, blank=True)
    next_verification_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.stream_id} at the transmitter as {self.remote_stream_id}"

    @property
    def is_poll(self) -> bool:
        return self.delivery_method == DeliveryMethod.POLL

    @property
    def remote_status_choice(self) -> RemoteStatus | None:
        # None for a value no longer (or never) an SSF status: the page must still render.
        return (
            RemoteStatus(self.remote_status) if self.remote_status in RemoteStatus.values else None
        )

    @property
    def is_flagged(self) -> bool:
        """The transmitter stopped answering, or a verification went unanswered."""
        return bool(self.last_error) or self.verification_failed_at is not None


class StreamSubject(models.Model):
    """A subject we added to a stream at the transmitter (when its default_subjects is NONE)."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="subjects")
    subject = models.JSONField()
    added_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.stream_id}: {self.subject}"
