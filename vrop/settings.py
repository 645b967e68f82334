"""Environment-driven settings.

Server settings come from the environment; organisational policy (the thresholds of
the rules) lives in the database, in ``core.CompanySettings``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("VROP_DATA_DIR") or Path.cwd() / "var").resolve()


def _secret_key() -> str:
    """The secret key: from the environment, or generated once into the data directory."""
    if os.environ.get("VROP_SECRET_KEY"):
        return os.environ["VROP_SECRET_KEY"]
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("VROP_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h
    for h in os.environ.get("VROP_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("VROP_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "simple_history",
    "axes",
    "huey.contrib.djhuey",
    "vrop.core",
    "vrop.accounts",
    "vrop.crm",
    "vrop.discipline",
    "vrop.pricing",
    "vrop.receivables",
    "vrop.planning",
    "vrop.analytics",
    "vrop.team",
    "vrop.callaudit",
    "vrop.integrations",
    "vrop.notifications",
    "vrop.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "vrop.web.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "vrop.urls"
WSGI_APPLICATION = "vrop.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "vrop.accounts.backends.EmailOrUsernameBackend",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "vrop.web.context_processors.navigation",
            ],
            "builtins": ["vrop.core.templatetags.vrop_format"],
        },
    }
]

# --- database ---------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if "postgresql" in DATABASES["default"]["ENGINE"]:
        # PostgreSQL's JIT compiles the dashboards' aggregates for longer than they run
        # (1.25 s of compiling for a 70 ms ageing query at a million deals): off.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "vrop.sqlite3"),
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA busy_timeout=30000; PRAGMA cache_size=-64000; "
                    "PRAGMA temp_store=MEMORY;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- task queue -------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": os.environ.get("VROP_QUEUE_NAME", "vrop"),
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "vrop",
        "filename": str(DATA_DIR / "queue.sqlite3"),
        "immediate": os.environ.get("VROP_TASKS_IMMEDIATE", "") == "1",
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

CACHES = (
    {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    if REDIS_URL
    else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
)

# --- i18n -------------------------------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS: list = []  # each app keeps its catalogue in vrop/<app>/locale
TIME_ZONE = os.environ.get("VROP_TIME_ZONE", "Europe/Moscow")
USE_I18N = True
USE_TZ = True

# --- static -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
MEDIA_ROOT = DATA_DIR / "media"

# --- security and login throttling ------------------------------------------------------
AXES_FAILURE_LIMIT = int(os.environ.get("VROP_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_ENABLED = os.environ.get("VROP_AXES_DISABLED", "") != "1"
SESSION_COOKIE_HTTPONLY = True
SILENCED_SYSTEM_CHECKS = ["axes.W003"]

# --- integrations -----------------------------------------------------------------------
TELEGRAM_BOT_TOKEN = os.environ.get("VROP_TELEGRAM_BOT_TOKEN", "")
TELEGRAM_BASE_URL = os.environ.get("VROP_TELEGRAM_BASE_URL", "https://api.telegram.org/bot")
# notifications (docs/notifications.md)
TELEGRAM_BOT_USERNAME = os.environ.get("VROP_TELEGRAM_BOT_USERNAME", "")
TELEGRAM_WEBHOOK_SECRET = os.environ.get("VROP_TELEGRAM_WEBHOOK_SECRET", "")
VROP_BASE_URL = os.environ.get("VROP_BASE_URL", "")
NOTIFICATIONS_CLAIM_TIMEOUT = float(os.environ.get("VROP_NOTIFICATIONS_CLAIM_TIMEOUT", "120"))
NOTIFICATIONS_RESEND_INTERRUPTED = os.environ.get("VROP_NOTIFICATIONS_RESEND_INTERRUPTED") == "1"
EMAIL_HOST = os.environ.get("VROP_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("VROP_EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("VROP_EMAIL_FROM", "vrop@localhost")
EMAIL_BACKEND = os.environ.get("VROP_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("VROP_LOG_LEVEL", "WARNING")},
    "loggers": {"vrop": {"level": os.environ.get("VROP_LOG_LEVEL", "INFO")}},
}
