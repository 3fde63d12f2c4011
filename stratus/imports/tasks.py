"""Import tasks: take an id, resume from the last committed chunk."""

from __future__ import annotations

from stratus.celery import app
from stratus.imports import services


@app.task(name="stratus.imports.tasks.run")
def run(job_id: int) -> str:
    return services.import_run(job_id=job_id)


@app.task(name="stratus.imports.tasks.sweep")
def sweep() -> list[int]:
    return services.imports_sweep()
