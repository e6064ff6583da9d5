"""ASGI entry point: HTTP through Django, websockets through Channels (session-authenticated,
same-origin only: the Origin must be Verity's own scheme, host and port, core.asgi_origin)."""

import logging
import os
import threading

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from django.core.asgi import get_asgi_application  # noqa: E402

from core.tracing import tracing_setup  # noqa: E402

# Before the application is built, as the Django instrumentation's documentation says (it adds
# its middleware to the settings); nothing happens unless tracing is turned on.
tracing_setup(role="web")

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from core.asgi_limits import BodySizeLimitMiddleware  # noqa: E402
from core.asgi_origin import ExactOriginValidator  # noqa: E402

# The upload limit plus room for the multipart envelope and form fields.
MAX_REQUEST_BYTES = settings.INGESTION_MAX_UPLOAD_BYTES + 1_048_576

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimitMiddleware(django_asgi_app, max_bytes=MAX_REQUEST_BYTES),
        "websocket": ExactOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


def _warm_up_embeddings() -> None:
    """The web process embeds questions too (cached answers are served from the chat socket and
    the API without a worker): load the model in the background, not on the first question."""
    try:
        from providers.registry import embedding_provider_default

        embedding_provider_default().embed_texts(["warm up"])
    except Exception:  # noqa: BLE001 - a failed warm-up only means the first question loads it
        logging.getLogger(__name__).warning("asgi.embedding_warmup_failed", exc_info=True)


if settings.EMBEDDING_WARMUP:
    threading.Thread(target=_warm_up_embeddings, name="embedding-warmup", daemon=True).start()
