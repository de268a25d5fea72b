"""The push authorization secret of a stream: replaced with a grace period for the old one."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from streams.models import Stream, push_secret_hash


def push_secret_replace(stream: Stream, secret: str) -> None:
    """Make `secret` the push secret; the one it replaces stays valid for
    PUSH_SECRET_GRACE_SECONDS. Saved by the caller, with `push_secret_fields`."""
    if stream.push_authorization_hash:
        stream.previous_push_authorization_hash = stream.push_authorization_hash
        stream.previous_push_authorization_until = timezone.now() + timedelta(
            seconds=settings.PUSH_SECRET_GRACE_SECONDS
        )
    stream.push_authorization_hash = push_secret_hash(secret)


PUSH_SECRET_FIELDS = [
    "push_authorization_hash",
    "previous_push_authorization_hash",
    "previous_push_authorization_until",
    "updated_at",
]
