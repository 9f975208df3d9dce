"""The demo market: a deterministic local mirror of Massive day-aggregate flat files (our design).

Writes, under `root`, exactly what the real bucket and REST API hold:
- `us_stocks_sip/day_aggs_v1/YYYY/MM/YYYY-MM-DD.csv.gz`, one gzip CSV per NYSE session (none on
  weekends or holidays: the sessions come from `kapman_resources.calendar`), header
  `ticker,volume,open,close,high,low,window_start,transactions`, rows sorted by ticker,
  `window_start` = 00:00 America/New_York of the session in ns, raw (unadjusted) prints rounded
  to 2 decimals (4 below $1), integer volume and transactions;
- `reference/tickers.json` shaped like `/v3/reference/tickers` (active and delisted tickers in
  one response) and `reference/splits.json` shaped like `/v3/reference/splits`.

Determinism. Every ticker draws from its own child streams of `SeedSequence(seed)`, one per
quantity (parameters, returns, gaps, wicks, volume), keyed by the ticker's symbol, over the full
session list from `start`; every event is scheduled by date or by session offset from `start`;
the simulation is causal. So a run with a later `end` reproduces every earlier file byte for
byte (gzip with mtime 0) and only adds sessions, and a ticker's path does not depend on
`n_tickers`. Files are written atomically (a temporary name, then a rename) and skipped when the
content is unchanged; the last session's file is written last, so it marks a finished run.

Price model, per ticker: log close = trend (drift) + beta x market factor + idiosyncratic part,
where the market and idiosyncratic shocks follow GARCH(1,1) (volatility clustering) and the
idiosyncratic part mean-reverts slowly (an Ornstein-Uhlenbeck pull, so 15,000 random walks stay
plausible for years). Opens carry part of the day's move as an overnight gap; earnings every 63
sessions add a gap jump and a volume surge; wicks are exponential in the day's volatility.
Volume is log-normal around a ticker base with an AR(1) regime (clustering), daily noise and
spikes on large moves; transactions = volume / a ticker's average trade size (with noise).

Scripted events:
- Wyckoff accumulation (markdown, selling climax, automatic rally, secondary tests, spring, test,
  sign of strength, last point of support) and its mirror image, distribution (buying climax,
  automatic reaction, upthrust after distribution, sign of weakness), in the watchlist tickers of
  `ACCUMULATIONS` / `DISTRIBUTIONS` and in `STRUCTURE_FRACTION` of the synthetic tickers. The
  templates are shaped so the rules of docs/wyckoff.md fire (climax volume 6.5x base, a spread of about
  2-4 ATR, a >10% drawdown, tests on half the volume, a spring 0.8 units under support, ...).
- Splits: the real 2024 splits of WMT, NVDA, CMG, AVGO and SMCI on their real execution dates,
  and random 2:1 / 3:1 splits and 1-for-10 reverse splits of synthetic tickers. Raw prints are
  NOT adjusted: from the execution date on, prices are divided by split_to/split_from and
  volume is multiplied by it.
- Listings and delistings: CORZ and GEV list, NEWR, SWAV, MTTR, JNPR, BPMC and WBA are acquired
  on (about) their real dates: an announcement gap, then a pinned price until the last session.
  WORK (Slack, acquired 2021) is delisted before the default start, so it never appears in a
  day file and is listed inactive in tickers.json: the pipeline must report it missing.
  Synthetic tickers list (IPO volume), delist (acquired, or a failing slide), or halt for a few
  sessions (their rows are absent, as in real files).
- Illiquid tickers trade a few hundred shares; on some days nothing trades: those rows are
  written with volume 0, transactions 0 and O=H=L=C = the last traded close (real files omit
  no-trade tickers; the zero rows exercise the "flat or zero-volume series" guard).

Only the trading calendar is real; the prices are synthetic (watchlist start levels and vols are
rough early-2023 values).

Modules: `streams` (seeded random streams), `watchlist_specs` (real-world facts per watchlist
symbol), `universe` (symbols, ticker parameters and event schedule), `wyckoff_templates` (the
scripted structures), `simulation` (prices and volumes), `reference` (the REST-shaped reference
documents), `writer` (`write_demo_market`: the files on disk). The defaults (start, number of
tickers, seed) come from `kapman_resources.settings`.
"""

from kapman_resources.database import load_watchlist
from kapman_resources.demo_market.universe import synthetic_symbols
from kapman_resources.demo_market.watchlist_specs import ACCUMULATIONS, DISTRIBUTIONS
from kapman_resources.demo_market.writer import DEMO_START, DemoMarketSummary, write_demo_market
from kapman_resources.demo_market.wyckoff_templates import SC_BAR

__all__ = [
    "ACCUMULATIONS",
    "DEMO_START",
    "DISTRIBUTIONS",
    "SC_BAR",
    "DemoMarketSummary",
    "load_watchlist",
    "synthetic_symbols",
    "write_demo_market",
]
