"""Reads of the SCIM service: its clients, and the directory's users and groups as SCIM lists."""

import hmac
import re

from django.db.models import QuerySet

from common.selectors import api_token_hash
from risk.models import DirectoryGroup, Entity, EntityKind
from scim.models import ScimClient

SCIM_TOKEN_PREFIX = "scim_"  # noqa: S105 (a marker that says what the secret is, not a secret)
SCIM_TOKEN_PATTERN = re.compile(r"scim_[A-Za-z0-9_-]{40}")
SCIM_DISPLAY_PREFIX_LENGTH = 12


def scim_client_list() -> QuerySet[ScimClient]:
    """Every SCIM client, newest first (the console's list, with last use)."""
    return ScimClient.objects.select_related("created_by").order_by("-created_at", "-id")


def scim_client_for_secret(*, secret: str) -> ScimClient | None:
    """The client whose token hash matches `secret` (revoked ones too), or None; the hashes
    are compared in constant time, as for API tokens."""
    if not SCIM_TOKEN_PATTERN.fullmatch(secret):
        return None
    digest = api_token_hash(secret)
    candidates = ScimClient.objects.filter(prefix=secret[:SCIM_DISPLAY_PREFIX_LENGTH])
    return next((c for c in candidates if hmac.compare_digest(c.token_hash, digest)), None)


def scim_user_queryset() -> QuerySet[Entity]:
    """The directory's users (devices are not SCIM resources), with what a SCIM User shows."""
    return (
        Entity.objects.filter(kind=EntityKind.USER)
        .select_related("scim")
        .prefetch_related("groups")
        .order_by("created_at", "id")
    )


def scim_group_queryset() -> QuerySet[DirectoryGroup]:
    """Every directory group (those made in the console too, so an IdP can link to them)."""
    return DirectoryGroup.objects.select_related("scim").prefetch_related("members").order_by("pk")
