"""Settings shared by every environment; each value comes from the environment (see README)."""

from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import BASE_DIR, address_list, env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-secret-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Reverse proxies (addresses or networks) whose X-Forwarded-For / X-Forwarded-Proto are believed
# (common.proxy); empty: no proxy, the peer is the client. Production defaults to loopback, where
# the shipped nginx (deploy/nginx/) forwards from.
TRUSTED_PROXY_ADDRESSES = address_list("TRUSTED_PROXY_ADDRESSES", default=[])

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
# A SET nesting deeper is refused (invalid_request) before it is parsed; real SETs nest 4-8 deep.
# At most 64, well within the depth stored JSON is read back to (common.json_depth).
SET_MAX_JSON_DEPTH = env.int("SET_MAX_JSON_DEPTH", default=32)
if not 8 <= SET_MAX_JSON_DEPTH <= 64:
    raise ImproperlyConfigured("SET_MAX_JSON_DEPTH must be between 8 and 64.")
JWKS_REFETCH_MIN_INTERVAL_SECONDS = env.int("JWKS_REFETCH_MIN_INTERVAL_SECONDS", default=30)
REJECTED_SET_RETENTION_DAYS = env.int("REJECTED_SET_RETENTION_DAYS", default=14)
REJECTED_SET_CAP_PER_STREAM = env.int("REJECTED_SET_CAP_PER_STREAM", default=1000)
REJECTED_SET_MAX_PER_MINUTE = env.int("REJECTED_SET_MAX_PER_MINUTE", default=120)
# After a push secret is rotated, the previous one is still accepted this long.
PUSH_SECRET_GRACE_SECONDS = env.int("PUSH_SECRET_GRACE_SECONDS", default=600)
# The pending-SET sweeper runs every SWEEP_PENDING_INTERVAL_SECONDS and asks for a drain when a
# SET has been PENDING longer than SWEEP_PENDING_AFTER_SECONDS and no drain holds a live lease.
SWEEP_PENDING_INTERVAL_SECONDS = env.float("SWEEP_PENDING_INTERVAL_SECONDS", default=5.0)
SWEEP_PENDING_AFTER_SECONDS = env.int("SWEEP_PENDING_AFTER_SECONDS", default=10)
# Drains running at once at most (one per Celery worker process is right).
DRAIN_CONCURRENCY = env.int("DRAIN_CONCURRENCY", default=2)
# A drain renews its lease every batch; a drain whose worker died stops counting this long after.
DRAIN_LEASE_SECONDS = env.float("DRAIN_LEASE_SECONDS", default=10.0)
REJECTED_SET_PRUNE_INTERVAL_SECONDS = env.float(
    "REJECTED_SET_PRUNE_INTERVAL_SECONDS", default=3600.0
)

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
# Beat: keep-alive, verification and deferred checks of managed streams; JWKS refresh.
STREAM_UPKEEP_INTERVAL_SECONDS = env.float("STREAM_UPKEEP_INTERVAL_SECONDS", default=60.0)
JWKS_REFRESH_INTERVAL_SECONDS = env.float("JWKS_REFRESH_INTERVAL_SECONDS", default=3600.0)

# Retention (README "Operating the receiver"): days kept, 0 = forever. Pruned every
# RETENTION_INTERVAL_SECONDS in batches of RETENTION_BATCH_SIZE rows, one short transaction each.
SYSTEM_LOG_RETENTION_DAYS = env.int("SYSTEM_LOG_RETENTION_DAYS", default=90)
ACCEPTED_SET_RETENTION_DAYS = env.int("ACCEPTED_SET_RETENTION_DAYS", default=90)
RISK_HISTORY_RETENTION_DAYS = env.int("RISK_HISTORY_RETENTION_DAYS", default=365)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)
RETENTION_INTERVAL_SECONDS = env.int("RETENTION_INTERVAL_SECONDS", default=300)

# Health and metrics (events.operations): which readiness checks a 503 waits on, how old the
# processing backlog and the last worker heartbeat may be, and the /metrics bearer token.
READINESS_REQUIRED_CHECKS = env.list(
    "READINESS_REQUIRED_CHECKS", default=["database", "redis", "broker"]
)
READINESS_BACKLOG_MAX_AGE_SECONDS = env.int("READINESS_BACKLOG_MAX_AGE_SECONDS", default=300)
WORKER_HEARTBEAT_MAX_AGE_SECONDS = env.int("WORKER_HEARTBEAT_MAX_AGE_SECONDS", default=60)
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# Risk (risk app): create users/devices from unknown subjects, and how emails are matched.
RISK_AUTO_CREATE_ENTITIES = env.bool("RISK_AUTO_CREATE_ENTITIES", default=False)
EMAIL_LOCAL_PART_CASE_SENSITIVE = env.bool("EMAIL_LOCAL_PART_CASE_SENSITIVE", default=False)
# Policy actions are delivered from their rows (risk.services.actions): the sweep runs every
# POLICY_ACTION_SWEEP_INTERVAL_SECONDS and delivers every action that is due; a transient
# failure makes the next attempt due POLICY_ACTION_RETRY_SECONDS later, doubling each time.
POLICY_ACTION_SWEEP_INTERVAL_SECONDS = env.float(
    "POLICY_ACTION_SWEEP_INTERVAL_SECONDS", default=5.0
)
POLICY_ACTION_RETRY_SECONDS = env.float("POLICY_ACTION_RETRY_SECONDS", default=5.0)
STREAM_CHANGES_MIRROR_INTERVAL_SECONDS = env.float(
    "STREAM_CHANGES_MIRROR_INTERVAL_SECONDS", default=60.0
)
# Detection lifetimes by kind, replacing risk.mapping's defaults: "SESSIONS_REVOKED=2,USER_RISK=90"
# (days) or "KIND=never" (checked at start-up by risk.checks).
RISK_DETECTION_LIFETIME_DAYS = env.dict("RISK_DETECTION_LIFETIME_DAYS", default={})

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "common",
    "streams",
    "events",
    "risk",
    "scim",
]

MIDDLEWARE = [
    # First: probes and scrapers reach these by pod address over http (events.operations).
    "events.operations.OperatorEndpointsMiddleware",
    "common.proxy.TrustedProxyMiddleware",
    # After the proxy check: the System Log's client address is the one it settled.
    "common.audit.AuditClientMiddleware",
    "common.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Wraps every later response, static files and error pages included.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "common.sessions.SessionTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "common.mfa_middleware.MfaEnrolmentRequiredMiddleware",
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
# Console sign-in (common.sign_in): growing per-account delays, never a lockout, and a budget
# of failures per client address.
SIGN_IN_FREE_FAILURES = env.int("SIGN_IN_FREE_FAILURES", default=3)
SIGN_IN_DELAY_SECONDS = env.int("SIGN_IN_DELAY_SECONDS", default=1)
SIGN_IN_MAX_DELAY_SECONDS = env.int("SIGN_IN_MAX_DELAY_SECONDS", default=900)
SIGN_IN_ADDRESS_MAX_FAILURES = env.int("SIGN_IN_ADDRESS_MAX_FAILURES", default=20)
SIGN_IN_ADDRESS_WINDOW_SECONDS = env.int("SIGN_IN_ADDRESS_WINDOW_SECONDS", default=900)
# Console sessions (common.sessions): signed out after this long without a request, and this
# long after sign-in whatever happens.
SESSION_IDLE_TIMEOUT_SECONDS = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=30 * 60)
SESSION_ABSOLUTE_TIMEOUT_SECONDS = env.int("SESSION_ABSOLUTE_TIMEOUT_SECONDS", default=12 * 3600)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT_SECONDS

# Admin sign-in (README "Admin sign-in"). Single sign-on over OpenID Connect is on when
# SSO_ISSUER is set; the IdP's endpoints come from its discovery document unless all of
# SSO_AUTHORIZATION_ENDPOINT, SSO_TOKEN_ENDPOINT and SSO_JWKS_URI are given.
SSO_ISSUER = env("SSO_ISSUER", default="")
SSO_CLIENT_ID = env("SSO_CLIENT_ID", default="")
SSO_CLIENT_SECRET = env("SSO_CLIENT_SECRET", default="")
SSO_DISPLAY_NAME = env("SSO_DISPLAY_NAME", default="SSO")
SSO_SCOPES = env("SSO_SCOPES", default="openid email profile")
SSO_ROLE_CLAIM = env("SSO_ROLE_CLAIM", default="groups")
SSO_SUPER_ADMIN_VALUES = env.list("SSO_SUPER_ADMIN_VALUES", default=[])
SSO_READ_ONLY_ADMIN_VALUES = env.list("SSO_READ_ONLY_ADMIN_VALUES", default=[])
SSO_USERNAME_CLAIM = env("SSO_USERNAME_CLAIM", default="preferred_username")
SSO_AUTHORIZATION_ENDPOINT = env("SSO_AUTHORIZATION_ENDPOINT", default="")
SSO_TOKEN_ENDPOINT = env("SSO_TOKEN_ENDPOINT", default="")
SSO_USERINFO_ENDPOINT = env("SSO_USERINFO_ENDPOINT", default="")
SSO_JWKS_URI = env("SSO_JWKS_URI", default="")
SSO_METADATA_CACHE_SECONDS = env.int("SSO_METADATA_CACHE_SECONDS", default=3600)
# False: the sign-in page offers only single sign-on and refuses every password.
LOCAL_PASSWORD_SIGN_IN = env.bool("LOCAL_PASSWORD_SIGN_IN", default=True)
# True: a Super admin signing in with a password must enrol a second factor before any page.
MFA_REQUIRED_FOR_SUPER_ADMINS = env.bool("MFA_REQUIRED_FOR_SUPER_ADMINS", default=False)
# The name authenticator apps show beside the account (django-otp's TOTP key URI issuer).
OTP_TOTP_ISSUER = env("MFA_ISSUER_NAME", default="SSF Receiver")
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "common.sso.ConsoleOidcBackend",
]

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
# A Celery 6 default would cancel running tasks when the broker connection drops; ours are
# written to be cut short (rows are the outbox), but a cancelled webhook call would only be sent
# again: keep them running.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False


def _every(seconds: float, task: str) -> dict:
    """A beat entry. No expiry: a sweep queued behind a backlog must still run when reached (an
    expired one would leave the actions it should redeliver waiting); after an outage the
    queued copies cost a query each."""
    return {"task": task, "schedule": seconds}


CELERY_BEAT_SCHEDULE = {
    "sweep-pending-security-events": _every(
        SWEEP_PENDING_INTERVAL_SECONDS, "events.sweep_pending_security_events"
    ),
    "prune-rejected-security-events": _every(
        REJECTED_SET_PRUNE_INTERVAL_SECONDS, "events.prune_rejected_security_events"
    ),
    "sweep-pending-policy-actions": _every(
        POLICY_ACTION_SWEEP_INTERVAL_SECONDS, "risk.sweep_pending_policy_actions"
    ),
    "mirror-stream-changes": _every(
        STREAM_CHANGES_MIRROR_INTERVAL_SECONDS, "risk.mirror_stream_changes"
    ),
    "maintain-managed-streams": _every(
        STREAM_UPKEEP_INTERVAL_SECONDS, "streams.maintain_managed_streams"
    ),
    "refresh-jwks": _every(JWKS_REFRESH_INTERVAL_SECONDS, "streams.refresh_jwks"),
    "poll-streams": _every(POLL_INTERVAL_SECONDS, "events.poll_streams"),
    "prune-security-events": _every(RETENTION_INTERVAL_SECONDS, "events.prune_security_events"),
    "prune-risk-history": _every(RETENTION_INTERVAL_SECONDS, "risk.prune_risk_history"),
    "expire-detections": _every(60.0, "risk.expire_detections"),
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
    # No badge image from the public validator (the policy refuses it, and it would send the
    # schema's URL out).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Content-Security-Policy (django-csp), enforced on every response (README "Security"): nothing
# inline but a script a page marks with the request's nonce (the API docs' Swagger UI set-up);
# NONCE is left out of the header of pages that use none.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

# LOG_FORMAT=json: one JSON object a line with the request, task and SET trace ids
# (common.logs); plain lines carry the same ids at their end. LOG_REQUESTS: a line per request.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
LOG_REQUESTS = env.bool("LOG_REQUESTS", default=True)
_LOG_FORMATTERS = {
    "plain": {"()": "common.logs.PlainFormatter",
              "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    "json": {"()": "common.logs.JsonFormatter"},
}  # fmt: skip
if LOG_FORMAT not in _LOG_FORMATTERS:
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"default": _LOG_FORMATTERS[LOG_FORMAT]},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
