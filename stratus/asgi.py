"""ASGI entry point (the `ws` process). WebSocket routing is added by stratus.realtime."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")

application = get_asgi_application()
