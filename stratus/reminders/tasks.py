"""Reminder and notification tasks: idempotent, the rows hold the truth."""

from __future__ import annotations

from stratus.celery import app
from stratus.reminders import services


@app.task(name="stratus.reminders.tasks.sweep")
def sweep() -> int:
    return services.reminders_fire_due()


@app.task(name="stratus.reminders.tasks.send_email")
def send_email(notification_id: int) -> str:
    return services.notification_send_email(notification_id=notification_id)


@app.task(name="stratus.reminders.tasks.email_sweep")
def email_sweep() -> int:
    return services.notifications_email_sweep()
