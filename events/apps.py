from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Events: the SET push endpoint, SET verification, and the stored SETs."""

    name = "events"
    default_auto_field = "django.db.models.BigAutoField"
