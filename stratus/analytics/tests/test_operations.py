"""The operator's side: migrate, backfill (resumable, while capture runs), verify, readiness
and the lag metric."""

from __future__ import annotations

import dataclasses
import importlib
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from prometheus_client import CollectorRegistry

from stratus.analytics import backfill as backfills
from stratus.analytics import client as analytics
from stratus.analytics import schema, shipper, verify
from stratus.analytics.models import BackfillProgress, OutboxEntry
from stratus.analytics.tests.conftest import final
from stratus.crm.models import Deal, DealStay
from stratus.monitoring.collector import WorkCollector
from stratus.platform.health import readiness
from stratus.reports.tests.dataset import build_dataset

pytestmark = pytest.mark.django_db(transaction=True)


class Interrupted(Exception):
    pass


def test_migrate_is_idempotent(store: analytics.Client) -> None:
    out = io.StringIO()
    call_command("analytics_migrate", stdout=out)
    call_command("analytics_migrate", stdout=out)
    tables = {row[0] for row in store.query(f"SHOW TABLES FROM `{store.database}`")}
    assert tables == set(schema.BY_NAME)
    columns = store.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'deals' ORDER BY position",
        {"db": store.database},
    )
    assert tuple(name for (name,) in columns) == (*schema.DEALS.names, "_version", "_deleted")
    assert shipper.capturing()


def test_migrate_adds_the_range_indexes_to_a_table_made_without_them(store: analytics.Client) -> None:
    db = store.database

    def indexes() -> set[tuple[str, str]]:
        found = store.query(
            "SELECT table, name FROM system.data_skipping_indices WHERE database = {db:String}", {"db": db}
        )
        return {(table, name) for table, name in found}

    declared = {(t.name, schema.index_name(c)) for t in schema.TABLES for c in t.ranges}
    assert ("deals", "range_created_at") in declared
    assert indexes() == declared  # a new store: made with them
    # The deals table as a release before the indexes made it, with a row in it.
    store.command(f"DROP TABLE `{db}`.`deals`")
    store.command(schema.create_sql(dataclasses.replace(schema.DEALS, ranges=()), db))
    assert not {name for table, name in indexes() if table == "deals"}
    store.command(
        f"INSERT INTO `{db}`.`deals` (organization_id, id, pipeline_id, stage_id, value, currency,"
        " lost_reason, created_at, stage_changed_at, _version, _deleted)"
        " VALUES (1, 7, 1, 1, 5, 'EUR', '', '2026-01-02 03:04:05', '2026-01-02 03:04:05', 1, 0)"
    )
    statements = schema.migrate(store)
    assert indexes() == declared
    assert f"ALTER TABLE `{db}`.`deals` MATERIALIZE INDEX `range_closed_at`" in statements
    assert not any(" INDEX " in s and s.startswith("ALTER") for s in schema.migrate(store))  # only once
    assert final("deals", "id") == [(7,)]


def test_the_backfill_copies_rows_written_without_capture_and_resumes(store: analytics.Client) -> None:
    shipper.set_capturing(False)
    ds = build_dataset()
    assert verify.differences() != []
    calls = 0

    def stop_after_the_first_chunk(step: backfills.Step) -> None:
        nonlocal calls
        calls += 1
        if step.table is schema.DEALS and step.done > 0:
            raise Interrupted

    with pytest.raises(Interrupted):
        backfills.backfill(chunk=3, progress=stop_after_the_first_chunk)
    progress = BackfillProgress.objects.get(source="crm_deal", organization_id=0)
    assert progress.queued == 3
    assert progress.finished_at is None
    # The app keeps writing while the backfill runs: captured changes and backfilled rows meet.
    Deal.objects.filter(pk=ds.deals["D2"].pk).update(value=4242)
    backfills.backfill(chunk=3)
    progress.refresh_from_db()
    assert progress.finished_at is not None
    assert progress.queued == Deal.objects.count()  # resumed: no row queued twice
    assert not OutboxEntry.objects.exists()
    assert verify.differences() == []
    assert final("deals", "value", f"id = {ds.deals['D2'].pk}")[0][0] == 4242


def test_the_backfill_command_shows_progress_for_one_organization(store: analytics.Client) -> None:
    shipper.set_capturing(False)
    ds = build_dataset()
    out = io.StringIO()
    call_command("analytics_backfill", organization=ds.org.pk, stdout=out)
    assert "deals" in out.getvalue()
    assert f"[{'#' * 30}]" in out.getvalue()
    assert verify.differences(organization_id=ds.org.pk) == []
    assert verify.differences(organization_id=ds.other.pk) != []  # not backfilled
    with pytest.raises(Exception, match="no organization has id"):
        call_command("analytics_backfill", organization=ds.org.pk + 1000, stdout=out)


def test_verify_prints_each_difference_and_exits_non_zero(store: analytics.Client) -> None:
    ds = build_dataset()
    backfills.drain()
    out = io.StringIO()
    call_command("analytics_verify", stdout=out)
    assert "agree" in out.getvalue()
    deal = Deal.objects.filter(organization=ds.org).order_by("pk").first()
    assert deal is not None
    with connection.cursor() as cursor:  # behind the triggers' back: the store does not hear of it
        cursor.execute("ALTER TABLE crm_deal DISABLE TRIGGER analytics_capture_crm_deal")
        cursor.execute("UPDATE crm_deal SET value = value + 1 WHERE id = %s", [deal.pk])
        cursor.execute("ALTER TABLE crm_deal ENABLE TRIGGER analytics_capture_crm_deal")
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("analytics_verify", stdout=out, stderr=io.StringIO())
    assert exit_.value.code == 1
    month = deal.created_at.strftime("%Y-%m")
    assert f"deals: organization {ds.org.pk}, {month}, value:" in out.getvalue()


def test_readiness_is_degraded_never_failing_when_the_lag_is_over_the_threshold(
    store: analytics.Client, settings: Any
) -> None:
    settings.ANALYTICS_LAG_DEGRADED_SECONDS = 60
    build_dataset()
    ready, body = readiness()
    assert body["checks"]["analytics"]["status"] == "ok"
    with connection.cursor() as cursor:
        cursor.execute("UPDATE analytics_outbox SET created_at = now() - interval '10 minutes'")
    ready, body = readiness()
    assert ready
    assert body["checks"]["analytics"]["status"] == "degraded"
    assert "analytics lag" in body["checks"]["analytics"]["detail"]
    backfills.drain()
    assert readiness()[1]["checks"]["analytics"]["status"] == "ok"


def test_the_lag_is_a_metric(store: analytics.Client) -> None:
    build_dataset()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE analytics_outbox SET created_at = now() - interval '10 minutes'")
    registry = CollectorRegistry()
    registry.register(WorkCollector())
    assert (registry.get_sample_value("stratus_analytics_outbox_pending") or 0) > 0
    assert 600 <= (registry.get_sample_value("stratus_analytics_lag_seconds") or 0) < 700


def test_the_stays_shipped_before_they_carried_the_deal_filters_are_shipped_again(
    store: analytics.Client,
) -> None:
    """Migration analytics 0002: the capture watches a stay's pipeline, owner and currency, and
    a store that was capturing gets every stay again."""
    from django.apps import apps

    upgrade = importlib.import_module("stratus.analytics.migrations.0002_stays_carry_deal_filters")
    build_dataset()
    backfills.drain()
    db = store.database
    store.command(
        f"ALTER TABLE `{db}`.`deal_stays` UPDATE owner_id = NULL, currency = '' WHERE 1"
        " SETTINGS mutations_sync = 1"
    )
    with connection.schema_editor() as editor:
        upgrade.watch_the_new_columns(apps, editor)
    assert OutboxEntry.objects.filter(source="crm_dealstay").count() == DealStay.objects.count() > 0
    backfills.drain()
    expected = sorted(DealStay.objects.values_list("id", "pipeline_id", "owner_id", "currency"))
    assert final("deal_stays", "id, pipeline_id, owner_id, currency", "_deleted = 0") == expected
    # A change of a deal's owner reaches its stays' mirror (the trigger watches the column).
    stay = DealStay.objects.filter(owner_id__isnull=False).first()
    assert stay is not None
    Deal.objects.filter(pk=stay.deal_id).update(owner=None)
    backfills.drain()
    assert final("deal_stays", "owner_id", f"deal_id = {stay.deal_id}") == [
        (None,) for _ in DealStay.objects.filter(deal_id=stay.deal_id)
    ]
