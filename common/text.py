"""Checks on text received from outside that no database can store."""

from typing import Any


def has_lone_surrogate(value: Any) -> bool:
    """True when a JSON value holds a lone UTF-16 surrogate ("\\ud800"): valid JSON, but not
    Unicode text, so neither UTF-8 nor PostgreSQL can keep it."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(v) for v in value)
    return False
