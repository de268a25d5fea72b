"""Production settings with the bench URLconf: the app as deployed plus the bare DRF view."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
