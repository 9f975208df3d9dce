"""Benchmark: the analytics library (issue: analytics library).

Full per-ticker analytics (TA-Lib indicators incl. the JSON set, price metrics, Wyckoff with
scores and signals) over 730 output sessions with 260 bars of warm-up, on demo-market bars:
  - the watchlist: 143 tickers (goal < 5 s);
  - a universe screen: 15,000 tickers, both cores, latest session output (goal < 5 min);
and dealer + volatility metrics for a 5,000-contract chain incl. the flip grid (goal < 0.2 s).

    .venv/bin/python benchmarks/bench_analytics.py [--universe 15000] [--skip-universe]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUTPUT_SESSIONS = 730
WARMUP_BARS = 260


def load_bars(n_tickers: int, workdir: Path):
    import pandas as pd

    from kapman_resources.calendar import last_completed_session, nyse_sessions
    from kapman_resources.demo_market import write_demo_market
    from kapman_resources.providers.flat_files import LocalFlatFiles

    days = nyse_sessions("2000-01-01", last_completed_session())[-(OUTPUT_SESSIONS + WARMUP_BARS) :]
    root = workdir / f"analytics_mirror_{n_tickers}"
    write_demo_market(root, start=days[0], end=days[-1], n_tickers=n_tickers, seed=7)
    table = LocalFlatFiles(directory=str(root)).read(days)
    long = table.to_pandas(date_as_object=False)
    splits = pd.read_json(root / "reference" / "splits.json", typ="series")["results"]
    splits = pd.DataFrame(list(splits))
    splits["execution_date"] = pd.to_datetime(splits["execution_date"])
    return long, splits, days[WARMUP_BARS], days[-1]


SCREEN_CHUNK_TICKERS = 250


def _screen_chunk(args):
    """Full analytics for one chunk of tickers, output for the screen's session only."""
    from kapman_assets.analytics.ticker_analytics import analyze_tickers

    part, splits, start, end, with_json = args
    result = analyze_tickers(part, splits, end, end, with_json)
    return len(result), result


def screen_universe(long, splits, start, end, with_json=True, workers=2):
    """A universe screen: every ticker's whole series computed, the latest session output.

    The analytics compute each ticker's full series once and then slice, so an output window of
    one session costs the same computation; only JSON records for other days are not built
    (for 15,000 tickers x 730 days they would be 1.4 billion values that no table stores).
    Chunks of tickers go to `workers` processes.
    """
    from concurrent.futures import ProcessPoolExecutor

    import numpy as np
    import pandas as pd

    tickers = np.array(sorted(long["ticker"].unique()))
    chunks = np.array_split(tickers, max(1, len(tickers) // SCREEN_CHUNK_TICKERS))
    grouped = dict(tuple(long.groupby("ticker", sort=False)))
    jobs = (
        (pd.concat([grouped[t] for t in chunk]), splits[splits["ticker"].isin(set(chunk))],
         start, end, with_json)
        for chunk in chunks
    )  # fmt: skip
    with ProcessPoolExecutor(max_workers=workers) as pool:
        screens = [screen for _, screen in pool.map(_screen_chunk, jobs)]
    return pd.concat(screens, ignore_index=True)


def timed(label: str, func, *args, **kwargs):
    start = time.perf_counter()
    result = func(*args, **kwargs)
    seconds = time.perf_counter() - start
    print(f"{label:<62} {seconds:8.2f} s   ({len(result):,} output rows)")
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--universe", type=int, default=15_000)
    p.add_argument("--skip-universe", action="store_true")
    p.add_argument("--workdir", default=str(ROOT / "benchmarks" / "out"))
    args = p.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)

    from kapman_assets.analytics.ticker_analytics import analyze_tickers
    from kapman_resources.database import load_watchlist

    long, splits, start, end = load_bars(args.universe if not args.skip_universe else 2000, work)
    print(f"bars: {long['ticker'].nunique():,} tickers, {OUTPUT_SESSIONS} output sessions "
          f"{start}..{end} after {WARMUP_BARS} warm-up bars; {os.cpu_count()} cores")  # fmt: skip
    watch = long[long["ticker"].isin(load_watchlist())]
    w = timed(f"watchlist ({watch['ticker'].nunique()} tickers), full incl. JSON",
              analyze_tickers, watch, splits, start, end)  # fmt: skip
    figures = {"watchlist": w}
    if not args.skip_universe:
        n = long["ticker"].nunique()
        figures["universe_2"] = timed(
            f"universe screen ({n:,} tickers x {OUTPUT_SESSIONS + WARMUP_BARS} bars), 2 processes",
            screen_universe, long, splits, start, end, True, 2,
        )  # fmt: skip
    print()
    chain = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_chain_metrics.py")],
                           capture_output=True, text=True, check=True)  # fmt: skip
    print(chain.stdout.strip())
    print()
    print(f"goal watchlist < 5 s:       {'met' if w < 5 else 'NOT met'} ({w:.2f} s)")
    if "universe_2" in figures:
        best = figures["universe_2"]
        print(f"goal universe < 300 s:      {'met' if best < 300 else 'NOT met'} ({best:.0f} s)")


if __name__ == "__main__":
    main()
