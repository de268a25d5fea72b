"""Template filters of the risk pages."""

from django import template

from risk.mapping import lifetime_text
from risk.models import DetectionKind, is_entity_id
from risk.services.system_log import log_event_to_okta

register = template.Library()


@register.filter
def log_event_json(event) -> dict:
    """The record in Okta's LogEvent shape, for the System Log's expandable JSON."""
    return log_event_to_okta(event)


@register.filter
def entity_id(value) -> bool:
    """Whether a target's id is a directory entity's, so it links to the entity's page."""
    return is_entity_id(value)


@register.filter
def detection_kind_label(kind: str) -> str:
    """A detection kind's words ("User risk") from its value, as records keep it."""
    return DetectionKind(kind).label if kind in DetectionKind.values else kind


@register.filter
def detection_lifetime(kind: DetectionKind | None) -> str:
    """How long a detection of this kind stays active (the policy page's mapping table)."""
    return lifetime_text(kind) if kind is not None else "—"
