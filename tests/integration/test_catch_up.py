"""Planning from Dagster's event log: what is missing or stale in each asset (catch_up.plan)."""

import dagster as dg
import pytest
from helpers.flatfiles import write_mirror
from helpers.resources import local_resources

from kapman_assets import catch_up, jobs, ohlcv, reference_data, retention
from kapman_resources.calendar import nyse_sessions

DAYS = nyse_sessions("2024-06-03", "2024-06-07")
KEYS = [str(d) for d in DAYS]
OHLCV, RETENTION = ohlcv.ohlcv.key, retention.retention_log.key
TICKERS, SPLITS = reference_data.tickers.key, reference_data.splits.key


@pytest.fixture
def location(db_url, tmp_path):
    root = tmp_path / "mirror"
    write_mirror(root, DAYS, ["AAPL", "MSFT"])
    return dg.Definitions(
        assets=dg.load_assets_from_modules([ohlcv, retention, reference_data]),
        jobs=jobs.JOBS,
        resources=local_resources(db_url, root),
    )


def _plan(instance, location):
    return catch_up.plan(instance, location, [jobs.daily_job, jobs.reference_job], KEYS)


def _run(instance, location, step):
    result = location.resolve_job_def(step.job).execute_in_process(
        instance=instance, tags=step.tags(), asset_selection=list(step.assets)
    )
    assert result.success


def test_a_fresh_instance_plans_every_asset_and_a_finished_one_nothing(location):
    instance = dg.DagsterInstance.ephemeral()
    steps = _plan(instance, location)
    assert [(s.job, set(s.assets), s.partitions) for s in steps] == [
        (jobs.daily_job.name, {OHLCV, RETENTION}, tuple(KEYS)),
        (jobs.reference_job.name, {TICKERS, SPLITS}, None),
    ]
    for step in steps:
        _run(instance, location, step)
    assert _plan(instance, location) == []


def test_what_a_killed_run_left_is_planned_and_nothing_else(location):
    instance = dg.DagsterInstance.ephemeral()
    _run(instance, location, catch_up.Step(jobs.daily_job.name, (OHLCV,), tuple(KEYS)))
    # killed before retention ran: only retention (then the reference data) remain
    steps = _plan(instance, location)
    assert [(s.assets, s.partitions) for s in steps][0] == ((RETENTION,), tuple(KEYS))
    for step in steps:
        _run(instance, location, step)
    # one session reloaded (a republished file): that session of retention is stale, and so is
    # the reference data built on the bars
    _run(instance, location, catch_up.Step(jobs.daily_job.name, (OHLCV,), (KEYS[2],)))
    steps = _plan(instance, location)
    assert [(s.assets, s.partitions) for s in steps] == [
        ((RETENTION,), (KEYS[2],)),
        ((SPLITS, TICKERS), None),
    ]
    assert steps[0].tags() == {"dagster/partition": KEYS[2]}


def test_a_range_step_is_one_single_run_backfill():
    step = catch_up.Step("daily_market_data", (OHLCV,), ("2024-06-03", "2024-06-05"))
    assert step.tags() == {"dagster/asset_partition_range_start": "2024-06-03",
                           "dagster/asset_partition_range_end": "2024-06-05"}  # fmt: skip
    assert catch_up.Step("reference_data", (TICKERS,), None).tags() == {}


def test_a_multi_asset_that_cannot_be_subset_is_planned_whole():
    """A newer options summary makes only ticker_metrics stale; the run must still select
    wyckoff_snapshots too (ticker_analysis computes both in one pass)."""
    from kapman_assets.definitions import defs

    instance = dg.DagsterInstance.ephemeral()
    summary, metrics, wyckoff = (dg.AssetKey(k) for k in
                                 ("options_daily_summary", "ticker_metrics", "wyckoff_snapshots"))  # fmt: skip

    def report(key, partitions):
        for pk in partitions:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=pk))

    for key in (OHLCV, SPLITS, summary, metrics, wyckoff):
        report(key, KEYS if key != SPLITS else [None])
    report(summary, KEYS[2:3])  # a republished chain summary for one session
    steps = catch_up.plan(instance, defs, [jobs.analytics_job], KEYS)
    assert [(set(s.assets), s.partitions) for s in steps] == [({metrics, wyckoff}, (KEYS[2],))]
