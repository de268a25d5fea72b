"""Template filters of the console."""

import json

from django import template

from common.json_depth import STORED_JSON_MAX_DEPTH, json_value_deeper_than, too_deep_placeholder

register = template.Library()

# Stored JSON plus the few levels a page wraps around it (a System Log record's shape).
PRETTY_JSON_MAX_DEPTH = STORED_JSON_MAX_DEPTH + 16
# Beyond this a <pre> block is cut: a page must stay a page whatever a row holds.
PRETTY_JSON_MAX_CHARS = 100_000


@register.filter
def pretty_json(value) -> str:
    """Indented JSON for <pre> blocks (autoescaped by the template), safe for any value: too
    deep is not printed (json.dumps recurses), too long is cut."""
    if json_value_deeper_than(value, PRETTY_JSON_MAX_DEPTH):
        value = too_deep_placeholder(PRETTY_JSON_MAX_DEPTH)
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > PRETTY_JSON_MAX_CHARS:
        text = f"{text[:PRETTY_JSON_MAX_CHARS]}\n… (cut: {len(text)} characters in all)"
    return text


@register.filter
def get_item(mapping, key):
    """`mapping[key]` in a template (None when missing)."""
    return mapping.get(key) if mapping else None
