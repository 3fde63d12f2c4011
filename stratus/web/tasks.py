"""Browser app tasks: bulk edits and deletes over list rows, CSV exports of lists (take an id;
safe to run twice)."""

from __future__ import annotations

from stratus.celery import app
from stratus.web.lists import exports, services


@app.task(name="stratus.web.tasks.bulk_run")
def bulk_run(job_id: int) -> str:
    return services.bulk_run(job_id=job_id)


@app.task(name="stratus.web.tasks.bulk_sweep")
def bulk_sweep() -> list[int]:
    return services.bulk_jobs_sweep()


@app.task(name="stratus.web.tasks.export_run")
def export_run(job_id: int) -> str:
    return exports.export_run(job_id=job_id)


@app.task(name="stratus.web.tasks.export_sweep")
def export_sweep() -> dict[str, list[int]]:
    return exports.export_jobs_sweep()
