"""`make run`: SQLite, Celery eager, plain-http transmitters on loopback allowed."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOW_INSECURE_TRANSMITTER_URLS = env.bool("ALLOW_INSECURE_TRANSMITTER_URLS", default=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# A processing error under eager Celery must not turn a stored SET's 202 into a 500; the SET
# stays pending and the sweeper retries it.
CELERY_TASK_EAGER_PROPAGATES = False
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Serve static files straight from static/ without collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
