"""Benchmark: the universe layer and the monthly refit (issue: forecasts and recommendations).

On demo-market bars (2,000 tickers x 730 sessions after 260 bars of warm-up), the library calls
the `universe_analysis` asset and a refit of `directional_forecasts` make, without the database:
  - the universe pass: the scope's analytics on every liquid ticker (both cores);
  - signal edge: the walk-forward event study as of 26 week-ends and the latest session
    (goal < 2 min, with the pass);
  - one monthly refit: the model's training rows from the pass and the fit (goal < 60 s).

    .venv/bin/python benchmarks/bench_universe.py [--tickers 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=2000)
    args = parser.parse_args()

    import pandas as pd
    from bench_analytics import load_bars

    from kapman_assets import forecasts, universe
    from kapman_assets.analytics import forecast_model as fm
    from kapman_assets.analytics import signal_edge as se
    from kapman_assets.analytics.series import split_adjust
    from kapman_assets.analytics.ticker_analytics import analyze_tickers_parallel

    with tempfile.TemporaryDirectory() as work:
        long, splits, start, end = load_bars(args.tickers, Path(work))
    long["date"] = pd.to_datetime(long["date"])
    print(f"{long['ticker'].nunique():,} tickers, {len(long):,} bars, output {start} .. {end}")

    clock = time.perf_counter()
    tickers = universe.liquid_tickers(long, start)
    bars = long[long["ticker"].isin(set(tickers))].reset_index(drop=True)
    features = analyze_tickers_parallel(bars, splits, pd.Timestamp(start), pd.Timestamp(end),
                                        with_json=False, workers=2)  # fmt: skip
    features = features.loc[:, list(universe.FEATURE_COLUMNS)]
    pass_s = time.perf_counter() - clock
    print(f"(a) universe pass: {len(tickers):,} liquid tickers, {len(features):,} ticker-days in"
          f" {pass_s:.1f} s")  # fmt: skip

    clock = time.perf_counter()
    adjusted = split_adjust(bars, splits)
    returns = se.forward_returns(adjusted.assign(volume=bars["volume"].astype(float)))
    sessions = sorted(bars["date"].dt.date.unique())
    days = universe.edge_dates(sessions)
    edges = se.edge_tables(returns, universe.marks(features), days)
    edge_s = time.perf_counter() - clock
    print(f"(b) signal edge as of {len(days)} sessions: {len(edges):,} rows in {edge_s:.1f} s;"
          f" with the pass {pass_s + edge_s:.1f} s (goal < 120 s)")  # fmt: skip

    clock = time.perf_counter()
    fit_day = sessions[-1]
    frame = forecasts.model_frame(features.assign(iv_hv_diff=None), bars, splits)
    model = forecasts.fit_models(frame, [fit_day])[fit_day]
    refit_s = time.perf_counter() - clock
    print(
        f"(c) monthly refit on {model.rows:,} training rows ({model.training_start} .."
        f" {model.training_end}): {refit_s:.1f} s (goal < 60 s); out-of-sample Brier"
        f" {model.brier_out_of_sample:.4f} vs climatology"
        f" {model.brier_climatology_out_of_sample:.4f}, shrink weight {model.shrink_weight:.2f}"
    )
    assert model.features == fm.FEATURES


if __name__ == "__main__":
    main()
