"""What the test suites share, outside the shipped code paths (not in the Docker image).

- ``factories``: users, organizations, members, API tokens and clients (one ``make_member``).
- ``processes``: starting Stratus in other processes (``manage``, ``run_python``, ``child_env``),
  free ports, scratch databases.
- ``servers``: servers a test starts: gunicorn serving Stratus, moto's S3, the SMTP sink, a
  private redis-server.
- ``fixtures``: the pytest fixtures every suite can use (registered by the root conftest).
- ``workers``: per-xdist-worker isolation (Redis key prefixes) and the fast password hasher.
"""
