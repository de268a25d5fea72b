"""WSGI entry point (gunicorn config.wsgi). Production settings unless told otherwise: a server
started without DJANGO_SETTINGS_MODULE must not run with DEBUG and the development secret key."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()
