"""Writes for campaigns, one module per concern; import this package and call ``services.x``.

- ``segments``: saved contact filters (create, update, delete);
- ``composing``: a draft and its audience saved in one step (the browser's form), a test send;
- ``lifecycle``: a campaign's content and states (draft, scheduled, sending, paused, cancelled);
- ``starting``: a due campaign's recipients materialised, once;
- ``messages``: the MIME message of one recipient (merge fields, tracking, unsubscribe);
- ``pacing``: the cluster-wide sending rate; ``progress``: live ``campaign.progress`` events;
- ``sending``: batches that claim and send recipients under a lease (``leases``);
- ``sweeps``: periodic recovery (due campaigns, stuck rows, idle campaigns);
- ``tracking``: unsubscribes, opens, clicks and the suppression list.

Sending works on the rows, not on queue messages: a campaign's recipients are materialised
once (unique per campaign and contact), and batch tasks claim one queued row at a time with
a conditional update. See ``transport`` for why a message is committed to the database
between its content and its final ``.``.
"""

from __future__ import annotations

from stratus.campaigns.services.composing import SEGMENT_NAME, campaign_compose, campaign_test_send
from stratus.campaigns.services.leases import finish_if_done, take_lease
from stratus.campaigns.services.lifecycle import (
    EDITABLE_FIELDS,
    campaign_cancel,
    campaign_create,
    campaign_delete,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
    campaign_update,
)
from stratus.campaigns.services.messages import OPEN_PIXEL, RenderedPreview, build_message, campaign_preview
from stratus.campaigns.services.pacing import Pacer
from stratus.campaigns.services.progress import ProgressThrottle, announce_progress
from stratus.campaigns.services.segments import UNFINISHED, segment_create, segment_delete, segment_update
from stratus.campaigns.services.sending import FETCH, BatchResult, campaign_send_batch
from stratus.campaigns.services.starting import campaign_start
from stratus.campaigns.services.sweeps import campaigns_sweep, recipients_resolve_stuck
from stratus.campaigns.services.tracking import (
    SUPPRESSION_REMOVED,
    Unsubscribed,
    recipient_record_click,
    recipient_record_open,
    recipient_unsubscribe,
    suppression_add,
    suppression_remove,
)

__all__ = [
    "EDITABLE_FIELDS",
    "FETCH",
    "OPEN_PIXEL",
    "SEGMENT_NAME",
    "SUPPRESSION_REMOVED",
    "UNFINISHED",
    "BatchResult",
    "Pacer",
    "ProgressThrottle",
    "RenderedPreview",
    "Unsubscribed",
    "announce_progress",
    "build_message",
    "campaign_cancel",
    "campaign_compose",
    "campaign_create",
    "campaign_delete",
    "campaign_pause",
    "campaign_preview",
    "campaign_resume",
    "campaign_schedule",
    "campaign_send_batch",
    "campaign_start",
    "campaign_test_send",
    "campaign_update",
    "campaigns_sweep",
    "finish_if_done",
    "recipient_record_click",
    "recipient_record_open",
    "recipient_unsubscribe",
    "recipients_resolve_stuck",
    "segment_create",
    "segment_delete",
    "segment_update",
    "suppression_add",
    "suppression_remove",
    "take_lease",
]
