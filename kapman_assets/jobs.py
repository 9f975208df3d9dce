"""Jobs (each selects a layer's asset group), the evening schedule and the follow-up sensor."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from kapman_assets import (
    forecasts,
    ohlcv,
    options,
    outcomes,
    reference_data,
    ticker_analysis,
    universe,
)
from kapman_assets.partitions import TRADING_DAYS
from kapman_resources.calendar import (
    NEW_YORK,
    last_completed_session,
    nyse_sessions,
    session_closed,
)
from kapman_resources.providers import FlatFilesProvider
from kapman_resources.warehouse import PostgresResource

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

all_checks_job = dg.define_asset_job(
    "checks",
    selection=dg.AssetSelection.all_asset_checks()
    - dg.AssetSelection.checks_for_assets(universe.universe_analysis),
    partitions_def=TRADING_DAYS,
    description="Re-run every layer's asset checks for a session without recomputing anything.",
)

verify_job = dg.define_asset_job(
    "ohlcv_verify",
    selection=dg.AssetSelection.checks(*ohlcv.OHLCV_BLOCKING_CHECKS),
    partitions_def=TRADING_DAYS,
    description="Re-run the blocking ohlcv checks over stored sessions before building on them.",
)

options_job = dg.define_asset_job(
    "options",
    selection=dg.AssetSelection.groups(options.GROUP),
    partitions_def=TRADING_DAYS,
    description="Snapshot the scope's option chains and summarize them (dealer and IV metrics).",
)

analytics_job = dg.define_asset_job(
    "analytics",
    selection=dg.AssetSelection.groups(ticker_analysis.GROUP),
    partitions_def=TRADING_DAYS,
    description="Ticker metrics and Wyckoff snapshots of the scope (one pass per ticker).",
)

universe_job = dg.define_asset_job(
    "universe",
    selection=dg.AssetSelection.groups(universe.GROUP),
    description="The liquid universe's analytics (the forecast's training rows) and the signal"
    " edge measured on them.",
)

ideas_job = dg.define_asset_job(
    "ideas",
    selection=dg.AssetSelection.groups(forecasts.GROUP),
    partitions_def=TRADING_DAYS,
    description="Directional forecasts (p_up) and option trade ideas on listed contracts.",
)

scoring_job = dg.define_asset_job(
    "scoring",
    selection=dg.AssetSelection.groups(outcomes.GROUP),
    partitions_def=TRADING_DAYS,
    description="Score forecasts and ideas whose horizon ended: outcomes, P&L, calibration.",
)

evening_job = dg.define_asset_job(
    "evening",
    selection=dg.AssetSelection.groups(
        ohlcv.GROUP, options.GROUP, ticker_analysis.GROUP, forecasts.GROUP
    ),  # fmt: skip
    partitions_def=TRADING_DAYS,
    description="The session's bars, option chains and every analysis of them, in one run.",
)

reference_job = dg.define_asset_job(
    "reference_data",
    selection=dg.AssetSelection.groups(reference_data.GROUP),
    description="Refresh the ticker dimension's attributes and the splits table.",
)

EVENING_CRON = "30 16 * * 1-5"  # 16:30 New York, half an hour after the close
UNIVERSE_CRON = "0 20 * * 5"  # Friday 20:00 New York, after the week's last evening run


@dg.schedule(
    cron_schedule=EVENING_CRON, job=evening_job, execution_timezone=NEW_YORK,
    description="At 16:30 New York on each session day, the whole graph for that session"
    " (skips NYSE holidays).",
)  # fmt: skip
def evening_schedule(context: dg.ScheduleEvaluationContext):
    """The session that closed this afternoon; nothing on a weekday the exchange was shut."""
    now = context.scheduled_execution_time
    day = now.astimezone(ZoneInfo(NEW_YORK)).date()
    if not session_closed(day, now):
        return dg.SkipReason(f"{day} is not an NYSE session (or has not closed yet)")
    return dg.RunRequest(run_key=str(day), partition_key=str(day))


universe_schedule = dg.ScheduleDefinition(
    name="universe_weekly", cron_schedule=UNIVERSE_CRON, job=universe_job,
    execution_timezone=NEW_YORK,
    description="Friday at 20:00 New York: the liquid universe's analytics and the signal edge"
    " as of the week's last session (the month's forecast model trains on them).",
)  # fmt: skip


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_job, evening_job],
    request_job=reference_job,
)
def refresh_reference_after_load(context: dg.RunStatusSensorContext):
    """After a daily load succeeds, refresh the ticker dimension and the splits."""
    return dg.RunRequest(run_key=context.dagster_run.run_id)


LAYER_JOBS = [
    daily_job,
    reference_job,
    options_job,
    analytics_job,
    universe_job,
    ideas_job,
    scoring_job,
]  # in dependency order
JOBS = [*LAYER_JOBS, evening_job, checks_job, all_checks_job, verify_job]
FINAL_FILES_POLL_SECONDS = 15 * 60
FINAL_FILES_LOOKBACK_SESSIONS = 5  # sessions back the sensor looks for new or republished files


@dg.sensor(
    job=daily_job, minimum_interval_seconds=FINAL_FILES_POLL_SECONDS,
    description="Loads a session's day-aggregate flat file when it appears (replacing the"
    " provisional grouped-daily bars) or is republished with a new ETag.",
)  # fmt: skip
def ohlcv_final_files(
    context: dg.SensorEvaluationContext, flat_files: FlatFilesProvider, warehouse: PostgresResource
):
    """A run per session of the last few whose flat file is not what `ohlcv` holds."""
    last = last_completed_session()
    days = nyse_sessions(last - dt.timedelta(days=3 * FINAL_FILES_LOOKBACK_SESSIONS), last)
    first = str(TRADING_DAYS.get_first_partition_key())
    days = [d for d in days[-FINAL_FILES_LOOKBACK_SESSIONS:] if str(d) >= first]
    due = ohlcv.sessions_to_finalize(flat_files, warehouse, days) if days else []
    if not due:
        return dg.SkipReason(f"no new or republished flat file for {days[0] if days else last}"
                             f" .. {last}")  # fmt: skip
    return [dg.RunRequest(run_key=f"{day}:{etag}", partition_key=str(day)) for day, etag in due]


analytics_automation = dg.AutomationConditionSensorDefinition(
    "analytics_automation",
    target=dg.AssetSelection.groups(options.GROUP, ticker_analysis.GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the options summary, metrics and Wyckoff for the latest session as soon as"
    " their inputs land, and again when its ohlcv is replaced (AutomationCondition.eager looks at"
    " the latest session only: rerun older sessions by hand).",
)

SCHEDULES = [evening_schedule, universe_schedule]
SENSORS = [refresh_reference_after_load, ohlcv_final_files, analytics_automation]
