"""Folio settings: everything an operator changes comes from FOLIO_* environment variables.

docs/configuration.md lists each variable; nothing else in the code reads the environment.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


VAR_DIR = Path(env("FOLIO_VAR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """FOLIO_SECRET_KEY, or a key generated once and kept under ./var (never logged)."""
    configured = env("FOLIO_SECRET_KEY")
    if configured:
        return configured
    path = VAR_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("FOLIO_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in env("FOLIO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in (env("FOLIO_CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o.strip()
]

# The base URL that feeds, share links and public rendition URLs use. Deliberately no default:
# a published feed must never point at 127.0.0.1 unless an operator says so.
PUBLIC_URL = (env("FOLIO_PUBLIC_URL") or "").rstrip("/") or None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "folio.accounts",
    "folio.jobs",
    "folio.catalog",
    "folio.search",
    "folio.assets",
    "folio.renditions",
    "folio.linking",
    "folio.imports",
    "folio.publishing",
    "folio.web",
    "folio.backups",
]

MIDDLEWARE = [
    "folio.monitoring.middleware.RequestMetricsMiddleware",  # first: it times everything
    "django.middleware.security.SecurityMiddleware",
    "folio.web.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # after sessions, before common: Django's LocaleMiddleware (the footer switcher's cookie,
    # else Accept-Language, else LANGUAGE_CODE), but only pages get Vary: Accept-Language
    "folio.web.locale.PageLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "folio.accounts.middleware.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "folio.urls"
WSGI_APPLICATION = "folio.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database(url: str) -> dict:
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for a bad URL
        raise ImproperlyConfigured(f"FOLIO_DATABASE_URL is not a database URL: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the one writer; IMMEDIATE transactions take the write
        # lock up front, so the web server and the worker wait (busy timeout) instead of
        # failing with "database is locked" half-way through a transaction.
        # Connections are kept (per thread) like on PostgreSQL: reconnecting re-runs the
        # PRAGMAs below and doubled the latency of small API requests (bench/api_auth).
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA busy_timeout=30000;"
                # Reads of a large catalog come from the OS page cache through mmap instead
                # of a read() per page, and each connection keeps 64 MiB of hot pages.
                "PRAGMA mmap_size=2147483648;"
                "PRAGMA cache_size=-65536;"
            ),
        }
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    elif config["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "FOLIO_DATABASE_URL must be sqlite:///… or postgresql://…, "
            f"not {config['ENGINE'].rsplit('.', 1)[-1]}"
        )
    return config


DATABASE_URL = env("FOLIO_DATABASE_URL", f"sqlite:///{VAR_DIR / 'folio.sqlite3'}")
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = ["folio.accounts.backends.RoleBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"  # the default UI language; also the Shopify connector's own language
# The UI languages shipped: a catalogue for each in folio/locale/<code>/LC_MESSAGES/django.po
# (docs/architecture.md, "Translating the web UI"). English is the source language.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"
# FOLIO_MEDIA: a folder (default ./var/media) or s3://bucket/prefix for S3-compatible object
# storage (AWS, MinIO, SeaweedFS…; FOLIO_S3_ENDPOINT_URL for anything but AWS).
MEDIA = env("FOLIO_MEDIA", str(VAR_DIR / "media"))
if MEDIA.startswith("s3://"):
    _bucket, _, _prefix = MEDIA[5:].partition("/")
    if not _bucket:
        raise ImproperlyConfigured("FOLIO_MEDIA=s3://bucket/prefix needs a bucket name")
    MEDIA_ROOT = VAR_DIR / "media"  # not used for files; Django wants a value
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket,
            "location": _prefix.strip("/"),
            "endpoint_url": env("FOLIO_S3_ENDPOINT_URL"),
            "region_name": env("FOLIO_S3_REGION"),
            "access_key": env("FOLIO_S3_ACCESS_KEY"),
            "secret_key": env("FOLIO_S3_SECRET_KEY"),
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,  # presigned URLs live minutes, never past rights
            "file_overwrite": True,  # content-addressed: same name, same bytes
        },
    }
else:
    MEDIA_ROOT = Path(MEDIA).resolve()
    _media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _media_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Assets: limits on every upload, and how many old versions keep their bytes.
MAX_UPLOAD_BYTES = env_int("FOLIO_MAX_UPLOAD_BYTES", 5 * 1024**3)
MAX_IMAGE_PIXELS = env_int("FOLIO_MAX_IMAGE_PIXELS", 100_000_000)
VERSION_RETENTION = env_int("FOLIO_VERSION_RETENTION", 0)  # keep the last N; 0 keeps all
RIGHTS_WARNING_DAYS = env_int("FOLIO_RIGHTS_WARNING_DAYS", 30)
# Separation of duties: whoever uploaded an asset's current version may not approve it (at any
# step), administrators included. Off only for a team too small to have a second person.
SEPARATION_OF_DUTIES = env_bool("FOLIO_SEPARATION_OF_DUTIES", True)
UPLOAD_DIR = VAR_DIR / "uploads"  # resumable uploads in progress, and spooled files
# A temporary or not-yet-committed file older than this (seconds) was left by a process that
# died mid-way (killed, out of memory, power cut); the prune job deletes it.
STALE_FILE_GRACE = env_int("FOLIO_STALE_FILE_GRACE", 3600)

# Renditions: per-render time limit, the background-removal confidence under which a cut-out
# waits for a person, and how long delivery caches may keep a rendition (never past rights).
RENDITION_TIMEOUT = env_int("FOLIO_RENDITION_TIMEOUT", 120)
RENDITION_REVIEW_CONFIDENCE = float(env("FOLIO_RENDITION_REVIEW_CONFIDENCE", "0.6"))
RENDITION_MAX_AGE = env_int("FOLIO_RENDITION_MAX_AGE", 86_400)
RENDITION_S3_REDIRECT = env_bool("FOLIO_RENDITION_S3_REDIRECT", False)

# Limits on every request body; uploads of large files get their own streamed path.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("FOLIO_MAX_REQUEST_BYTES", 25 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# Background jobs: Django's Tasks API. "database" is the embedded default (django-tasks-db's
# worker, started by `folio serve`); "immediate" runs jobs inline (useful for scripts); "rq"
# is the worker fleet: RQ on Redis (FOLIO_REDIS_URL), workers on any number of machines.
REDIS_URL = env("FOLIO_REDIS_URL")  # redis://host:6379/0; setting it selects "rq"
JOB_BACKEND = env("FOLIO_JOB_BACKEND", "rq" if REDIS_URL else "database")
# Longest a job may run before its worker stops it and marks it failed (RQ enforces it; a job
# declares its own with @job(timeout=…)). Failed attempts of retryable jobs wait this long,
# doubling each time, before the next.
JOB_TIMEOUT = env_int("FOLIO_JOB_TIMEOUT", 3600)
JOB_RETRY_DELAY = env_int("FOLIO_JOB_RETRY_DELAY", 30)
_TASK_BACKENDS = {
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
    "immediate": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"},
    "rq": {"BACKEND": "folio.jobs.fleet.FleetBackend", "QUEUES": ["default"]},
}
if JOB_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"FOLIO_JOB_BACKEND must be one of {', '.join(sorted(_TASK_BACKENDS))}, not {JOB_BACKEND!r}"
    )
if JOB_BACKEND == "rq":
    if not REDIS_URL:
        raise ImproperlyConfigured(
            "FOLIO_JOB_BACKEND=rq needs FOLIO_REDIS_URL (redis://host:6379/0)"
        )
    INSTALLED_APPS.append("django_rq")
    # The one queue the jobs use (Folio's run_job task goes to "default").
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": JOB_TIMEOUT}}
TASKS = {"default": _TASK_BACKENDS[JOB_BACKEND]}
# A worker that has not written its heartbeat for this long is taken for dead; its jobs are
# retried (up to the job's attempt limit) or marked failed.
JOB_WORKER_DEAD_AFTER = env_int("FOLIO_JOB_WORKER_DEAD_AFTER", 60)
# How often a worker (or a `folio import`/`folio export` running a job itself) writes that
# heartbeat; keep it well under FOLIO_JOB_WORKER_DEAD_AFTER.
JOB_HEARTBEAT_SECONDS = env_int(
    "FOLIO_JOB_HEARTBEAT_SECONDS", max(1, min(10, JOB_WORKER_DEAD_AFTER // 3))
)
if not 0 < JOB_HEARTBEAT_SECONDS <= JOB_WORKER_DEAD_AFTER:
    raise ImproperlyConfigured(
        "FOLIO_JOB_HEARTBEAT_SECONDS must be more than 0 and at most "
        f"FOLIO_JOB_WORKER_DEAD_AFTER ({JOB_WORKER_DEAD_AFTER})"
    )
JOB_RETENTION_DAYS = env_int("FOLIO_JOB_RETENTION_DAYS", 30)

# Publishing. Feeds without a destination of their own write under this folder; image URLs
# in feeds are built from FOLIO_PUBLIC_URL (or a destination's public_base_url).
PUBLICATIONS_DIR = Path(env("FOLIO_PUBLICATIONS_DIR", str(VAR_DIR / "publications"))).resolve()
PUBLICATIONS_KEEP = env_int("FOLIO_PUBLICATIONS_KEEP", 5)  # releases kept per feed for rollback
# S3 publication destinations use the same endpoint and credentials as S3 media.
S3_ENDPOINT_URL = env("FOLIO_S3_ENDPOINT_URL")
S3_REGION = env("FOLIO_S3_REGION")
S3_ACCESS_KEY = env("FOLIO_S3_ACCESS_KEY")
S3_SECRET_KEY = env("FOLIO_S3_SECRET_KEY")
# `folio backup`/`folio restore` on PostgreSQL run pg_dump/pg_restore from this folder (else
# the PATH, else /usr/bin); use the client tools of the server's major version.
PG_BIN_DIR = env("FOLIO_PG_BIN_DIR")
# Push connectors stay in dry run until their credentials are set.
SHOPIFY_STORE_URL = env("FOLIO_SHOPIFY_STORE_URL")  # https://example.myshopify.com
SHOPIFY_ACCESS_TOKEN = env("FOLIO_SHOPIFY_ACCESS_TOKEN")
SHOPIFY_API_VERSION = env("FOLIO_SHOPIFY_API_VERSION", "2025-10")
AMAZON_SP_ENDPOINT = env("FOLIO_AMAZON_SP_ENDPOINT", "https://sellingpartnerapi-na.amazon.com")
AMAZON_LWA_ENDPOINT = env("FOLIO_AMAZON_LWA_ENDPOINT", "https://api.amazon.com/auth/o2/token")
AMAZON_LWA_CLIENT_ID = env("FOLIO_AMAZON_LWA_CLIENT_ID")
AMAZON_LWA_CLIENT_SECRET = env("FOLIO_AMAZON_LWA_CLIENT_SECRET")
AMAZON_REFRESH_TOKEN = env("FOLIO_AMAZON_REFRESH_TOKEN")
AMAZON_SELLER_ID = env("FOLIO_AMAZON_SELLER_ID")
# The Listings Items API's usage plan (5 requests/s); the connector keeps under it itself.
AMAZON_REQUESTS_PER_SECOND = env_int("FOLIO_AMAZON_REQUESTS_PER_SECOND", 5)
# Outgoing webhooks: attempts before a delivery is marked failed (backoff doubles from 30 s).
WEBHOOK_MAX_ATTEMPTS = env_int("FOLIO_WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_TIMEOUT = env_int("FOLIO_WEBHOOK_TIMEOUT", 10)

# Security defaults. FOLIO_HTTPS=true turns on secure cookies and HSTS behind TLS.
HTTPS = env_bool("FOLIO_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31_536_000

API_RATE_LIMIT = env("FOLIO_API_RATE_LIMIT", "600/m")


def env_rate(name: str, default: str) -> tuple[int, int] | None:
    """ "10/15m" → (10, 900): at most 10 in 15 minutes; "off" → None (no limit)."""
    value = env(name, default)
    if value.lower() == "off":
        return None
    count, _, period = value.partition("/")
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number = period[:-1] or "1"
    if not (count.isdigit() and int(count) > 0 and number.isdigit() and period[-1:] in units):
        raise ImproperlyConfigured(
            f"{name} must look like 10/15m (at most 10 in 15 minutes; s, m, h or d) or off, "
            f"not {value!r}"
        )
    return int(count), int(number) * units[period[-1]]


# Guessing: failed sign-ins per username and per client address, and requests with a bad API
# token per client address. Counted in the "limits" cache, a database table that every web
# process and server shares (created by `folio migrate`).
LOGIN_RATE_LIMIT = env_rate("FOLIO_LOGIN_RATE_LIMIT", "10/15m")
BAD_TOKEN_RATE_LIMIT = env_rate("FOLIO_BAD_TOKEN_RATE_LIMIT", "30/15m")
# Addresses of reverse proxies in front of Folio: for requests from them, the client address
# is the last X-Forwarded-For entry that is not a proxy. Any other client could forge it.
TRUSTED_PROXIES = [p.strip() for p in (env("FOLIO_TRUSTED_PROXIES") or "").split(",") if p.strip()]
CACHES = {
    # The API rate limit counts here: per process when embedded, shared by the whole fleet on
    # Redis when it is configured (a counter round trip per request, cheap on Redis).
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    "limits": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "folio_limits_cache",
    },
}
NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_PER_PAGE_SIZE = 500

# `folio serve`: where to listen, how many web processes, and first-run credentials.
BIND = env("FOLIO_BIND", "127.0.0.1:8000")
WEB_WORKERS = env_int("FOLIO_WEB_WORKERS", 2)
ADMIN_PASSWORD = env("FOLIO_ADMIN_PASSWORD")
DEMO_PASSWORD = env("FOLIO_DEMO_PASSWORD")

LOG_LEVEL = env("FOLIO_LOG_LEVEL", "INFO")
# "plain" for people reading a terminal, "json" (one object per line) for log collectors.
LOG_FORMAT = env("FOLIO_LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"FOLIO_LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "folio.monitoring.middleware.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django_tasks_db": {"level": "WARNING"},
        # One line per request from folio.monitoring (gunicorn's access log is off under
        # `folio serve`); WARNING hides them without hiding anything else.
        "folio.request": {"level": env("FOLIO_REQUEST_LOG_LEVEL", "INFO")},
        # Django logs 4xx/5xx itself; ours already carries status and request id.
        "django.request": {"level": "ERROR"},
    },
}

# Metrics (Prometheus text at /metrics): scraped with FOLIO_METRICS_TOKEN as a bearer token,
# or by a signed-in administrator. `folio serve` shares FOLIO_METRICS_DIR between its web
# processes and worker; a worker on another machine serves its own on FOLIO_METRICS_PORT.
METRICS_TOKEN = env("FOLIO_METRICS_TOKEN")
METRICS_DIR = env("FOLIO_METRICS_DIR")
METRICS_PORT = env_int("FOLIO_METRICS_PORT", 0)
METRICS_ADDR = env("FOLIO_METRICS_ADDR", "127.0.0.1")
if METRICS_DIR:
    # prometheus_client reads this when it is first imported, which is after settings.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", METRICS_DIR)


# Testing aid, never for production: FOLIO_FAULT_POINTS="import.row_committed:3,…" makes the
# process kill itself (SIGKILL) the 3rd time it passes that point (folio/faults.py), so that
# tests can crash a real worker or server at an exact step rather than after a guessed delay.
def _fault_points(text: str | None) -> dict[str, int]:
    points = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, hit = part.strip().partition(":")
        try:
            points[name] = int(hit or "1")
        except ValueError:
            raise ImproperlyConfigured(
                f"FOLIO_FAULT_POINTS: {part.strip()!r} is not point:hit "
                "(e.g. import.row_committed:3)"
            ) from None
    return points


FAULT_POINTS = _fault_points(env("FOLIO_FAULT_POINTS"))
