"""Stratus: an open-source CRM that scales out."""

# The release; kept equal to pyproject.toml's version (tests/test_metrics.py checks).
__version__ = "0.1.0"
