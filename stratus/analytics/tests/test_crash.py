"""A shipper killed after its insert into ClickHouse, before it saved its position, sends the
batch again when it restarts: nothing is lost and nothing counts twice.

The shippers are real processes (``manage``-like children on the test database and the same
chDB folder); the first one dies with ``os._exit`` right after the insert. A chDB folder is
open in one process at a time: this process closes its connections while the children run.
"""

from __future__ import annotations

import decimal

import pytest
from django.db import connection
from django.db.models import Sum

from stratus.analytics import client as analytics
from stratus.analytics import shipper, verify
from stratus.analytics.capture import XID
from stratus.analytics.models import OutboxEntry, Stream
from stratus.crm.models import Deal
from stratus.reports.tests.dataset import build_dataset
from testsupport.processes import live_database_url, run_python

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.subprocess]

SHIP = """
import os, django
django.setup()
from stratus.analytics import shipper
die = os.environ["SHIP_AND_DIE"] == "1"
shipped = shipper.ship_pending(wait=True, after_insert=(lambda: os._exit(9)) if die else None)
print("shipped", shipped)
"""


def _ship(url: str, *, die: bool) -> int:
    result = run_python(
        SHIP,
        env={
            "DATABASE_URL": live_database_url(),
            "ANALYTICS_URL": url,
            "ANALYTICS_WRITER_URL": url,
            "SHIP_AND_DIE": "1" if die else "0",
        },
    )
    assert result.returncode in (0, 9), result.stderr[-2000:]
    return result.returncode


def _count(table: str, *, final: bool) -> int:
    store = analytics.writer()
    suffix = " FINAL" if final else ""
    return store.query(f"SELECT count() FROM `{store.database}`.`{table}`{suffix}")[0][0]


def test_a_batch_sent_twice_counts_once(store: analytics.Client, settings: object) -> None:
    build_dataset()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {XID}")
        shipper.wait_for_writers(int(cursor.fetchone()[0]))  # every entry is shippable
    entries = OutboxEntry.objects.count()
    position = Stream.objects.values_list("position_xid", "position_seq").get(name="outbox")
    url = settings.ANALYTICS_WRITER_URL  # type: ignore[attr-defined]
    analytics.close_all()

    assert _ship(url, die=True) == 9  # killed between the insert and the saved position
    assert OutboxEntry.objects.count() == entries
    assert Stream.objects.values_list("position_xid", "position_seq").get(name="outbox") == position
    deals = Deal.objects.count()
    assert _count("deals", final=False) == deals  # the batch did reach ClickHouse
    analytics.close_all()

    assert _ship(url, die=False) == 0  # the restarted shipper sends the same batch again
    assert not OutboxEntry.objects.exists()
    assert _count("deals", final=False) == 2 * deals  # twice on disk...
    assert _count("deals", final=True) == deals  # ...once for every reader
    store_sum = analytics.writer().query(f"SELECT sum(value) FROM `{store.database}`.deals FINAL")[0][0]
    assert store_sum == Deal.objects.aggregate(total=Sum("value"))["total"] != decimal.Decimal(0)
    assert verify.differences() == []
