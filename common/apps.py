from django.apps import AppConfig


class CommonConfig(AppConfig):
    """What every app needs: console roles, Okta-style ids, the first admin login, API tokens
    and the management API's authentication, permissions, rate limits and errors."""

    name = "common"
    default_auto_field = "django.db.models.BigAutoField"
