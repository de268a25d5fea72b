"""Start-up checks of the risk app's settings (`manage.py check`, and every management command)."""

from django.conf import settings
from django.core import checks

from risk.mapping import lifetime_setting_errors


@checks.register(checks.Tags.compatibility)
def detection_lifetimes_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """RISK_DETECTION_LIFETIME_DAYS names detection kinds and gives each a lifetime."""
    return [
        checks.Error(f"RISK_DETECTION_LIFETIME_DAYS: {error}", id="risk.E001")
        for error in lifetime_setting_errors(settings.RISK_DETECTION_LIFETIME_DAYS)
    ]
