"""API tokens: how scripts and Okta-style clients reach the management API."""

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
