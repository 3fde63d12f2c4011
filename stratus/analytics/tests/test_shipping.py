"""Changes reach the store: created, corrected and deleted rows; a slow transaction is waited
for, never skipped; the store then agrees with PostgreSQL (counts and sums per month)."""

from __future__ import annotations

import datetime
import decimal

import psycopg
import pytest
from django.db import connection

from stratus.analytics import client as analytics
from stratus.analytics import schema, shipper, verify
from stratus.analytics.backfill import drain
from stratus.analytics.models import OutboxEntry, Stream
from stratus.analytics.tests.conftest import final
from stratus.crm.models import Activity, Contact, Deal, DealStay, Stage
from stratus.crm.services import contact_delete, deal_update
from stratus.reports.tests.dataset import build_dataset
from testsupport.processes import live_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_dataset_is_shipped_and_agrees(store: analytics.Client) -> None:
    ds = build_dataset()
    assert OutboxEntry.objects.exists()
    before = Stream.objects.get(name="outbox").shipped_rows
    drain()
    shipped = Stream.objects.get(name="outbox").shipped_rows - before
    assert shipped > 0
    assert not OutboxEntry.objects.exists()  # pruned once shipped
    assert verify.differences() == []
    deals = final("deals", "id, value, currency", f"organization_id = {ds.org.pk}")
    assert [(pk, value, currency) for pk, value, currency in deals] == list(
        Deal.objects.filter(organization=ds.org).order_by("pk").values_list("pk", "value", "currency")
    )
    assert len(final("deal_stays")) == DealStay.objects.count()
    assert len(final("activities")) == Activity.objects.count()
    kinds = {kind for (kind,) in final("stages", "kind")}
    assert kinds == set(Stage.objects.values_list("kind", flat=True))
    stream = Stream.objects.get(name="outbox")
    assert stream.position_seq > 0


def test_a_corrected_value_and_a_deleted_contact_reach_the_store(store: analytics.Client) -> None:
    ds = build_dataset()
    drain()
    deal = ds.deals["D1"]
    contact = Contact.objects.filter(organization=ds.org).order_by("pk").first()
    assert contact is not None
    deal_update(org=ds.org, actor=ds.alice, deal=deal, value="1234.56")
    contact_delete(org=ds.org, actor=ds.alice, contact=contact)
    drain()
    assert final("deals", "value", f"id = {deal.pk}") == [(decimal.Decimal("1234.56"),)]
    assert final("contacts", "id", f"id = {contact.pk}") == []
    assert verify.differences() == []
    # The tombstone is there (the deletion is a row with _deleted = 1), hidden by FINAL.
    raw = store.query(
        f"SELECT _deleted FROM `{store.database}`.contacts WHERE id = {contact.pk} ORDER BY _version"
    )
    assert raw[-1] == (1,)


def test_a_slow_transaction_with_a_smaller_seq_is_not_skipped(store: analytics.Client) -> None:
    ds = build_dataset()
    drain()
    first, second = ds.deals["D1"], ds.deals["D2"]
    url = live_database_url()
    with psycopg.connect(url) as early, psycopg.connect(url) as slow:
        # ``early`` takes a transaction id first, ``slow`` a larger one; ``slow`` changes D1 (a
        # smaller seq), then ``early`` changes D2 (a larger seq) and commits first.
        found = early.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
        assert found is not None
        early_xid = found[0]
        slow.execute("UPDATE crm_deal SET value = 111 WHERE id = %s", [first.pk])
        early.execute("UPDATE crm_deal SET value = 222 WHERE id = %s", [second.pk])
        early.commit()
        shipper.wait_for_writers(early_xid)  # every transaction older than ``early`` has ended
        shipper.ship_pending()
        assert final("deals", "value", f"id = {second.pk}") == [(decimal.Decimal(222),)]
        assert final("deals", "value", f"id = {first.pk}") == [(decimal.Decimal("1000.00"),)]
        slow.commit()
    drain()
    assert final("deals", "value", f"id = {first.pk}") == [(decimal.Decimal(111),)]
    assert verify.differences() == []


def test_nothing_is_captured_while_capture_is_off(store: analytics.Client) -> None:
    shipper.set_capturing(False)
    build_dataset()
    assert not OutboxEntry.objects.exists()
    assert verify.differences() != []  # the store misses them: a backfill is needed


def test_the_lag_is_the_age_of_the_oldest_unshipped_change(store: analytics.Client) -> None:
    assert shipper.lag() == shipper.Lag(0, 0.0)
    build_dataset()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE analytics_outbox SET created_at = now() - interval '1 hour'")
    lag = shipper.lag()
    assert lag.pending > 0
    assert 3500 < lag.oldest_age_seconds < 4000
    drain()
    assert shipper.lag().pending == 0


def _expected(table: schema.Table, values: tuple[object, ...]) -> tuple[object, ...]:
    """A source row as the store reads it back: converted columns, times in UTC."""
    row = []
    for column, value in zip(table.columns, values, strict=True):
        if column.convert is not None:
            value = column.convert(value)
        if isinstance(value, datetime.datetime):
            value = value.astimezone(datetime.UTC)
        row.append(value)
    return tuple(row)


def test_every_column_of_every_table_is_the_source_value(store: analytics.Client) -> None:
    """PostgreSQL builds the rows the shipper sends (JSON, times in UTC to the microsecond,
    decimals as text); Python adds the e-mail hashes. Each store column equals its source."""
    ds = build_dataset()
    deal = ds.deals["D1"]
    # Text JSON must escape, a value with a fraction of a second, an odd time zone.
    pacific = datetime.timezone(datetime.timedelta(hours=-7))
    Deal.objects.filter(pk=deal.pk).update(
        lost_reason='quote " backslash \\ newline \n tab \t unicode é€ 😀',
        value=decimal.Decimal("123456789012.34"),
        created_at=datetime.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=pacific),
    )
    drain()
    for table in schema.TABLES:
        names = ", ".join(f"`{name}`" for name in table.names)
        shipped = final(table.name, names)
        source = [
            _expected(table, values)
            for values in table.model._default_manager.order_by("pk").values_list(*schema.fields(table))
        ]
        assert shipped == source, table.name
    assert any(final("campaign_recipients", "email_hash"))  # the hashes are there, not zeros
