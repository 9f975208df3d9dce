"""The Kapman code location: assets, checks, jobs, schedules and resources."""

import dagster as dg
from dagster_aws.s3 import S3Resource

from kapman_assets import ohlcv, retention, splits, tickers
from kapman_assets.partitions import TRADING_DAYS
from kapman_resources.io_manager import KapmanIOManager
from kapman_resources.resources import FlatFilesResource, PostgresResource
from kapman_resources.settings import load_settings

daily_job = dg.define_asset_job(
    "daily_market_data",
    selection=dg.AssetSelection.assets(ohlcv.ohlcv, retention.retention_log),
    partitions_def=TRADING_DAYS,
    description="Load the session's flat file, enforce retention, run the checks.",
)

checks_job = dg.define_asset_job(
    "ohlcv_checks",
    selection=dg.AssetSelection.checks_for_assets(ohlcv.ohlcv),
    partitions_def=TRADING_DAYS,
    description="Re-run the ohlcv asset checks for a session without reloading it.",
)

reference_job = dg.define_asset_job(
    "reference_data",
    selection=dg.AssetSelection.assets(tickers.tickers, splits.splits),
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
def refresh_tickers_after_load(context: dg.RunStatusSensorContext):
    """After a daily load succeeds, refresh the ticker dimension's reference attributes."""
    return dg.RunRequest(run_key=context.dagster_run.run_id)


def _optional_env(name: str, present: bool) -> dg.EnvVar | None:
    return dg.EnvVar(name) if present else None


def build_resources() -> dict:
    """Resources configured from the environment (see .env.example)."""
    s = load_settings()
    has_keys = bool(s.s3_access_key_id)
    return {
        "warehouse": PostgresResource(database_url=dg.EnvVar("KAPMAN_DATABASE_URL")),
        "warehouse_io_manager": KapmanIOManager(database_url=dg.EnvVar("KAPMAN_DATABASE_URL")),
        "flat_files": FlatFilesResource(
            source=s.flatfiles_source,
            directory=str(s.flatfiles_dir),
            bucket=s.s3_bucket,
            s3=S3Resource(
                endpoint_url=s.s3_endpoint,
                aws_access_key_id=_optional_env("MASSIVE_S3_ACCESS_KEY_ID", has_keys),
                aws_secret_access_key=_optional_env("MASSIVE_S3_SECRET_ACCESS_KEY", has_keys),
                region_name="us-east-1",
                max_attempts=3,
            ),
            demo_tickers=s.demo_tickers,
            demo_seed=s.demo_seed,
            demo_start=s.history_start.isoformat(),
        ),
    }


defs = dg.Definitions(
    assets=[ohlcv.ohlcv, retention.retention_log, tickers.tickers, splits.splits],
    asset_checks=ohlcv.OHLCV_CHECKS,
    jobs=[daily_job, checks_job, reference_job],
    schedules=[daily_schedule],
    sensors=[refresh_tickers_after_load],
    resources=build_resources(),
)
