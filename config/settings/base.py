"""Settings shared by every environment; each value comes from the environment (see README)."""

from config.env import BASE_DIR, env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-secret-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# The receiver's public base URL: shown to admins as the push endpoint's origin and, unless
# RECEIVER_AUDIENCE says otherwise, the audience transmitters must put in a SET's `aud`.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
RECEIVER_AUDIENCE = env("RECEIVER_AUDIENCE", default=SITE_URL)

# Outbound requests to transmitters (streams.fetch): https and public addresses only, unless this
# is true. Link-local and cloud-metadata addresses are refused whatever it says.
ALLOW_INSECURE_TRANSMITTER_URLS = env.bool("ALLOW_INSECURE_TRANSMITTER_URLS", default=False)
OUTBOUND_CONNECT_TIMEOUT = env.float("OUTBOUND_CONNECT_TIMEOUT", default=3.0)
OUTBOUND_READ_TIMEOUT = env.float("OUTBOUND_READ_TIMEOUT", default=5.0)
OUTBOUND_MAX_BYTES = env.int("OUTBOUND_MAX_BYTES", default=1024 * 1024)
OUTBOUND_MAX_REDIRECTS = env.int("OUTBOUND_MAX_REDIRECTS", default=3)

# SET ingestion (events app).
SET_MAX_BYTES = env.int("SET_MAX_BYTES", default=64 * 1024)
SET_CLOCK_SKEW_SECONDS = env.int("SET_CLOCK_SKEW_SECONDS", default=300)
JWKS_REFETCH_MIN_INTERVAL_SECONDS = env.int("JWKS_REFETCH_MIN_INTERVAL_SECONDS", default=30)
REJECTED_SET_RETENTION_DAYS = env.int("REJECTED_SET_RETENTION_DAYS", default=14)
REJECTED_SET_CAP_PER_STREAM = env.int("REJECTED_SET_CAP_PER_STREAM", default=1000)
REJECTED_SET_MAX_PER_MINUTE = env.int("REJECTED_SET_MAX_PER_MINUTE", default=120)
# After a push secret is rotated, the previous one is still accepted this long.
PUSH_SECRET_GRACE_SECONDS = env.int("PUSH_SECRET_GRACE_SECONDS", default=600)
SWEEP_PENDING_AFTER_SECONDS = env.int("SWEEP_PENDING_AFTER_SECONDS", default=30)
# Drains running at once at most (one per Celery worker process is right).
DRAIN_CONCURRENCY = env.int("DRAIN_CONCURRENCY", default=2)

# Streams managed at the transmitter (SSF stream management, verification, poll).
STREAM_VERIFICATION_INTERVAL_SECONDS = env.int(
    "STREAM_VERIFICATION_INTERVAL_SECONDS", default=21600
)
STREAM_VERIFICATION_TIMEOUT_SECONDS = env.int("STREAM_VERIFICATION_TIMEOUT_SECONDS", default=600)
STREAM_KEEPALIVE_MAX_SECONDS = env.int("STREAM_KEEPALIVE_MAX_SECONDS", default=3600)
# A transmitter that answers 202 (accepted, applied later) is read again after this many
# seconds, doubling each time, at most STREAM_DEFERRED_CHECKS times.
STREAM_DEFERRED_CHECK_SECONDS = env.int("STREAM_DEFERRED_CHECK_SECONDS", default=10)
STREAM_DEFERRED_CHECKS = env.int("STREAM_DEFERRED_CHECKS", default=5)
POLL_INTERVAL_SECONDS = env.float("POLL_INTERVAL_SECONDS", default=5.0)
POLL_MAX_EVENTS = env.int("POLL_MAX_EVENTS", default=100)

# Risk (risk app): create users/devices from unknown subjects, and how emails are matched.
RISK_AUTO_CREATE_ENTITIES = env.bool("RISK_AUTO_CREATE_ENTITIES", default=False)
EMAIL_LOCAL_PART_CASE_SENSITIVE = env.bool("EMAIL_LOCAL_PART_CASE_SENSITIVE", default=False)
# Detection lifetimes by kind, replacing risk.mapping's defaults: "SESSIONS_REVOKED=2,USER_RISK=90"
# (days) or "KIND=never" (checked at start-up by risk.checks).
RISK_DETECTION_LIFETIME_DAYS = env.dict("RISK_DETECTION_LIFETIME_DAYS", default={})

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "common",
    "streams",
    "events",
    "risk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "common.context_processors.console",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Persistent connections: a new PostgreSQL connection per request costs more than the whole
# ingest path (../shared/docs/PERFORMANCE.md).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # `make run`'s SQLite is written by the console and by a demo transmitter's pushes at once:
    # take the write lock at BEGIN and wait for it, instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Console sign-in: after this many failures for a username, refuse it for the lockout window.
SIGN_IN_MAX_FAILURES = env.int("SIGN_IN_MAX_FAILURES", default=5)
SIGN_IN_LOCKOUT_SECONDS = env.int("SIGN_IN_LOCKOUT_SECONDS", default=900)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_URL", default=REDIS_URL),
    }
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged only after it ran, so a worker that dies mid-task loses nothing; the
# database constraints make the second run harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-security-events": {
        "task": "events.sweep_pending_security_events",
        "schedule": 30.0,
    },
    "prune-rejected-security-events": {
        "task": "events.prune_rejected_security_events",
        "schedule": 3600.0,
    },
    "sweep-pending-policy-actions": {
        "task": "risk.sweep_pending_policy_actions",
        "schedule": 60.0,
    },
    "mirror-stream-changes": {"task": "risk.mirror_stream_changes", "schedule": 60.0},
    "expire-detections": {"task": "risk.expire_detections", "schedule": 60.0},
    "maintain-managed-streams": {"task": "streams.maintain_managed_streams", "schedule": 60.0},
    "refresh-jwks": {"task": "streams.refresh_jwks", "schedule": 3600.0},
    "poll-streams": {"task": "events.poll_streams", "schedule": POLL_INTERVAL_SECONDS},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "streams:stream_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK = {
    # An API token (SSWS or Bearer) first; the console session also works from the browser, with
    # CSRF enforced on writes by DRF's SessionAuthentication.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "common.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["common.api.permissions.ConsoleRolePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["common.api.throttling.ApiRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.api.errors.okta_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# Calls a minute per API token (or per signed-in admin); Okta's X-Rate-Limit-* headers tell it.
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)

SPECTACULAR_SETTINGS = {
    "TITLE": "SSF Receiver API",
    "DESCRIPTION": (
        "Okta-compatible management API (security events providers, System Log, user risk) "
        "and the RFC 8935 SET push endpoint. Errors are Okta error objects."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["common.api.permissions.ConsoleRolePermission"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RiskLevelEnum": "risk.models.RiskLevel",
        "ManualRiskLevelEnum": "risk.api.users.MANUAL_RISK_LEVELS",
    },
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
