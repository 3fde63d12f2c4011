"""The campaigns' counters (summaries of ``Recipient`` kept by triggers; see ``crm.counters``)."""

from __future__ import annotations

from stratus.crm.counters import Count, Counter

# The dated events of a recipient and the column that dates each.
EVENTS = {
    "delivered": "sent_at",
    "opened": "opened_at",
    "clicked": "clicked_at",
    "unsubscribed": "unsubscribed_at",
}

CAMPAIGN_DAYS = Counter(
    name="campaigns_recipient_day_count",
    table="campaigns_campaignday",
    source="campaigns_recipient",
    columns=("organization_id", "campaign_id", "day", "metric"),
    watched=("organization_id", "campaign_id", *EVENTS.values()),
    counts=tuple(
        Count(
            ("{r}.organization_id", "{r}.campaign_id", f"DAY({{r}}.{column})", f"'{metric}'"),
            f"{{r}}.{column} IS NOT NULL",
        )
        for metric, column in EVENTS.items()
    ),
)

CAMPAIGN_STATES = Counter(
    name="campaigns_recipient_state_count",
    table="campaigns_campaignstatecount",
    source="campaigns_recipient",
    columns=("organization_id", "campaign_id", "state"),
    watched=("organization_id", "campaign_id", "state"),
    counts=(Count(("{r}.organization_id", "{r}.campaign_id", "{r}.state")),),
)

COUNTERS = (CAMPAIGN_DAYS, CAMPAIGN_STATES)
