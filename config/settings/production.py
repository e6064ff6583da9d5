"""Production: DEBUG off, every secret and server from the environment, hardened cookies.

A missing setting stops the process with one line naming it (core.errors.StartupError)."""

import os

from config.env import env_bool, env_int, env_list, env_required

# Production never starts embedded servers: it must be told where they are.
os.environ["VERITY_EMBEDDED_SERVERS"] = "false"
os.environ["VERITY_DEBUG"] = "false"
env_required("DATABASE_URL", "set it to postgresql://USER:PASSWORD@HOST:5432/verity")
env_required("REDIS_URL", "set it to redis://HOST:6379")
env_required(
    "SECRET_KEY", "set it to a long random string (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
)
env_required("ALLOWED_HOSTS", "set it to the comma-separated host names Verity is served under")

from config.settings.base import *  # noqa: E402, F403

DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# Load balancers and the compose health checks probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
WHITENOISE_USE_FINDERS = False
WHITENOISE_AUTOREFRESH = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
