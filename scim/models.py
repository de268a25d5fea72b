"""SCIM clients (the identity providers that provision the directory) and what SCIM keeps about
the directory's users and groups beyond their risk.models columns."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from common.json_depth import StoredJSONDecoder
from risk.models import DirectoryGroup, Entity


class ScimClient(models.Model):
    """An identity provider's bearer token for /scim/v2/: provisioning only, no console role.

    Only the SHA-256 of the token is stored; `prefix` finds the row and is what the console shows.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ScimUser(models.Model):
    """The SCIM representation of a provisioned user; its directory fields live on the Entity.

    `resource` keeps the attributes the directory has no column for (addresses, phone numbers,
    the enterprise extension...) so that a read returns what the IdP wrote (RFC 7644 §3.5.1).
    """

    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="scim")
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    resource = models.JSONField(default=dict, decoder=StoredJSONDecoder)

    def __str__(self) -> str:
        return f"SCIM {self.entity_id}"


class ScimGroup(models.Model):
    """The SCIM side of a group (its SCIM id is the DirectoryGroup's pk): externalId and times.

    A group made in the console or by CSV has none until an IdP writes to it.
    """

    group = models.OneToOneField(DirectoryGroup, on_delete=models.CASCADE, related_name="scim")
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"SCIM group {self.group_id}"
