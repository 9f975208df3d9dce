"""Time dealer + volatility metrics on a 5,000-contract chain (goal: < 0.2 s per chain).

Run: .venv/bin/python benchmarks/bench_chain_metrics.py
Prints the median wall time of several runs of dealer_metrics (including the 61-point gamma-flip
grid) plus volatility_metrics on one synthetic chain.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the package, and the test helpers

from helpers.chains import build_chain  # noqa: E402

from kapman_assets.analytics.dealer import FLIP_GRID_POINTS, dealer_metrics  # noqa: E402
from kapman_assets.analytics.volatility import volatility_metrics  # noqa: E402

N_CONTRACTS = 5_000
RUNS = 9
GOAL_SECONDS = 0.2
SPOT = 100.0
ADV20_DOLLARS = 5e9


def main() -> None:
    """Build the chain once, time the metrics RUNS times, print the median."""
    chain = build_chain(N_CONTRACTS, spot=SPOT)
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        dealer = dealer_metrics(chain, SPOT, ADV20_DOLLARS)
        volatility_metrics(chain, SPOT)
        timings.append(time.perf_counter() - start)
    median = statistics.median(timings)
    print(
        f"chain metrics, {len(chain):,} contracts, {FLIP_GRID_POINTS}-point flip grid: "
        f"median {median * 1000:.1f} ms over {RUNS} runs "
        f"(min {min(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms); "
        f"goal < {GOAL_SECONDS * 1000:.0f} ms: {'OK' if median < GOAL_SECONDS else 'MISSED'}"
    )
    print(f"gamma_flip_level={dealer['gamma_flip_level']:.2f} gex_total={dealer['gex_total']:.3e}")


if __name__ == "__main__":
    main()
