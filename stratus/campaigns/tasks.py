"""Campaign tasks: each takes an id, is idempotent, and leaves the real state to the rows."""

from __future__ import annotations

from stratus.campaigns import services
from stratus.celery import app


@app.task(name="stratus.campaigns.tasks.start")
def start(campaign_id: int) -> bool:
    return services.campaign_start(campaign_id=campaign_id)


@app.task(name="stratus.campaigns.tasks.send_batch")
def send_batch(campaign_id: int) -> dict[str, int | bool]:
    result = services.campaign_send_batch(campaign_id=campaign_id)
    if result.more:
        send_batch.apply_async(args=(campaign_id,))
    return {
        "sent": result.sent,
        "failed": result.failed,
        "deferred": result.deferred,
        "skipped": result.skipped,
        "more": result.more,
    }


@app.task(name="stratus.campaigns.tasks.sweep")
def sweep() -> dict[str, list[int]]:
    return services.campaigns_sweep()
