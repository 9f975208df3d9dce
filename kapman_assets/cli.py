"""`kapman`: manage the embedded database, run the demo, serve the Dagster UI.

Application glue on the top floor: it reads job names and asset keys from the definitions and
uses `kapman_resources` below it; nothing below imports it.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
import time
import warnings

import click

from kapman_assets.ideas_summary import print_edge, print_ideas, print_scores
from kapman_assets.runtime import prepare_runtime
from kapman_resources.database import DatabaseUnavailable, connect, migrate, redact
from kapman_resources.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError
from kapman_resources.settings import SettingsError, load_settings

# Dagster flags the single-run backfill policy and partitioned checks as beta/preview (and the
# wheel warns about XDG_RUNTIME_DIR): nothing a user can act on, so the output stays readable.
# Both are emitted later, when Dagster code and the wheel are first imported.
warnings.filterwarnings("ignore", message=".*(is currently in beta|is currently in preview).*")
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

SUMMARY_TABLES = ("tickers", "ohlcv", "splits", "portfolio_tickers", "retention_log",
                  "options_chains", "options_daily_summary", "ticker_metrics",
                  "wyckoff_snapshots", "forecast_models", "directional_forecasts",
                  "recommendations", "recommendation_skips", "forecast_outcomes",
                  "recommendation_outcomes", "forecast_calibration")  # fmt: skip
UI_URL = "http://127.0.0.1:3000"
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def _settings():
    try:
        return load_settings()
    except SettingsError as exc:
        _fail(str(exc))


def _embedded_or_fail() -> EmbeddedPostgres:
    settings = _settings()
    if not settings.embedded:
        _fail(
            "KAPMAN_DATABASE_URL is set: Kapman is using an external server "
            f"({redact(settings.database_url)}), not the embedded one"
        )
    return EmbeddedPostgres(settings.home)


@click.group()
def main() -> None:
    """Kapman: market data, Wyckoff analytics and option ideas on a Dagster asset graph."""


@main.group()
def db() -> None:
    """The warehouse database (the embedded server unless KAPMAN_DATABASE_URL is set)."""


@db.command("start")
def db_start() -> None:
    """Start the embedded server (initializing it on first use)."""
    try:
        status = _embedded_or_fail().start()
    except EmbeddedPostgresError as exc:
        _fail(str(exc))
    if status.stale_pid_file_removed:
        click.echo("removed a stale postmaster.pid left by a killed server")
    click.echo(f"running: pid {status.pid}, port {status.port}, data {status.data_dir}")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded server."""
    stopped = _embedded_or_fail().stop()
    click.echo("stopped" if stopped else "not running")


@db.command("status")
def db_status() -> None:
    """Say whether the embedded server runs, and where."""
    status = _embedded_or_fail().status()
    if status.running:
        click.echo(f"running: pid {status.pid}, port {status.port}, data {status.data_dir}")
    else:
        click.echo(f"stopped (data {status.data_dir})")
        sys.exit(3)


@db.command("destroy")
@click.option("--yes", is_flag=True, help="Confirm: every table of the warehouse is deleted.")
def db_destroy(yes: bool) -> None:
    """Stop the embedded server and delete its data (and its copy of the server binaries)."""
    server = _embedded_or_fail()
    if not yes:
        _fail(f"this deletes {server.data_dir}: run `kapman db destroy --yes` to confirm")
    server.destroy()
    click.echo(f"deleted {server.data_dir}")


@db.command("url")
def db_url() -> None:
    """Print the warehouse URL (password redacted for an external server)."""
    settings = _settings()
    if settings.embedded:
        click.echo(EmbeddedPostgres(settings.home).url())
    else:
        click.echo(redact(settings.database_url))


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending sql/ migrations (idempotent) and seed the AI_STOCKS portfolio."""
    runtime = _runtime()
    applied = _migrate(runtime.database_url)
    click.echo(f"applied {applied}" if applied else "schema up to date")


def _runtime():
    try:
        return prepare_runtime(load_settings())
    except (SettingsError, EmbeddedPostgresError) as exc:
        _fail(str(exc))


def _migrate(url: str) -> list[str]:
    try:
        with connect(url) as conn:
            return migrate(conn)
    except DatabaseUnavailable as exc:
        _fail(str(exc))


def _prepare_flat_files(settings, through) -> None:
    """Let the configured provider make its files available (the demo market writes them)."""
    from kapman_resources.providers import providers

    flat_files = providers(settings)["flat_files"]
    label = f"flat files ({settings.flatfiles_source}) -> {settings.flatfiles_dir}"
    with click.progressbar(length=1, label=label, show_pos=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        done = flat_files.prepare(through, progress)
    click.echo(f"  {done or 'nothing to prepare: read as needed'}")


def _final_files_due(keys: list[str]) -> list[str]:
    """Recent sessions whose flat file appeared (or changed) since they were loaded, judged
    with the code location's own resources (what its runs read)."""
    import dagster as dg

    from kapman_assets.definitions import defs
    from kapman_assets.jobs import FINAL_FILES_LOOKBACK_SESSIONS
    from kapman_assets.ohlcv import sessions_to_finalize

    days = [dt.date.fromisoformat(k) for k in keys[-FINAL_FILES_LOOKBACK_SESSIONS:]]
    wanted = {k: defs.resources[k] for k in ("flat_files", "warehouse")}
    with dg.build_resources(wanted) as res:
        due = [str(d) for d, _ in sessions_to_finalize(res.flat_files, res.warehouse, days)]
        with res.warehouse.connect() as conn:
            loaded = {str(r[0]) for r in conn.execute(
                "SELECT date FROM ohlcv_loads WHERE date = ANY(%s)", (days,))}  # fmt: skip
    replaced = [d for d in due if d in loaded]
    if replaced:
        click.echo(f"final flat file(s) for {', '.join(replaced)}: reloading those sessions")
    return due


def _keys_by_job(keys: list[str]) -> dict[str, list[str]]:
    """The sessions each analytical job covers: chains for the demo's chain window (the live
    snapshot only for tonight's session, inside its window), metrics where the stored bars give
    the full warm-up."""
    from kapman_assets import jobs
    from kapman_assets.ticker_analysis import WARMUP_SESSIONS
    from kapman_resources.massive_rest import RestError
    from kapman_resources.providers.market_rest import refuse_past_session
    from kapman_resources.settings import OHLCV_RETENTION_SESSIONS

    settings = _settings()
    if settings.flatfiles_source == "demo":
        chain_keys = keys[-settings.demo_chain_sessions :]
    else:
        try:
            refuse_past_session(dt.date.fromisoformat(keys[-1]))
            chain_keys = keys[-1:]
        except RestError as exc:
            click.echo(f"options: {exc}")
            chain_keys = []
    return {
        jobs.options_job.name: chain_keys,
        jobs.analytics_job.name: keys[-(OHLCV_RETENTION_SESSIONS - WARMUP_SESSIONS) :],
        jobs.ideas_job.name: keys[-(OHLCV_RETENTION_SESSIONS - WARMUP_SESSIONS) :],
        jobs.scoring_job.name: keys[-(OHLCV_RETENTION_SESSIONS - WARMUP_SESSIONS) :],
    }


def _with_verification(steps: list, ohlcv_key, keys: list[str]) -> list:
    """The plan with the blocking ohlcv checks re-run before any step that builds on stored bars
    without reloading them (a killed or failed run may have left them unchecked), and the
    checks of the newest session when no step loads bars at all."""
    from kapman_assets import catch_up, jobs

    if any(ohlcv_key in step.assets for step in steps):
        return steps
    out = []
    for step in steps:
        if step.job == jobs.daily_job.name:
            out.append(catch_up.Step(jobs.verify_job.name, (), step.partitions))
        out.append(step)
    last_partitioned = max((i for i, s in enumerate(out) if s.partitions), default=-1)
    out.insert(last_partitioned + 1, catch_up.Step(jobs.all_checks_job.name, (), (keys[-1],)))
    return out


def _run_pipeline() -> tuple[list, bool]:
    """Run what is missing or stale in every asset the demo owns, with the checks guarding it.

    Returns the latest evaluation of each check and whether every run succeeded; stops at the
    first failed run (a failed blocking check fails its run), so nothing builds on bad bars.
    """
    import dagster as dg

    from kapman_assets import catch_up, jobs
    from kapman_assets.definitions import defs
    from kapman_assets.ohlcv import ohlcv
    from kapman_assets.partitions import TRADING_DAYS, closed_partition_keys

    instance = dg.DagsterInstance.get()
    keys = closed_partition_keys(TRADING_DAYS)
    force = {ohlcv.key: _final_files_due(keys)}
    steps = catch_up.plan(instance, defs, jobs.LAYER_JOBS, keys, _keys_by_job(keys), force)
    if not any(ohlcv.key in step.assets for step in steps):
        click.echo(f"ohlcv: all {len(keys)} sessions already loaded")
    evaluations, succeeded = {}, True
    for step in _with_verification(steps, ohlcv.key, keys):
        names = ", ".join(k.to_user_string() for k in step.assets)
        span = " .. ".join(dict.fromkeys([step.partitions[0], step.partitions[-1]])) if (
            step.partitions) else ""  # fmt: skip
        if step.job == jobs.verify_job.name:
            click.echo(f"verifying the stored bars {span} before building on them")
        elif step.job == jobs.all_checks_job.name:
            click.echo(f"re-running the checks for {span}")
        elif step.partitions:
            click.echo(f"backfilling {span}: {names} ({len(step.partitions)} session(s) missing"
                       " or stale; one run over the span)")  # fmt: skip
        else:
            click.echo(f"refreshing {names}")
        started = time.monotonic()
        job = defs.resolve_job_def(step.job)
        whole = set(step.assets) >= job.asset_layer.selected_asset_keys
        result = job.execute_in_process(  # a subset only when needed: it costs seconds to plan
            instance=instance, tags=step.tags(), run_config=CONSOLE_INFO, raise_on_error=False,
            asset_selection=None if whole else list(step.assets),
        )  # fmt: skip
        click.echo(f"run {result.run_id[:8]} ({step.job}) "
                   f"{'succeeded' if result.success else 'FAILED'} "
                   f"in {time.monotonic() - started:.1f}s")  # fmt: skip
        evaluations.update({e.check_name: e for e in result.get_asset_check_evaluations()})
        if not result.success:
            succeeded = False
            break
    return list(evaluations.values()), succeeded


def _summary(url: str, checks: list) -> None:
    with connect(url) as conn:
        click.secho("\nKapman warehouse", bold=True)
        for table in SUMMARY_TABLES:
            n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
            click.echo(f"  {table:<20} {n:>12,} rows")
        lo, hi, sessions = conn.execute(
            "SELECT min(date), max(date), count(DISTINCT date) FROM ohlcv"
        ).fetchone()
        click.echo(f"  ohlcv sessions        {sessions:,} ({lo} .. {hi})")
        load = conn.execute("SELECT source FROM ohlcv_loads WHERE date = %s", (hi,)).fetchone()
        if load:
            state = "final (flat file)" if load[0] == "flat_file" else (
                "provisional (grouped daily; the flat file replaces it when published)")  # fmt: skip
            click.echo(f"  last session          {hi}: {state}")
        last, signals = conn.execute(
            "SELECT date, array_agg(ticker || ' ' || signal ORDER BY ticker) FILTER (WHERE signal"
            " IS NOT NULL) FROM wyckoff_snapshots WHERE date = (SELECT max(date) FROM"
            " wyckoff_snapshots) GROUP BY date").fetchone() or (None, None)  # fmt: skip
        if last:
            click.secho(f"\nSignals on {last}", bold=True)
            click.echo("  " + (", ".join(signals) if signals else "none"))
            print_edge(conn, last)
            print_ideas(conn, last)
        print_scores(conn)
    click.secho("\nAsset checks", bold=True)
    for ev in sorted(checks, key=lambda e: e.check_name):
        error = _is_error(ev)
        mark = click.style("passed", fg="green") if ev.passed else click.style(
            "FAILED" if error else "warning", fg="red" if error else "yellow")  # fmt: skip
        detail = ""
        meta = {k: getattr(v, "value", v) for k, v in ev.metadata.items()}
        if not ev.passed and "missing" in meta:
            detail = f" (missing: {meta['missing']})"
        click.echo(f"  {ev.check_name:<34} {mark}{detail}")
    passed = sum(e.passed for e in checks)
    click.echo(f"  {passed}/{len(checks)} passed")
    click.secho(f"\nDagster UI: `make up`, then open {UI_URL}", bold=True)


def _is_error(evaluation) -> bool:
    """Whether a check evaluation has ERROR severity (its failure fails the command)."""
    import dagster as dg

    return evaluation.severity == dg.AssetCheckSeverity.ERROR


@main.command()
def demo() -> None:
    """Set up everything and run the main job on the demo market (or the configured source).

    Exits non-zero when a run failed or a check of ERROR severity failed (warnings are shown).
    """
    import datetime as dt

    from kapman_assets.partitions import TRADING_DAYS, closed_partition_keys
    from kapman_resources.flatfiles import FlatFileError

    settings = _settings()
    runtime = _runtime()
    where = "embedded server" if runtime.embedded else redact(runtime.database_url)
    click.echo(f"database: {where} ({redact(runtime.database_url)})")
    applied = _migrate(runtime.database_url)
    click.echo(f"migrations: {'applied ' + ', '.join(applied) if applied else 'up to date'}")
    through = dt.date.fromisoformat(closed_partition_keys(TRADING_DAYS)[-1])
    try:
        _prepare_flat_files(settings, through)
    except (FlatFileError, OSError) as exc:
        _fail(f"cannot prepare the flat files in {settings.flatfiles_dir}: {exc}")
    checks, succeeded = _run_pipeline()
    failed = sorted(e.check_name for e in checks if not e.passed and _is_error(e))
    if succeeded or failed:  # a failed blocking check also fails its run: show the summary
        try:
            _summary(runtime.database_url, checks)
        except DatabaseUnavailable as exc:
            _fail(str(exc))
    if failed:
        _fail(f"asset check(s) failed: {', '.join(failed)}")
    if not succeeded:
        _fail("a pipeline run failed; see the log above or the run in the UI (`make up`)")


@main.command()
@click.option("--port", default=3000, show_default=True)
def up(port: int) -> None:
    """Serve the Dagster UI and daemon (`dagster dev`) against the Kapman database."""
    runtime = _runtime()
    _migrate(runtime.database_url)
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C to stop)")
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    os.execv(dagster, [dagster, "dev", "-m", "kapman_assets.definitions", "-h", "127.0.0.1",
                       "-p", str(port)])  # fmt: skip


@main.command("env")
def env_cmd() -> None:
    """Print shell exports for the current database (eval "$(kapman env)")."""
    _runtime()
    for name in (
        "KAPMAN_HOME",
        "KAPMAN_DATABASE_URL",
        "KAPMAN_DAGSTER_STORAGE_URL",
        "DAGSTER_HOME",
    ):
        click.echo(f"export {name}={shlex.quote(os.environ[name])}")


if __name__ == "__main__":  # pragma: no cover
    main()
