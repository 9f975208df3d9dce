"""Benchmark: the analytical layer as assets (issue: the analytical layer, the same evening).

On a fresh database of the embedded server, with the demo market's bars for the watchlist
(143 tickers x (730 + 260 warm-up) sessions) loaded into `ohlcv` first (not timed):
  (a) the analytical backfill: `ticker_metrics` + `wyckoff_snapshots` for 730 sessions, one
      single-run materialization through Dagster (goal < 15 s);
  (b) one evening for the whole scope: option chains of 143 tickers from a local HTTP server
      replaying realistic snapshot pages (~1,000 contracts per ticker, 250 per page, the real
      client with its retries and pagination), the options summary, metrics and Wyckoff for the
      session, through Dagster (goal < 20 s in total; the product's own target is 20 minutes);
  (c) chain storage: rows and bytes of `options_chains` for --chain-sessions (default 90)
      sessions of the demo's chains for the scope;
  (d) tonight's directional forecasts and recommendations without the LLM, through Dagster,
      after the universe layer: on the month's first run (the model is fitted on the universe's
      rows) and on any other evening (the stored model) (goal < 5 s).
The replay provider skips the live API's "only tonight" guard (the replayed pages stand for
tonight's snapshot whatever the bench's clock says); everything else is the product's code.

    .venv/bin/python benchmarks/bench_analytical_layer.py [--chain-sessions 90]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUTPUT_SESSIONS = 730
REPLAY_STRIKES_PER_SIDE = 25  # ~1,000 contracts per ticker on the demo's expirations
PAGE = 250


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--chain-sessions", type=int, default=90)
    p.add_argument("--workdir", default=str(ROOT / "benchmarks" / "out"))
    return p.parse_args()


def replay_server(pages: dict[str, list[bytes]]) -> tuple[ThreadingHTTPServer, str]:
    """Serves /v3/snapshot/options/{u}?cursor=N from pre-encoded pages."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            underlying = url.path.rsplit("/", 1)[-1]
            index = int(parse_qs(url.query).get("cursor", ["0"])[0])
            empty = [json.dumps({"status": "OK", "results": []}).encode()]
            data = pages.get(underlying, empty)[index]  # no bar tonight: no listed options
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def build_pages(base_url: str, spots: dict[str, float], session: dt.date) -> tuple[dict, int]:
    import numpy as np

    from kapman_resources.demo_market import option_chains as oc

    demo_strikes, oc.MAX_STRIKES_PER_SIDE = oc.MAX_STRIKES_PER_SIDE, REPLAY_STRIKES_PER_SIDE
    pages, contracts = {}, 0
    for i, (symbol, spot) in enumerate(sorted(spots.items())):
        frame = oc.chain_frame(symbol, session, spot, 0.35, 0.0, np.random.default_rng(i))
        results = oc.snapshot_results(frame, symbol, spot, 0)
        contracts += len(results)
        chunks = [results[k : k + PAGE] for k in range(0, len(results), PAGE)]
        encoded = []
        for n, chunk in enumerate(chunks):
            body = {"status": "OK", "results": chunk}
            if n + 1 < len(chunks):
                body["next_url"] = f"{base_url}/v3/snapshot/options/{symbol}?cursor={n + 1}"
            encoded.append(json.dumps(body).encode())
        pages[symbol] = encoded
    oc.MAX_STRIKES_PER_SIDE = demo_strikes  # (c) uses the demo's own chains
    return pages, contracts


def main() -> None:
    args = parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    from kapman_assets.analytics.indicators import MIN_HISTORY_BARS as WARMUP_SESSIONS
    from kapman_resources.calendar import last_completed_session, nyse_sessions

    days = nyse_sessions("2000-01-01", last_completed_session())
    days = days[-(OUTPUT_SESSIONS + WARMUP_SESSIONS + 1) :]
    os.environ["KAPMAN_HISTORY_START"] = days[0].isoformat()

    import dagster as dg
    import psycopg

    from kapman_assets import ohlcv, options, reference_data, ticker_analysis
    from kapman_resources.database import connect, migrate
    from kapman_resources.embedded_pg import EmbeddedPostgres
    from kapman_resources.io_manager import KapmanIOManager
    from kapman_resources.providers import (
        DemoFlatFiles,
        DemoMassiveRest,
        MassiveRest,
        SavedReference,
    )
    from kapman_resources.warehouse import PostgresResource

    class ReplayMassiveRest(MassiveRest):
        """The live client against the replay server, without the "only tonight" guard."""

        def refuse_unavailable(self, sessions):
            return None

    home = Path(tempfile.mkdtemp(prefix="kapman_bench_", dir=work))
    server = EmbeddedPostgres(home)
    server.start()
    try:
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        url = server.url("bench")
        with connect(url) as conn:
            migrate(conn)
        mirror = work / "analytical_mirror"
        flat = DemoFlatFiles(directory=str(mirror), tickers=150, start=str(days[0]),
                             publish_delay=False)  # fmt: skip
        flat.prepare(days[-1])
        resources = {
            "warehouse": PostgresResource(database_url=url),
            "warehouse_io_manager": KapmanIOManager(database_url=url),
            "flat_files": flat,
            "reference_data": SavedReference(directory=str(mirror)),
            "market_rest": DemoMassiveRest(flat_files=flat),
        }

        def rng(first, last):
            return {"dagster/asset_partition_range_start": str(first),
                    "dagster/asset_partition_range_end": str(last)}  # fmt: skip

        started = time.perf_counter()
        assert dg.materialize(
            [ohlcv.ohlcv], resources=resources, tags=rng(days[0], days[-1])
        ).success
        assert dg.materialize([reference_data.tickers, reference_data.splits],
                              resources=resources).success  # fmt: skip
        print(
            f"setup: {len(days)} sessions of demo bars loaded in {time.perf_counter() - started:.1f} s"
        )

        window = days[-OUTPUT_SESSIONS:]
        started = time.perf_counter()
        result = dg.materialize([ticker_analysis.ticker_analysis], resources=resources,
                                tags=rng(window[0], window[-1]))  # fmt: skip
        backfill = time.perf_counter() - started
        assert result.success
        with connect(url) as conn:
            scope = conn.execute("SELECT count(DISTINCT ticker) FROM ticker_metrics").fetchone()[0]
            rows = conn.execute("SELECT count(*) FROM ticker_metrics").fetchone()[0]
        print(f"(a) analytical backfill: {scope} tickers x {len(window)} sessions = {rows:,} rows"
              f" per table, metrics + Wyckoff through Dagster: {backfill:.1f} s (goal < 15 s)")  # fmt: skip

        # (b) one evening from the replay server
        tonight = days[-1]
        with connect(url) as conn:
            spots = dict(conn.execute(
                "SELECT k.symbol, o.close FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id"
                " WHERE o.date = %s AND k.symbol IN (SELECT symbol FROM portfolio_tickers)",
                (tonight,)).fetchall())  # fmt: skip
        served: dict[str, list[bytes]] = {}
        httpd, base = replay_server(served)  # pages are added once their next_url is known
        pages, contracts = build_pages(base, spots, tonight)
        served.update(pages)
        evening = {**resources, "market_rest": ReplayMassiveRest(key="bench", base_url=base)}
        started = time.perf_counter()
        result = dg.materialize(
            [options.options_chains, options.options_daily_summary, ticker_analysis.ticker_analysis],
            resources=evening, partition_key=str(tonight))  # fmt: skip
        took = time.perf_counter() - started
        assert result.success
        steps = {e.step_key: e for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
        detail = ", ".join(f"{k} {v.event_specific_data.duration_ms / 1000:.1f} s"
                           for k, v in steps.items())  # fmt: skip
        httpd.shutdown()
        print(f"(b) one evening: {len(pages)} chains, {contracts:,} contracts"
              f" ({sum(map(len, pages.values()))} pages), summary, metrics and Wyckoff:"
              f" {took:.1f} s (goal < 20 s); {detail}")  # fmt: skip

        # (d) tonight's forecasts and ideas (no LLM) on the stored metrics, Wyckoff and chains
        from kapman_assets import forecasts, recommendations, universe
        from kapman_resources.claude import ClaudeResource

        started = time.perf_counter()
        assert dg.materialize([universe.universe_analysis], resources=resources).success
        print(f"    the universe layer (the model's training rows, signal edge):"
              f" {time.perf_counter() - started:.1f} s")  # fmt: skip
        ideas_resources = {**evening, "claude": ClaudeResource()}
        for label in ("first run of the month (the model is fitted)",
                      "any other evening (the month's stored model)"):  # fmt: skip
            started = time.perf_counter()
            result = dg.materialize(
                [forecasts.directional_forecasts, recommendations.recommendations],
                resources=ideas_resources, partition_key=str(tonight))  # fmt: skip
            took = time.perf_counter() - started
            assert result.success
            with connect(url) as conn:
                n_fc, n_ideas, n_skips = conn.execute(
                    "SELECT (SELECT count(*) FROM directional_forecasts WHERE date = %s),"
                    " (SELECT count(*) FROM recommendations WHERE date = %s),"
                    " (SELECT count(*) FROM recommendation_skips WHERE date = %s)",
                    (tonight, tonight, tonight)).fetchone()  # fmt: skip
                training = conn.execute("SELECT training_rows FROM forecast_models ORDER BY"
                                        " fit_date DESC LIMIT 1").fetchone()[0]  # fmt: skip
            print(f"(d) tonight's forecasts and ideas without the LLM, {label}: {n_fc} forecasts"
                  f" (model trained on {training:,} universe rows), {n_ideas} ideas, {n_skips}"
                  f" skipped: {took:.1f} s (goal < 5 s)")  # fmt: skip

        # (c) chain storage for the demo's chain window
        chain_days = days[-args.chain_sessions :]
        with connect(url) as conn:
            conn.execute("TRUNCATE options_chains")
            conn.commit()
        started = time.perf_counter()
        assert dg.materialize([options.options_chains], resources=resources,
                              tags=rng(chain_days[0], chain_days[-1])).success  # fmt: skip
        took = time.perf_counter() - started
        with connect(url) as conn:
            n = conn.execute("SELECT count(*) FROM options_chains").fetchone()[0]
            size = conn.execute(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i"
                " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'options_chains'::regclass"
            ).fetchone()[0] or conn.execute(
                "SELECT pg_total_relation_size('options_chains')").fetchone()[0]  # fmt: skip
        print(f"(c) chain storage: {len(chain_days)} sessions x {len(spots)} tickers of demo chains:"
              f" {n:,} rows, {size / 2**20:.0f} MiB with indexes ({size / max(n, 1):.0f} bytes/row);"
              f" fetched and written in {took:.1f} s")  # fmt: skip
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
