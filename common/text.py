"""Checks on text received from outside that no database can store."""

from typing import Any


def _storable(text: str) -> bool:
    if "\x00" in text:  # PostgreSQL text and jsonb cannot hold NUL
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone UTF-16 surrogate ("\ud800"): valid JSON, not Unicode
        return False
    return True


def storable(text: str) -> str:
    """`text`, or when no database can keep it, its escaped form (`ad\\x00min`): what a log
    record says of an unknown name or a client's header."""
    return text if _storable(text) else ascii(text)[1:-1]


def has_unstorable_text(value: Any) -> bool:
    """True when a JSON value holds a string (or key) that neither UTF-8 nor PostgreSQL can
    keep: a NUL, or a lone surrogate.

    Walks with its own stack: JSON nested deeper than Python's recursion limit still parses
    (json.loads has its own, higher one), and must get an answer, not a RecursionError.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not _storable(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
