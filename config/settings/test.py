"""The test suite: real PostgreSQL and Redis, started by tests/servers.py (see tests/conftest.py).

DATABASE_URL and REDIS_URL here are placeholders that the harness rewrites before any test
touches them; set TEST_DATABASE_URL / TEST_REDIS_URL to use servers of your own instead.
"""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DATABASES = {"default": env.db("TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:1/ssf")}
DATABASES["default"]["CONN_MAX_AGE"] = 0
ALLOW_INSECURE_TRANSMITTER_URLS = True
CELERY_TASK_ALWAYS_EAGER = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
OUTBOUND_CONNECT_TIMEOUT = 1.0
OUTBOUND_READ_TIMEOUT = 1.0
# Serve static files straight from static/ without collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Tests push many refused SETs within a minute; the flood cap has its own test.
REJECTED_SET_MAX_PER_MINUTE = 1_000_000
