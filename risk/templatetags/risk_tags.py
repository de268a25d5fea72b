"""Template filters of the risk pages."""

from django import template

from risk.services.system_log import log_event_to_okta

register = template.Library()


@register.filter
def log_event_json(event) -> dict:
    """The record in Okta's LogEvent shape, for the System Log's expandable JSON."""
    return log_event_to_okta(event)
