"""Benchmark: loading Massive day aggregates into the warehouse (issue: platform spine).

Builds a demo mirror (default 15,000 tickers x 730 sessions) and measures on this machine:
  (a) the full single-run backfill of `ohlcv` through Dagster (persistent Postgres instance,
      as `make demo` and the UI use it): wall time and rows/s, with the step's own time;
  (b) one daily partition (the last session) rerun through Dagster: wall time;
  (c) the same rows with `DataFrame.to_sql` (the usual alternative) and a raw `COPY` of a
      prepared CSV (the ceiling), into the same partitioned table, in the same run.
Goals: (a) < 60 s, >= 10x to_sql, within 1.5x of raw COPY; (b) < 5 s.

    .venv/bin/python benchmarks/bench_ohlcv_load.py [--tickers 15000] [--sessions 730]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tickers", type=int, default=15_000)
    p.add_argument("--sessions", type=int, default=730)
    p.add_argument(
        "--to-sql-sessions",
        type=int,
        default=None,
        help="sessions loaded with to_sql (default: all; rows/s is what is compared)",
    )
    p.add_argument("--workdir", default=str(ROOT / "benchmarks" / "out"))
    return p.parse_args()


def main() -> None:
    args = parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("KAPMAN_HOME", str(ROOT / ".kapman"))

    import datetime as dt

    from kapman_assets.partitions import trading_day_partitions
    from kapman_resources.calendar import nyse_sessions

    # the newest session that is a partition now (the partitions decide, not the clock)
    end = trading_day_partitions(dt.date(2000, 1, 3)).get_last_partition_key()
    days = nyse_sessions("2000-01-01", end)[-args.sessions :]
    os.environ["KAPMAN_HISTORY_START"] = days[0].isoformat()

    from kapman_resources.demo_market import write_demo_market

    mirror = work / f"mirror_{args.tickers}"
    t = time.perf_counter()
    summary = write_demo_market(mirror, start=days[0], end=days[-1], n_tickers=args.tickers, seed=7)
    print(
        f"mirror: {args.tickers:,} tickers x {len(days)} sessions at {mirror} "
        f"({summary.files_written} written, {summary.files_skipped} unchanged) "
        f"in {time.perf_counter() - t:.1f}s"
    )

    import psycopg

    from kapman_resources.database import connect, migrate
    from kapman_resources.embedded_pg import EmbeddedPostgres

    server = EmbeddedPostgres(Path(os.environ["KAPMAN_HOME"]))
    server.start()
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        for name in ("kapman_bench", "dagster_bench"):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    url = server.url("kapman_bench")
    with connect(url) as conn:
        migrate(conn)
    home = Path(tempfile.mkdtemp(prefix="kapman-bench-dagster-"))
    from kapman_assets.runtime import EVENT_BATCH_SIZE, INSTANCE_YAML

    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")

    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)  # as `kapman` sets it
    os.environ.update(
        KAPMAN_DATABASE_URL=url, DAGSTER_HOME=str(home),
        KAPMAN_DAGSTER_STORAGE_URL=server.url("dagster_bench", "postgresql+psycopg2"),
        KAPMAN_FLATFILES_SOURCE="local", KAPMAN_FLATFILES_DIR=str(mirror),
    )  # fmt: skip

    import dagster as dg

    from kapman_assets.definitions import build_resources
    from kapman_assets.ohlcv import ohlcv

    instance = dg.DagsterInstance.get()
    job = dg.Definitions(
        assets=[ohlcv], resources=build_resources(),
        jobs=[dg.define_asset_job("load", selection=[ohlcv])],
    ).resolve_job_def("load")  # fmt: skip
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

    def run(tags):
        start = time.perf_counter()
        result = job.execute_in_process(instance=instance, tags=tags, run_config=quiet)
        wall = time.perf_counter() - start
        events = instance.all_logs(result.run_id)
        stamp = {e.dagster_event.event_type_value: e.timestamp for e in events
                 if e.dagster_event and e.step_key == "ohlcv"}  # fmt: skip
        step = stamp["STEP_SUCCESS"] - stamp["STEP_START"]
        return wall, step, len(events)

    wall_a, step_a, events_a = run({"dagster/asset_partition_range_start": str(days[0]),
                                    "dagster/asset_partition_range_end": str(days[-1])})  # fmt: skip
    with connect(url) as conn:
        rows = conn.execute("SELECT count(*) FROM ohlcv").fetchone()[0]
    wall_b, step_b, _ = run({"dagster/partition": str(days[-1])})

    # (c) the same rows: raw COPY of a prepared CSV (ceiling), then DataFrame.to_sql
    csv_path = work / "ohlcv_prepared.csv"
    with connect(url) as conn, open(csv_path, "wb") as fh:
        query = "COPY (SELECT * FROM ohlcv ORDER BY date_trunc('month', date), ticker_id, date)"
        with conn.cursor().copy(query + " TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                fh.write(chunk)
    with connect(url) as conn:
        # the best case for raw COPY: truncate in the same transaction (no WAL with the
        # embedded server's wal_level=minimal), rows in partition and key order
        start = time.perf_counter()
        with conn.transaction():
            conn.execute("TRUNCATE ohlcv")
            with conn.cursor().copy("COPY ohlcv FROM STDIN (FORMAT csv)") as copy:
                with open(csv_path, "rb") as fh:
                    while block := fh.read(1 << 20):
                        copy.write(block)
        copy_s = time.perf_counter() - start

    import pandas as pd
    import sqlalchemy as sa

    frame = pd.read_csv(csv_path, header=None,
                        names=["ticker_id", "date", "open", "high", "low", "close", "volume",
                               "transactions"], parse_dates=["date"])  # fmt: skip
    if args.to_sql_sessions:
        keep = sorted(frame["date"].unique())[-args.to_sql_sessions :]
        frame = frame[frame["date"].isin(keep)]
    with connect(url) as conn:
        conn.execute("TRUNCATE ohlcv")
        conn.commit()
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    start = time.perf_counter()
    frame.to_sql("ohlcv", engine, if_exists="append", index=False, chunksize=50_000)
    to_sql_s = time.perf_counter() - start
    to_sql_rate = len(frame) / to_sql_s
    csv_path.unlink()

    rate_a = rows / wall_a
    print()
    print(f"rows loaded                         {rows:,}")
    print(
        f"(a) full backfill through Dagster   {wall_a:6.1f} s  {rate_a:>10,.0f} rows/s"
        f"   (ohlcv step {step_a:.1f} s; {events_a:,} Dagster events)"
    )
    print(f"(b) one daily partition             {wall_b:6.2f} s   (ohlcv step {step_b:.2f} s)")
    print(f"(c) raw COPY of a prepared CSV      {copy_s:6.1f} s  {rows / copy_s:>10,.0f} rows/s")
    print(
        f"    DataFrame.to_sql ({len(frame):,} rows) {to_sql_s:6.1f} s  {to_sql_rate:>10,.0f} rows/s"
    )
    print()
    print(
        f"goal (a) < 60 s:                    {'met' if wall_a < 60 else 'NOT met'} ({wall_a:.1f} s)"
    )
    print(
        f"goal (a) >= 10x to_sql:             {'met' if rate_a >= 10 * to_sql_rate else 'NOT met'}"
        f" ({rate_a / to_sql_rate:.1f}x)"
    )
    print(
        f"goal (a) within 1.5x of raw COPY:   {'met' if wall_a <= 1.5 * copy_s else 'NOT met'}"
        f" ({wall_a / copy_s:.2f}x)"
    )
    print(
        f"goal (b) < 5 s:                     {'met' if wall_b < 5 else 'NOT met'} ({wall_b:.2f} s)"
    )
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        for name in ("kapman_bench", "dagster_bench"):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
