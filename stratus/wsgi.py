import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")

application = get_wsgi_application()

# Each worker imports this module after the fork (preload_app is off), so the connections
# the warm-up opens belong to the worker.
from stratus.platform.warmup import warm_up  # noqa: E402

warm_up()
