"""How deep JSON nests, found without recursion; and a decoder for JSON read back from storage.

Python walks nested values recursively (json.loads, json.dumps, templates) and raises
RecursionError near 1000 levels, fewer when called deep inside a request or a task. So JSON
from outside is refused past a small depth where it comes in (events.verification), and JSON
read back from the database is decoded only up to STORED_JSON_MAX_DEPTH: no page and no drain
can fail on a row that got there by other means.
"""

import json
from re import DOTALL, compile
from typing import Any

# Deep enough for anything this receiver writes (a SET at SET_MAX_JSON_DEPTH, wrapped in a
# System Log record); shallow enough to decode and print anywhere in a request.
STORED_JSON_MAX_DEPTH = 128

# A JSON string literal, escapes included: brackets inside one do not nest.
_STRING = compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', DOTALL)
_BRACKET = compile(r"[\[\]{}]")


def json_text_deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects in JSON text nest more than `limit` deep (strings aside).

    A scan, not a parse: linear, no recursion, and nearly free for the usual SET, whose few
    brackets cannot reach the limit.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def json_value_deeper_than(value: Any, limit: int) -> bool:
    """The same for a decoded value, walked with its own stack."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return False


def too_deep_placeholder(limit: int) -> dict[str, str]:
    """What a value nested deeper than `limit` is shown as."""
    return {"notShown": f"This JSON nests more than {limit} levels deep; it is not decoded."}


class StoredJSONDecoder(json.JSONDecoder):
    """Decoder of stored JSONFields: JSON nested deeper than STORED_JSON_MAX_DEPTH reads as a
    placeholder instead of raising RecursionError (the row itself is left as it is)."""

    def decode(self, s: str, *args: Any, **kwargs: Any) -> Any:
        if json_text_deeper_than(s, STORED_JSON_MAX_DEPTH):
            return too_deep_placeholder(STORED_JSON_MAX_DEPTH)
        return super().decode(s, *args, **kwargs)
