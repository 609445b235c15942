"""Settings for Setia, read from the environment.

Every deployment difference is an environment variable; `.env.example` lists
them all. Defaults give the embedded set-up of `make run`: SQLite in the project
folder, Celery tasks run eagerly, emails printed to the console.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DEBUG = env_bool("DJANGO_DEBUG", False)

# --- Secret key: required unless DEBUG ---------------------------------------------
# The key signs sessions, password-reset and email-confirmation links: with a key
# anyone can read (the development one below, the placeholder of .env.example) they
# can forge them all. So without DEBUG the app refuses to start rather than fall back.
DEVELOPMENT_SECRET_KEY = "insecure-dev-key-change-me-setia-0123456789-abcdefghijklmnopqrstuvwxyz"
PUBLISHED_SECRET_KEYS = {DEVELOPMENT_SECRET_KEY, "change-me-to-50-random-characters"}
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip()
if not DEBUG and (not SECRET_KEY or SECRET_KEY in PUBLISHED_SECRET_KEYS):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a long random value of your own when "
        "DJANGO_DEBUG is off (it is now missing, or a key published with Setia). "
        'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )
SECRET_KEY = SECRET_KEY or DEVELOPMENT_SECRET_KEY
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Django's admin behind allauth's login and the second factor (loyalty/access.py).
    "loyalty.apps.SetiaAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "loyalty",
    "members",
    "rewards",
    "campaigns",
    "purchases",
    "analytics",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "loyalty.middleware.TextInputMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "loyalty.urls"
WSGI_APPLICATION = "loyalty.wsgi.application"
ASGI_APPLICATION = "loyalty.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "loyalty.context_processors.site",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# Default: an SQLite file in the project. BEGIN IMMEDIATE makes every write
# transaction take the write lock up front, so concurrent writers queue instead
# of failing with "database is locked" half-way through.
SQLITE_PATH = BASE_DIR / "var" / "setia.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: a real shared backend (allauth rate limits and API throttling need one).
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "setia_cache",
        }
    }

# --- Auth -----------------------------------------------------------------------
AUTH_USER_MODEL = "loyalty.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "landing"

ACCOUNT_ADAPTER = "members.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "members.forms.MemberSignupForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Setia] "
# allauth's rate limits (sign-in attempts, password resets, …) stay on with its
# defaults; only `ACCOUNT_RATE_LIMITS = False` turns them off, e.g. for a load test.
if not env_bool("ACCOUNT_RATE_LIMITS_ENABLED", True):
    ACCOUNT_RATE_LIMITS = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Setia"
# Managers must set up TOTP before they reach the back-office, unless this is
# switched off (it is off by default only in DEBUG, for the demo logins).
LOYALTY_REQUIRE_MANAGER_MFA = env_bool("LOYALTY_REQUIRE_MANAGER_MFA", not DEBUG)

# --- Email ------------------------------------------------------------------------
EMAIL_URL = os.environ.get("EMAIL_URL", "")
if EMAIL_URL.startswith(("smtp://", "smtps://", "submission://")):
    from urllib.parse import unquote, urlparse

    _email = urlparse(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or (465 if _email.scheme == "smtps" else 587)
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = _email.scheme == "submission"
else:
    EMAIL_BACKEND = os.environ.get(
        "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
    )
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Setia <no-reply@setia.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ms", _("Bahasa Melayu"))]
# Our catalogue first; then Malay for the django-allauth strings our pages show
# (allauth ships none), kept apart so makemessages never drops them.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale" / "allauth"]
TIME_ZONE = os.environ.get("LOYALTY_TIME_ZONE", "Asia/Kuala_Lumpur")
USE_I18N = True
USE_TZ = True
# ISO 4217 code of the program's currency, one Babel knows (loyalty.E004).
LOYALTY_CURRENCY = os.environ.get("LOYALTY_CURRENCY", "MYR")
# ISO 3166 region the program runs in, one phonenumbers knows (loyalty.E005):
# phones typed without a country code are read in it, and amounts are written
# in its convention (loyalty/money.py).
LOYALTY_REGION = os.environ.get("LOYALTY_REGION", "MY").strip().upper()

# --- Static and media ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production defaults; DEBUG relaxes what plain http needs) ------------
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
# Preloading puts the domain in the browsers' built-in https-only lists, which is
# slow to undo: an operator opts in (and submits the domain), it is not a default.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
# check --deploy would warn about that choice (security.W021) on every run.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind DJANGO_PROXY_COUNT proxies of ours, the client's address is the hop the
# outermost one appended to X-Forwarded-For (the N-th from the right); anything
# further left is the client's to forge. Without a proxy only REMOTE_ADDR counts.
# allauth's rate limits, DRF's throttles and `loyalty.actors.client_ip` (audit)
# all read it this way.
_behind_proxy = env_bool("DJANGO_BEHIND_PROXY", False)
LOYALTY_TRUSTED_PROXY_COUNT = env_int("DJANGO_PROXY_COUNT", 1) if _behind_proxy else 0
ALLAUTH_TRUSTED_PROXY_COUNT = LOYALTY_TRUSTED_PROXY_COUNT
if _behind_proxy:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Content-Security-Policy and Permissions-Policy ----------------------------------
# Scripts and styles come from our own static files only: no inline script, no
# eval, nothing from another origin (templates move their scripts to static/js/).
# Inline style *attributes* stay allowed for the colours managers pick (tiers,
# gift-card designs); <style> elements do not. img-src allows data: for the TOTP
# QR code allauth draws. The API docs pages widen it for themselves only
# (loyalty/urls.py). django-csp's checks run with the app installed.
INSTALLED_APPS += ["csp"]
MIDDLEWARE += ["csp.middleware.CSPMiddleware", "loyalty.headers.PermissionsPolicyMiddleware"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        # The portal's service worker (/sw.js) and web app manifest are our own
        # files: said outright, though default-src would give the same.
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# No page uses these (the counter reads codes from a scanner that types, not from
# the camera): denied everywhere, see loyalty/headers.py.
LOYALTY_PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
}

# --- Web push (the portal as an app, docs/web-push.md) ----------------------------------
# VAPID keys identify us to the browsers' push services: base64url of the raw
# P-256 public point and private scalar (`manage.py vapid_keys` makes a pair).
# Unset, the portal offers no push; a half or mismatched pair fails `manage.py
# check` (loyalty.E002). The subject is how a push service reaches us (mailto: or https:).
LOYALTY_VAPID_PUBLIC_KEY = os.environ.get("LOYALTY_VAPID_PUBLIC_KEY", "").strip()
LOYALTY_VAPID_PRIVATE_KEY = os.environ.get("LOYALTY_VAPID_PRIVATE_KEY", "").strip()
LOYALTY_VAPID_SUBJECT = os.environ.get("LOYALTY_VAPID_SUBJECT", "").strip()
# Push endpoints on private, loopback or link-local addresses are refused (a
# member's browser chooses the URL our server posts to); tests allow them.
LOYALTY_PUSH_ALLOW_PRIVATE = env_bool("LOYALTY_PUSH_ALLOW_PRIVATE", False)

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "loyalty.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["loyalty.api.permissions.HasPosScope"],
    "DEFAULT_THROTTLE_CLASSES": ["loyalty.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": os.environ.get("LOYALTY_API_RATE", "12000/min"),
        # Unknown voucher and gift-card codes tried, per key (or user) and per address;
        # over it, every request naming a code is refused (rewards/throttling.py).
        "code_lookup": os.environ.get("LOYALTY_CODE_LOOKUP_RATE", "60/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "loyalty.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["loyalty.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "loyalty.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # 0, not DRF's default None, which would key throttles on a forged header.
    "NUM_PROXIES": LOYALTY_TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Setia integration API",
    "DESCRIPTION": "Tills, web shops and merchant systems integrate with Setia through this API.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for the webhook event types, wherever they appear (events, type).
    "ENUM_NAME_OVERRIDES": {
        "WebhookEventTypeEnum": "loyalty.models.WebhookEventType.choices",
        "ChallengeGoalEnum": "campaigns.models.ChallengeGoal.choices",
        "ParticipationStatusEnum": "campaigns.models.ParticipationStatus.choices",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus.choices",
    },
    # The contract is public (API.md); reading it needs no key.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI and Redoc from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Idempotency keys are kept at least this long (API.md: at least 7 days).
LOYALTY_IDEMPOTENCY_TTL_DAYS = env_int("LOYALTY_IDEMPOTENCY_TTL_DAYS", 7)

# --- Notifications (docs/notifications.md) ----------------------------------------------------
# Where the links in emails and text messages point (no request to take it from).
LOYALTY_SITE_URL = os.environ.get("LOYALTY_SITE_URL", "http://localhost:8000").rstrip("/")
# The text-message backend, a dotted path (loyalty/sms.py): console by default.
LOYALTY_SMS_BACKEND = os.environ.get("LOYALTY_SMS_BACKEND", "loyalty.sms.ConsoleSmsBackend")
# Optional mailto address of the List-Unsubscribe header, beside the one-click URL.
LOYALTY_UNSUBSCRIBE_MAILTO = os.environ.get("LOYALTY_UNSUBSCRIBE_MAILTO", "")
# Retries of a failed sending, with exponential backoff from 30 s up to an hour.
LOYALTY_NOTIFICATION_RETRIES = env_int("LOYALTY_NOTIFICATION_RETRIES", 8)
# --- Webhooks (loyalty/webhooks.py, docs/integration.md) ------------------------------------
# The first retry of a failed delivery waits this long; each next one twice as long.
LOYALTY_WEBHOOK_RETRY_SECONDS = env_int("LOYALTY_WEBHOOK_RETRY_SECONDS", 30)
if not 1 <= LOYALTY_WEBHOOK_RETRY_SECONDS <= 3600:
    raise ImproperlyConfigured(
        "LOYALTY_WEBHOOK_RETRY_SECONDS must be 1 to 3600 (seconds before the first retry; "
        "later retries double it, for at least 24 hours)."
    )
# Endpoints on private, loopback, link-local, multicast or reserved addresses are
# refused (a webhook must not reach the server's own network) unless this is on.
LOYALTY_WEBHOOK_ALLOW_PRIVATE = env_bool("LOYALTY_WEBHOOK_ALLOW_PRIVATE", False)

# --- Celery -----------------------------------------------------------------------------
# No broker configured: tasks run eagerly in the caller, so `make run` needs no server.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The beat schedule: each entry runs one job of `manage.py run_jobs` through the
# `loyalty.run_job` task. Jobs register themselves in `loyalty/jobs.py` registries.
CELERY_BEAT_SCHEDULE = {
    "purge-webhook-log": {
        "task": "loyalty.run_job",
        "schedule": crontab(hour=2, minute=30),
        "args": ("purge_webhook_log",),
    },
    "purge-idempotency-keys": {
        "task": "loyalty.run_job",
        "schedule": 60 * 60,
        "args": ("purge_idempotency_keys",),
    },
    # Pending points become spendable within the quarter hour they are due.
    "release-pending": {
        "task": "loyalty.run_job",
        "schedule": 15 * 60,
        "args": ("release_pending",),
    },
    # Notification deliveries whose task was lost are queued again.
    "notifications-retry": {
        "task": "loyalty.run_job",
        "schedule": 10 * 60,
        "args": ("notifications_retry",),
    },
    "expire-points": {"task": "loyalty.run_job", "schedule": 60 * 60, "args": ("expire_points",)},
    # Reminders once a day, mid-morning local time, when members read them;
    # each lot and voucher is told once, however often they run.
    "expiry-reminders": {
        "task": "loyalty.run_job",
        "schedule": crontab(hour=10, minute=0),
        "args": ("expiry_reminders",),
    },
    "voucher-reminders": {
        "task": "loyalty.run_job",
        "schedule": crontab(hour=10, minute=5),
        "args": ("voucher_reminders",),
    },
    "expire-vouchers": {
        "task": "loyalty.run_job",
        "schedule": 60 * 60,
        "args": ("expire_vouchers",),
    },
    "review-tiers": {
        "task": "loyalty.run_job",
        "schedule": crontab(hour=3, minute=0),
        "args": ("review_tiers",),
    },
    # After the tier review, so a night's scores see the same history.
    "rfm": {"task": "loyalty.run_job", "schedule": crontab(hour=3, minute=30), "args": ("rfm",)},
    # The dashboards' daily facts: the days that changed since the last run
    # (backdated sales, returns, the night's jobs), analytics.rollups.
    "rollups": {"task": "loyalty.run_job", "schedule": 30 * 60, "args": ("rollups",)},
    # BG/NBD and Gamma-Gamma on the history up to midnight: churn risk and 12-month value.
    "predictions": {
        "task": "loyalty.run_job",
        "schedule": crontab(hour=4, minute=15),
        "args": ("predictions",),
    },
    # The stored status of campaigns catches up with their windows (readers
    # already see the status at their own time, campaigns.selectors).
    "campaigns-status": {
        "task": "loyalty.run_job",
        "schedule": 5 * 60,
        "args": ("campaigns_status",),
    },
    # Early in the local morning, so the day's bonuses are there when members wake.
    "birthdays": {
        "task": "loyalty.run_job",
        "schedule": crontab(hour=0, minute=15),
        "args": ("birthdays",),
    },
    "anniversaries": {
        "task": "loyalty.run_job",
        "schedule": crontab(hour=0, minute=20),
        "args": ("anniversaries",),
    },
    # Referrals are settled right after the sale that qualifies them; this
    # sweep pays any whose task was lost.
    "referrals-settle": {
        "task": "loyalty.run_job",
        "schedule": 10 * 60,
        "args": ("referrals_settle",),
    },
    # Survey invitations in waking hours only: one due overnight waits for the
    # morning (analytics.surveys looks a week back).
    "survey-invitations": {
        "task": "loyalty.run_job",
        "schedule": crontab(hour="9-21", minute=40),
        "args": ("survey_invitations",),
    },
    # A completed challenge's catalogue voucher whose task was lost or which
    # was out of stock goes out once it can.
    "challenge-rewards": {
        "task": "loyalty.run_job",
        "schedule": 30 * 60,
        "args": ("challenge_rewards",),
    },
    # Scheduled broadcasts go out within the minute they are due.
    "broadcasts-due": {"task": "loyalty.run_job", "schedule": 60, "args": ("broadcasts_due",)},
    # Webhook deliveries that are due (first attempts whose task was lost, and
    # retries): the broker never has to keep a countdown.
    "webhooks-relay": {
        "task": "loyalty.run_job",
        "schedule": 15,
        "args": ("webhooks_relay",),
    },
}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # python-barcode announces at import that Pillow is absent; we draw SVG only.
        "pyBarcode": {"level": "WARNING"},
    },
}
