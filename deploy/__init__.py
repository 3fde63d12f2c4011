"""Deployment tooling: process entrypoint, Nginx configuration, backups and the one-machine cluster."""
