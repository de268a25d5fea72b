from django.apps import AppConfig


class RiskConfig(AppConfig):
    """Risk: processing of accepted SETs, the system log, entity risk, policy and reports."""

    name = "risk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from risk import checks  # noqa: F401 - registers the settings checks
