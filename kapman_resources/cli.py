"""`kapman`: manage the embedded database, run the demo, serve the Dagster UI."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
import warnings

import click

from kapman_resources.database import DatabaseUnavailable, connect, migrate, redact
from kapman_resources.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError
from kapman_resources.environment import prepare_runtime
from kapman_resources.settings import PROJECT_ROOT, SettingsError, load_settings

# Dagster flags the single-run backfill policy and partitioned checks as beta/preview (and the
# wheel warns about XDG_RUNTIME_DIR): nothing a user can act on, so the output stays readable.
# Both are emitted later, when Dagster code and the wheel are first imported.
warnings.filterwarnings("ignore", message=".*(is currently in beta|is currently in preview).*")
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

SUMMARY_TABLES = ("tickers", "ohlcv", "splits", "portfolio_tickers", "retention_log",
                  "options_chains", "ticker_metrics", "wyckoff_snapshots", "recommendations")  # fmt: skip
UI_URL = "http://127.0.0.1:3000"
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def _embedded_or_fail() -> EmbeddedPostgres:
    settings = load_settings()
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


@db.command("url")
def db_url() -> None:
    """Print the warehouse URL (password redacted for an external server)."""
    settings = load_settings()
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


def _write_demo(settings, end: dt.date) -> None:
    from kapman_resources.demo_market import write_demo_market

    label = f"demo market ({settings.demo_tickers:,} tickers) -> {settings.flatfiles_dir}"
    with click.progressbar(length=1, label=label, show_pos=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        summary = write_demo_market(
            settings.flatfiles_dir,
            start=settings.history_start,
            end=end,
            n_tickers=settings.demo_tickers,
            seed=settings.demo_seed,
            progress=progress,
        )
    click.echo(f"  {summary.files_written} files written, {summary.files_skipped} unchanged")


def _missing_range(instance, job_keys: list[str]) -> tuple[str, str] | None:
    import dagster as dg

    done = instance.get_materialized_partitions(dg.AssetKey("ohlcv"))
    missing = [k for k in job_keys if k not in done]
    return (missing[0], job_keys[-1]) if missing else None


def _run_pipeline(settings) -> list:
    """Backfill every session not yet loaded (one single run), else re-run the checks."""
    import dagster as dg

    from kapman_assets.definitions import defs
    from kapman_assets.partitions import TRADING_DAYS
    from kapman_resources.calendar import last_completed_session

    instance = dg.DagsterInstance.get()
    keys = TRADING_DAYS.get_partition_keys()
    end = last_completed_session().isoformat()
    keys = [k for k in keys if k <= end]
    span = _missing_range(instance, keys)
    if span:
        job = defs.resolve_job_def("daily_market_data")
        click.echo(f"backfilling {span[0]} .. {span[1]} through Dagster (one run)")
        tags = {"dagster/asset_partition_range_start": span[0],
                "dagster/asset_partition_range_end": span[1]}  # fmt: skip
    else:
        job = defs.resolve_job_def("ohlcv_checks")
        click.echo(f"all {len(keys)} sessions already loaded: re-running the checks for {keys[-1]}")
        tags = {"dagster/partition": keys[-1]}
    started = time.monotonic()
    result = job.execute_in_process(
        instance=instance, tags=tags, run_config=CONSOLE_INFO, raise_on_error=False
    )
    click.echo(f"run {result.run_id[:8]} {'succeeded' if result.success else 'FAILED'} "
               f"in {time.monotonic() - started:.1f}s")  # fmt: skip
    if not result.success:
        _fail("the pipeline run failed; see the log above or the run in the UI (`make up`)")
    defs.resolve_job_def("reference_data").execute_in_process(
        instance=instance, run_config=CONSOLE_INFO
    )
    return result.get_asset_check_evaluations()


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
    click.secho("\nAsset checks", bold=True)
    for ev in sorted(checks, key=lambda e: e.check_name):
        mark = click.style("passed", fg="green") if ev.passed else click.style(
            "FAILED" if ev.severity.value == "ERROR" else "warning", fg="red" if ev.severity.value
            == "ERROR" else "yellow")  # fmt: skip
        detail = ""
        meta = {k: getattr(v, "value", v) for k, v in ev.metadata.items()}
        if not ev.passed and "missing" in meta:
            detail = f" (missing: {meta['missing']})"
        click.echo(f"  {ev.check_name:<34} {mark}{detail}")
    passed = sum(e.passed for e in checks)
    click.echo(f"  {passed}/{len(checks)} passed")
    click.secho(f"\nDagster UI: `make up`, then open {UI_URL}", bold=True)


@main.command()
def demo() -> None:
    """Set up everything and run the main job on the demo market (or the configured source)."""
    from kapman_resources.calendar import last_completed_session

    settings = load_settings()
    runtime = _runtime()
    where = "embedded server" if runtime.embedded else redact(runtime.database_url)
    click.echo(f"database: {where} ({redact(runtime.database_url)})")
    applied = _migrate(runtime.database_url)
    click.echo(f"migrations: {'applied ' + ', '.join(applied) if applied else 'up to date'}")
    if settings.flatfiles_source == "demo":
        _write_demo(settings, last_completed_session())
    else:
        click.echo(f"flat files: {settings.flatfiles_source} ({settings.flatfiles_dir})")
    checks = _run_pipeline(settings)
    _summary(runtime.database_url, checks)


@main.command()
@click.option("--port", default=3000, show_default=True)
def up(port: int) -> None:
    """Serve the Dagster UI and daemon (`dagster dev`) against the Kapman database."""
    runtime = _runtime()
    _migrate(runtime.database_url)
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C to stop)")
    os.chdir(PROJECT_ROOT)
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    os.execv(dagster, [dagster, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)])


@main.command("env")
def env_cmd() -> None:
    """Print shell exports for the current database (eval "$(kapman env)")."""
    runtime = _runtime()
    for name in ("KAPMAN_DATABASE_URL", "KAPMAN_DAGSTER_STORAGE_URL", "DAGSTER_HOME"):
        click.echo(f"export {name}={os.environ[name]}")
    del runtime


if __name__ == "__main__":  # pragma: no cover
    main()
