"""Jobs (each selects a layer's asset group), the evening schedule and the follow-up sensor."""

import dagster as dg

from kapman_assets import ohlcv, reference_data
from kapman_assets.partitions import TRADING_DAYS

daily_job = dg.define_asset_job(
    "daily_market_data",
    selection=dg.AssetSelection.groups(ohlcv.GROUP),
    partitions_def=TRADING_DAYS,
    description="Load the session's flat file, enforce retention, run the checks.",
)

checks_job = dg.define_asset_job(
    "ohlcv_checks",
    selection=dg.AssetSelection.checks_for_assets(ohlcv.ohlcv),
    partitions_def=TRADING_DAYS,
    description="Re-run the ohlcv asset checks for a session without reloading it.",
)

verify_job = dg.define_asset_job(
    "ohlcv_verify",
    selection=dg.AssetSelection.checks(*ohlcv.OHLCV_BLOCKING_CHECKS),
    partitions_def=TRADING_DAYS,
    description="Re-run the blocking ohlcv checks over stored sessions before building on them.",
)

reference_job = dg.define_asset_job(
    "reference_data",
    selection=dg.AssetSelection.groups(reference_data.GROUP),
    description="Refresh the ticker dimension's attributes and the splits table.",
)

daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_job, hour_of_day=18, minute_of_hour=30,
    description="Each evening at 18:30 New York, the session of the day before (its flat file is"
    " published the morning after); Friday's session loads on Saturday evening.",
)  # fmt: skip


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[daily_job], request_job=reference_job
)
def refresh_reference_after_load(context: dg.RunStatusSensorContext):
    """After a daily load succeeds, refresh the ticker dimension and the splits."""
    return dg.RunRequest(run_key=context.dagster_run.run_id)


LAYER_JOBS = [daily_job, reference_job]  # one per layer group, in dependency order
JOBS = [*LAYER_JOBS, checks_job, verify_job]
SCHEDULES = [daily_schedule]
SENSORS = [refresh_reference_after_load]
