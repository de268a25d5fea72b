"""Checks on text received from outside that no database can store."""

from typing import Any


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_lone_surrogate(value: Any) -> bool:
    """True when a JSON value holds a lone UTF-16 surrogate ("\\ud800"): valid JSON, but not
    Unicode text, so neither UTF-8 nor PostgreSQL can keep it.

    Walks with its own stack: JSON nested deeper than Python's recursion limit still parses
    (json.loads has its own, higher one), and must get an answer, not a RecursionError.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not _is_unicode(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
