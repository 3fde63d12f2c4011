"""ASGI entry point: HTTP (Django) and WebSocket (`/ws/`, Channels) in one application.

Production runs it as the `ws` process (`uvicorn stratus.asgi:application`); the
embedded default serves the whole site from it.
"""

import os
import warnings

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")
# Static files served by WhiteNoise in development are file iterators that Django reads in a
# worker thread under ASGI; correct, and not worth a warning per file.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

# Django is set up before the routes import models.
http_application = get_asgi_application()

from stratus.platform.client_address import ForwardedClientMiddleware  # noqa: E402
from stratus.realtime.routing import lifespan, websocket_application  # noqa: E402

# The client address and scheme behind trusted proxies (TRUSTED_PROXIES), as under gunicorn.
application = ForwardedClientMiddleware(
    ProtocolTypeRouter({"http": http_application, "websocket": websocket_application, "lifespan": lifespan})
)

# The ws process serves its Prometheus metrics on METRICS_PORT when set (stratus.platform.metrics).
from stratus.platform import metrics  # noqa: E402

metrics.serve("ws")
