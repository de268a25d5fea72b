from django.apps import AppConfig


class CommonConfig(AppConfig):
    """What every app needs: console roles, Okta-style ids, the first admin login."""

    name = "common"
    default_auto_field = "django.db.models.BigAutoField"
