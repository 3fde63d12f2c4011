"""Browser app tasks: bulk edits and deletes over list rows (take an id, resume where stopped)."""

from __future__ import annotations

from stratus.celery import app
from stratus.web.lists import services


@app.task(name="stratus.web.tasks.bulk_run")
def bulk_run(job_id: int) -> str:
    return services.bulk_run(job_id=job_id)


@app.task(name="stratus.web.tasks.bulk_sweep")
def bulk_sweep() -> list[int]:
    return services.bulk_jobs_sweep()
