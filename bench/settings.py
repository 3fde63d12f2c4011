"""Stratus's settings plus one extra URL: the bare view that measures the framework ceiling."""

from stratus.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
