"""API tokens (for scripts and Okta-style clients) and the SSO identities admins sign in as."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiTokenState(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    EXPIRED = "EXPIRED", "Expired"
    REVOKED = "REVOKED", "Revoked"

    @property
    def badge(self) -> str:
        return {"ACTIVE": "success", "EXPIRED": "muted", "REVOKED": "danger"}[self.value]


class ApiToken(models.Model):
    """A secret a client sends as `SSWS <token>`; it acts with its user's console role.

    Only the SHA-256 of the token is stored; `prefix` (its first characters, not secret enough
    to use) finds the row and is what the console shows.
    """

    name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def state(self) -> ApiTokenState:
        if self.revoked_at is not None:
            return ApiTokenState.REVOKED
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return ApiTokenState.EXPIRED
        return ApiTokenState.ACTIVE


class SsoIdentity(models.Model):
    """The IdP account (issuer + `sub`) a console user signs in as; never matched by e-mail.

    OpenID Connect Core §5.7: only `iss` and `sub` identify an end-user; an e-mail address or a
    username can be reassigned at the IdP, so linking by them would hand over a local account.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique_sub")
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
