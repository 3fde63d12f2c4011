#!/bin/sh
# Stratus process entrypoint: one image, one command per process type.
#
#   web      gunicorn (WSGI) with deploy/gunicorn.conf.py, on $PORT (default 8000)
#   ws       uvicorn (ASGI: WebSocket and HTTP), on $PORT (default 8000)
#   worker   celery worker
#   beat     celery beat; the app's RedBeat scheduler holds a lock in Redis (any number may run)
#   migrate  wait for the services, apply migrations (under a lock), run the deployment checks
#   manage   any manage.py command, e.g. `manage createsuperuser`
#
# Anything else is executed as given (e.g. `sh`). Each long-running process first waits for
# PostgreSQL, Redis and its own migrations (STARTUP_WAIT=false skips it; STARTUP_WAIT_TIMEOUT
# bounds it), then replaces this shell so it receives signals directly.
set -eu

# The application folder; the process keeps the working directory it was started in (the
# one-machine cluster gives each replica a private one) and imports Stratus from APP_DIR.
APP_DIR="$(cd "$(dirname "$0")/.." && pwd)"
export PYTHONPATH="$APP_DIR${PYTHONPATH:+:$PYTHONPATH}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-stratus.settings}"

PYTHON="${PYTHON:-python}"
PORT="${PORT:-8000}"
STARTUP_WAIT_TIMEOUT="${STARTUP_WAIT_TIMEOUT:-120}"

wait_for_services() {
  case "${STARTUP_WAIT:-true}" in
    false | 0 | no) return 0 ;;
  esac
  "$PYTHON" "$APP_DIR/manage.py" wait_for_services --timeout "$STARTUP_WAIT_TIMEOUT" "$@"
}

command="${1:-web}"
[ "$#" -gt 0 ] && shift

# Processes that fork workers (web, worker) keep their Prometheus samples in files, one folder
# per process, emptied at start; the parent serves the sum on METRICS_PORT (see docs/operations).
metrics_folder() {
  [ -n "${METRICS_PORT:-}" ] || return 0
  [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ] || return 0
  PROMETHEUS_MULTIPROC_DIR="${METRICS_DIR:-${TMPDIR:-/tmp}/stratus-metrics}/$1-$$"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  export PROMETHEUS_MULTIPROC_DIR
}

case "$command" in
  web)
    # Empty means automatic (deploy/gunicorn.conf.py); gunicorn itself cannot parse an empty value.
    [ -n "${WEB_CONCURRENCY:-}" ] || unset WEB_CONCURRENCY
    wait_for_services --migrations
    metrics_folder web
    exec "$PYTHON" -m gunicorn --config "$APP_DIR/deploy/gunicorn.conf.py" "$@" stratus.wsgi:application
    ;;
  ws)
    wait_for_services --migrations
    # Uvicorn's own proxy-header handling is off: stratus.asgi applies TRUSTED_PROXIES with the
    # same function as the web process (client address and scheme), for HTTP and WebSocket.
    # Nginx in front times out slow headers and bodies; the limits here bound a replica on its
    # own: idle keep-alive, and connections plus tasks (open WebSockets count) before 503.
    exec "$PYTHON" -m uvicorn stratus.asgi:application \
      --host "${UVICORN_HOST:-0.0.0.0}" --port "$PORT" \
      --no-proxy-headers \
      --timeout-keep-alive "${UVICORN_TIMEOUT_KEEP_ALIVE:-5}" \
      --limit-concurrency "${UVICORN_LIMIT_CONCURRENCY:-2000}" \
      --ws-ping-interval "${WS_PING_INTERVAL:-20}" --ws-ping-timeout "${WS_PING_TIMEOUT:-20}" \
      --timeout-graceful-shutdown "${GUNICORN_GRACEFUL_TIMEOUT:-30}" \
      --no-access-log --no-server-header "$@"
    ;;
  worker)
    wait_for_services --migrations
    metrics_folder worker
    exec "$PYTHON" -m celery -A stratus worker --loglevel "${LOG_LEVEL:-info}" "$@"
    ;;
  beat)
    wait_for_services --migrations
    # The scheduler class comes from the Celery app (stratus.scheduler, a locked RedBeat
    # scheduler with a Redis broker), so no -S here.
    exec "$PYTHON" -m celery -A stratus beat --loglevel "${LOG_LEVEL:-info}" "$@"
    ;;
  migrate)
    wait_for_services
    "$PYTHON" "$APP_DIR/manage.py" migrate --noinput
    exec "$PYTHON" "$APP_DIR/manage.py" check --deploy --fail-level "${DEPLOY_CHECK_FAIL_LEVEL:-ERROR}"
    ;;
  manage)
    exec "$PYTHON" "$APP_DIR/manage.py" "$@"
    ;;
  *)
    exec "$command" "$@"
    ;;
esac
