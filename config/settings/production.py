"""Production: hardened, and refuses to start without a real secret key and database."""

from django.core.exceptions import ImproperlyConfigured

from config.env import address_list
from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
if SECRET_KEY.startswith("dev-only") or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a real secret of at least 32 characters.")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# No "SELECT 1" before every request (measured: 13% of an ingest worker's time). A connection
# that died fails one request with a DatabaseError, which the push endpoint answers 503 +
# Retry-After (the transmitter retries), and Django then drops it.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

# Behind the shipped nginx on the same host (deploy/nginx/): only it may say https or name the
# client; common.proxy drops those headers from anyone else.
TRUSTED_PROXY_ADDRESSES = address_list("TRUSTED_PROXY_ADDRESSES", default=["127.0.0.1", "::1"])
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
