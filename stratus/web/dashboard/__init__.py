"""The dashboard: the app's home, charts of the reports module."""
