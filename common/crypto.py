"""Encryption at rest for secrets we must send to others (an app's bearer token, a webhook key).

Our own secrets (push secrets, API tokens) are stored hashed instead; these cannot be, because
they are sent. The key is derived from DJANGO_SECRET_KEY, so rotating that key makes them
unreadable: re-enter them after a rotation.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"ssf-receiver:outbound-secrets:" + settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    """The secret, or a ValueError when it was encrypted under another DJANGO_SECRET_KEY."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The secret cannot be decrypted; re-enter it.") from exc
