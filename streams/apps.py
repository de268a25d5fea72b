from django.apps import AppConfig


class StreamsConfig(AppConfig):
    """Streams: transmitters we receive SETs from, their discovery, keys and console pages."""

    name = "streams"
    default_auto_field = "django.db.models.BigAutoField"
