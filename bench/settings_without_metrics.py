"""bench.settings without the request metrics: the baseline of bench/metrics_overhead.py."""

from bench.settings import *  # noqa: F403
from bench.settings import MIDDLEWARE

REQUEST_METRICS = "stratus.platform.request_metrics.RequestMetricsMiddleware"

if REQUEST_METRICS not in MIDDLEWARE:
    raise RuntimeError(f"{REQUEST_METRICS} is no longer in MIDDLEWARE: update bench/metrics_overhead.py")
MIDDLEWARE = [name for name in MIDDLEWARE if name != REQUEST_METRICS]
