"""The environment every settings module reads: django-environ, plus `.env` when one exists."""

import ipaddress
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def address_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list of IP addresses or networks; a typo stops the start, not a request."""
    entries = env.list(name, default=default)
    for entry in entries:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {entry!r} is not an address or network.") from exc
    return entries
