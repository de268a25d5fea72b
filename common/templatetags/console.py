"""Template filters of the console."""

import json

from django import template

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    """Indented JSON for <pre> blocks (autoescaped by the template)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def get_item(mapping, key):
    """`mapping[key]` in a template (None when missing)."""
    return mapping.get(key) if mapping else None
