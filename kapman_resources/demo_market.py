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
`n_tickers`. Files are written atomically and skipped when the content is unchanged.

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
  templates are shaped so the DOMAIN.md rules fire (climax volume 6.5x base, a spread of about
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
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from scipy.signal import lfilter
from scipy.special import ndtr, ndtri

from kapman_resources.calendar import NEW_YORK, last_completed_session, nyse_sessions
from kapman_resources.database import load_watchlist  # the one watchlist reader
from kapman_resources.flatfiles import DAY_AGGS_COLUMNS, day_aggs_key

DEMO_START = dt.date(2023, 1, 3)
REFERENCE_DIR = "reference"
HEADER = (",".join(DAY_AGGS_COLUMNS) + "\n").encode()

# --- files -------------------------------------------------------------------------------
GZIP_LEVEL = 2  # ~3x faster than level 6 on these files, for ~6% larger ones
WRITE_WORKERS = min(4, os.cpu_count() or 2)  # zlib and Arrow release the GIL
CHUNK_TICKERS = 2048  # simulate this many tickers at once (bounds memory)

# --- random streams: spawn_key = (owner, quantity); owner = symbol bytes as an int (>= 65) ---
MARKET_OWNER, SYMBOLS_OWNER = 0, 1
PARAMS, RETURNS, GAPS, WICKS, VOLUME = range(5)
PARAM_NAMES = (
    "price", "penny", "sigma", "beta", "mu", "garch_alpha", "garch_persistence",
    "dollar_volume", "trade_size", "earnings", "illiquid", "listing", "listing_at",
    "delisting", "delisting_at", "delisting_kind", "structure", "structure_kind",
    "structure_at", "split", "split_at", "split_kind", "halt", "halt_at", "halt_length",
    "premium", "exchange", "illiquid_volume",
)  # fmt: skip
PARAM_DRAWS = 32  # uniforms drawn per ticker (room to add parameters without reshuffling)
SYMBOL_CHUNK = 4096  # candidate symbols drawn at a time
SYMBOL_LENGTH_P = (0.004, 0.04, 0.30, 0.55, 0.106)  # P(1..5 letters)

# --- market factor (an index-like GARCH(1,1)) ----------------------------------------------
TRADING_DAYS = 252
MARKET_VOL = 0.16  # annualized
MARKET_DRIFT = 0.08  # annualized log drift
MARKET_GARCH_ALPHA = 0.08
MARKET_GARCH_PERSISTENCE = 0.98

# --- ticker parameters (annualized vols and drifts) ----------------------------------------
PENNY_FRACTION = 0.06
PENNY_PRICE = (0.15, 1.0)
SYNTH_PRICE = (2.0, 300.0)
WATCH_PRICE = (8.0, 250.0)
SYNTH_VOL_MEDIAN, WATCH_VOL_MEDIAN, VOL_DISPERSION = 0.45, 0.38, 0.40
PENNY_VOL_MULT = 1.5
VOL_BOUNDS = (0.12, 1.6)
SYNTH_BETA, WATCH_BETA = (0.3, 1.6), (0.6, 1.5)
SYNTH_DRIFT, WATCH_DRIFT, DRIFT_DISPERSION = 0.04, 0.10, 0.18
GARCH_ALPHA = (0.04, 0.12)
GARCH_PERSISTENCE = (0.93, 0.985)
IDIO_FLOOR = 0.3  # idiosyncratic vol >= this share of total vol
EPS_CLIP = 6.0  # GARCH feedback shocks clipped at this many idiosyncratic sigmas
MEAN_REVERSION = 0.003  # daily pull of the idiosyncratic part toward 0 (half-life ~230 days)
MIN_PRICE = 0.01  # economic price floor
SYNTH_DOLLAR_VOLUME, WATCH_DOLLAR_VOLUME = 1.5e7, 6.0e8  # medians of the log-normal base
SYNTH_DV_DISPERSION, WATCH_DV_DISPERSION = 1.6, 1.0
TRADE_SIZE = (40.0, 250.0)  # shares per trade, log-uniform
ETF_TRADE_SIZE = 150.0

# --- bars ---------------------------------------------------------------------------------
GAP_SHARE = 0.3  # share of the day's move that happens overnight
GAP_NOISE = 0.3  # extra overnight noise, in daily sigmas
WICK = 0.55  # mean wick beyond the body, in daily sigmas
WICK_CAP = 4.0  # exponential wick draws capped here
EARNINGS_EVERY = 63
EARNINGS_JUMP = 2.5  # earnings gap sd, in base daily sigmas
EARNINGS_GAP_SHARE = 0.9
IPO_WICK_MULT = 2.0
PENNY_BOUNDARY, DECIMALS, PENNY_DECIMALS = 1.0, 2, 4  # prints: 2 decimals, 4 below $1
PRICE_TICK_MIN = 0.0001

# --- volume -------------------------------------------------------------------------------
VOL_REGIME_PHI = 0.97  # AR(1) log-volume regime: sd = 0.08 / sqrt(1 - 0.97^2) = 0.33
VOL_REGIME_SIGMA = 0.08
VOL_NOISE = 0.25  # daily log-volume noise
VOL_SPIKE = 0.35  # log-volume added per daily sigma of |return| beyond 1
VOL_SPIKE_CAP = 2.0
EARNINGS_VOLUME = 1.1  # log-volume added on earnings days
IPO_VOLUME = 1.6
ANNOUNCE_VOLUME = 1.5
PINNED_VOLUME = 0.3
TRADE_NOISE = 0.2

# --- events -------------------------------------------------------------------------------
NEVER = 2**31 - 1
ILLIQUID_FRACTION = 0.02
ILLIQUID_FORCED = 2  # the first synthetic symbols drawn are always illiquid
ILLIQUID_SHARES = (200.0, 3000.0)  # base daily volume, log-uniform
ILLIQUID_TRADE_SIZE = 100.0
ILLIQUID_WICK = 0.3
NO_TRADE_P = 0.15  # chance an illiquid ticker does not trade on a session
LISTING_FRACTION, LISTING_FIRST, LISTING_SPAN = 0.08, 5, 1200
DELISTING_FRACTION, DELISTING_MIN_LIFE, DELISTING_SPAN = 0.05, 60, 1400
ACQUIRED_SHARE = 0.5  # of synthetic delistings; the rest fail
ANNOUNCE_LEAD = 45  # sessions between a deal announcement and the last session
PREMIUM = (0.15, 0.45)  # deal premium (log)
PIN_REVERSION = 0.3
PIN_VOL = 0.08  # pinned daily vol, in base daily sigmas
FAIL_SESSIONS = 120
FAIL_DRIFT = 0.006  # daily log decline of a failing ticker
STRUCTURE_FRACTION = 0.08
ACCUMULATION_SHARE = 0.5  # of synthetic structures; the rest are distributions
STRUCTURE_LEAD, STRUCTURE_SPAN = 260, 1200  # >= 250 bars of history before a climax
SPLIT_FRACTION, SPLIT_MIN_PRICE, SPLIT_FIRST, SPLIT_SPAN = 0.015, 60.0, 20, 1400
TWO_FOR_ONE_SHARE = 0.6  # of forward splits; the rest are 3-for-1
REVERSE_SPLIT_FRACTION, REVERSE_SPLIT_MAX_PRICE = 0.25, 1.0
REVERSE_SPLIT = (10, 1)  # (split_from, split_to): 1-for-10
HALT_FRACTION, HALT_FIRST, HALT_SPAN, HALT_MIN, HALT_MAX = 0.005, 30, 1400, 2, 8
NASDAQ_SHARE = 0.6  # of stocks; the rest list on NYSE

# --- watchlist (dates of real events; prices are synthetic) --------------------------------
WATCH_KNOWN = {  # symbol: (rough early-2023 price, annual vol)
    "AAPL": (125.0, 0.28), "MSFT": (240.0, 0.27), "NVDA": (143.0, 0.50), "AMZN": (85.0, 0.35),
    "GOOG": (89.0, 0.30), "META": (125.0, 0.40), "TSLA": (108.0, 0.60), "AMD": (64.0, 0.50),
    "AVGO": (560.0, 0.40), "NFLX": (295.0, 0.40), "CRM": (133.0, 0.35), "ADBE": (336.0, 0.35),
    "ORCL": (82.0, 0.30), "INTC": (26.0, 0.40), "QCOM": (110.0, 0.35), "TSM": (75.0, 0.35),
    "ASML": (545.0, 0.40), "PLTR": (6.4, 0.65), "SOFI": (4.9, 0.60), "SMCI": (82.0, 0.80),
    "CMG": (1400.0, 0.30), "WMT": (143.0, 0.18), "LLY": (360.0, 0.28), "XOM": (110.0, 0.25),
    "JNJ": (177.0, 0.16), "PG": (151.0, 0.16), "HD": (315.0, 0.22), "MCD": (264.0, 0.17),
    "IBM": (141.0, 0.22), "UBER": (25.0, 0.40), "CRWD": (105.0, 0.50), "NET": (40.0, 0.60),
    "GE": (66.0, 0.30), "GEV": (140.0, 0.45), "SPY": (380.0, 0.17), "QQQ": (261.0, 0.23),
    "GLD": (171.0, 0.14), "UVXY": (7.0, 0.85), "JNUG": (40.0, 0.95),
}  # fmt: skip
ETF_SPECS = {  # symbol: (annual vol, beta, annual drift, dollar volume)
    "SPY": (0.17, 1.0, 0.0, 3.0e10), "QQQ": (0.23, 1.2, 0.02, 1.5e10),
    "GLD": (0.14, 0.05, 0.06, 1.5e9), "UVXY": (0.85, -3.0, -0.45, 5.0e8),
    "JNUG": (0.95, 0.5, 0.0, 5.0e7), "LDSF": (0.04, 0.05, 0.03, 2.0e6),
}  # fmt: skip
ADRS = frozenset({"ASML", "BIDU", "TSM", "STM", "IFNNY"})
WATCH_LISTINGS = {"CORZ": dt.date(2024, 1, 24), "GEV": dt.date(2024, 4, 2)}
WATCH_ACQUISITIONS = {  # symbol: last trading session
    "WORK": dt.date(2021, 7, 20), "NEWR": dt.date(2023, 11, 7), "SWAV": dt.date(2024, 5, 30),
    "MTTR": dt.date(2025, 2, 28), "JNPR": dt.date(2025, 7, 1), "BPMC": dt.date(2025, 7, 17),
    "WBA": dt.date(2025, 8, 27),
}  # fmt: skip
WATCH_SPLITS = (  # (symbol, execution date, split_from, split_to)
    ("WMT", dt.date(2024, 2, 26), 1, 3), ("NVDA", dt.date(2024, 6, 10), 1, 10),
    ("CMG", dt.date(2024, 6, 26), 1, 50), ("AVGO", dt.date(2024, 7, 15), 1, 10),
    ("SMCI", dt.date(2024, 10, 1), 1, 10),
)  # fmt: skip
ACCUMULATIONS = {  # symbol: session offset of the structure's first bar (SC at + SC_BAR)
    "AAPL": 232, "AMD": 300, "PLTR": 400, "SOFI": 520, "CRWD": 640, "TSLA": 760, "NET": 860,
}  # fmt: skip
DISTRIBUTIONS = {  # symbol: session offset of the structure's first bar (BC at + SC_BAR)
    "META": 270, "NFLX": 350, "SMCI": 530, "AVGO": 580, "UBER": 700, "NVDA": 820,
}  # fmt: skip

# --- Wyckoff accumulation template, in units u = the daily sigma (clipped to 0.9%..5%) of log
# price relative to the close before the structure; distribution is its mirror image.
STRUCTURE_UNIT = (0.009, 0.05)
TEMPLATE_LENGTH = 90
SC_BAR, SOS_BAR = 20, 76  # the climax and the sign of strength (filler bars between stay inside)
CLOSE_WAYPOINTS = (
    (0, -0.5), (19, -12.0), (20, -14.0), (21, -12.6), (25, -8.2), (26, -9.5), (34, -15.5),
    (38, -12.0), (42, -10.0), (46, -12.5), (52, -15.3), (56, -11.5), (58, -10.5), (61, -14.8),
    (62, -15.6), (64, -15.7), (70, -12.0), (75, -9.0), (76, -6.0), (80, -7.0), (89, -3.0),
)  # fmt: skip
VOLUME_WAYPOINTS = (  # multiples of the ticker's base volume
    (0, 1.1), (19, 2.0), (20, 6.5), (21, 3.0), (25, 1.6), (26, 1.2), (33, 0.8), (34, 0.55),
    (38, 0.9), (42, 0.8), (46, 0.7), (52, 0.5), (56, 0.7), (61, 0.7), (62, 0.9), (63, 0.7),
    (64, 0.45), (65, 0.8), (75, 1.2), (76, 3.2), (77, 1.8), (80, 0.7), (89, 1.3),
)  # fmt: skip
KEY_BARS = {  # bar: (open, high, low, close)
    SC_BAR: (-12.3, -12.0, -16.5, -14.0),  # selling climax: wide, lowest low, 6.5x volume
    25: (-8.9, -7.8, -9.0, -8.2),  # automatic rally high (resistance)
    26: (-8.4, -8.2, -9.7, -9.5),  # closes below the AR bar's low: AR confirmed
    34: (-15.1, -14.9, -16.0, -15.5),  # secondary test, half the volume, narrow
    52: (-15.0, -14.8, -15.9, -15.3),  # second secondary test
    62: (-15.1, -15.0, -17.3, -15.6),  # spring: 0.8u under support, closes back inside
    64: (-15.6, -15.5, -16.3, -15.7),  # test of the spring on low volume
    SOS_BAR: (-8.8, -5.8, -9.0, -6.0),  # sign of strength: wide bar closing above resistance
}  # fmt: skip
FILLER_NOISE, FILLER_NOISE_CLIP = 0.1, 2.0  # close noise of non-key bars (u), clipped in sd
FILLER_GAP_SHARE = 0.25
FILLER_WICK, FILLER_WICK_BASE, FILLER_WICK_CAP = 0.35, 0.4, 2.5  # wick = 0.35 (0.4 + min(w, 2.5))
SUPPORT, RESISTANCE = -16.5, -7.8  # the SC low and the AR high
MARKDOWN_FLOOR = -15.7  # no markdown filler bar undercuts the SC's low by design
RANGE_MARGIN = 0.2  # range filler bars stay this far inside support and resistance
FILLER_VOLUME_NOISE = 0.1


@dataclass(frozen=True)
class DemoMarketSummary:
    """What one `write_demo_market` run did."""

    files_written: int
    files_skipped: int
    sessions: int
    tickers: int
    rows: int
    splits: int
    listed: tuple[str, ...]
    delisted: tuple[str, ...]
    seconds: float


def write_demo_market(
    root: Path,
    *,
    start: dt.date = DEMO_START,
    end: dt.date | None = None,
    n_tickers: int = 2000,
    seed: int = 7,
    watchlist: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoMarketSummary:
    """Write (or bring up to date) the demo flat-file mirror and reference files under root.

    The universe is the watchlist plus synthetic symbols up to `n_tickers` in total; `end`
    defaults to the last completed NYSE session; `progress(done, total)` is called after each
    session file (written or already up to date). (our design)
    """
    began = time.perf_counter()
    root = Path(root)
    end = end or last_completed_session()
    watch = list(dict.fromkeys(watchlist if watchlist is not None else load_watchlist()))
    sessions = nyse_sessions(start, end)
    n = len(sessions)
    if not n:
        return DemoMarketSummary(0, 0, 0, 0, 0, 0, (), (), time.perf_counter() - began)
    symbols = sorted(watch + _synthetic_symbols(max(0, n_tickers - len(watch)), seed, watch))
    specs = _ticker_specs(symbols, watch, seed, start)
    splits = _split_schedule(specs, start)
    bars = _simulate_market(specs, splits, seed, n)
    window_starts = pd.DatetimeIndex(sessions).tz_localize(NEW_YORK).asi8
    symbols_pa = pa.array(symbols, pa.string())

    def one(t: int) -> bool:
        data = _day_file(bars, t, symbols_pa, int(window_starts[t]))
        return _write_if_changed(root / day_aggs_key(sessions[t]), data)

    written = 0
    with ThreadPoolExecutor(max_workers=WRITE_WORKERS) as pool:
        for done, changed in enumerate(pool.map(one, range(n)), start=1):
            written += changed
            if progress:
                progress(done, n)
    tickers_doc, splits_doc = _reference_documents(specs, splits, sessions, start, end)
    for name, doc in (("tickers.json", tickers_doc), ("splits.json", splits_doc)):
        _write_if_changed(root / REFERENCE_DIR / name, (json.dumps(doc) + "\n").encode())
    present = bars["present"]
    first, last = specs["first"].to_numpy(), specs["last"].to_numpy()
    return DemoMarketSummary(
        files_written=written,
        files_skipped=n - written,
        sessions=n,
        tickers=int(present.any(axis=0).sum()),
        rows=int(present.sum()),
        splits=len(splits_doc["results"]),
        listed=tuple(s for s, f in zip(symbols, first, strict=True) if 0 < f < n),
        delisted=tuple(s for s, la in zip(symbols, last, strict=True) if 0 <= la < n - 1),
        seconds=time.perf_counter() - began,
    )


# --- universe -----------------------------------------------------------------------------
def _stream(seed: int, owner: int, quantity: int) -> np.random.Generator:
    """Child stream (owner, quantity) of SeedSequence(seed)."""
    sequence = np.random.SeedSequence(seed, spawn_key=(owner, quantity))
    return np.random.Generator(np.random.PCG64(sequence))


def _symbol_owner(symbol: str) -> int:
    """A ticker's stream key: its ASCII bytes as one integer (unique, >= 65)."""
    return int.from_bytes(symbol.encode(), "big")


def _synthetic_symbols(count: int, seed: int, taken: Sequence[str]) -> list[str]:
    """`count` unique 1-5 letter symbols not in `taken`, in draw order (prefix-stable in count)."""
    rng = _stream(seed, SYMBOLS_OWNER, 0)
    seen, out = set(taken), []
    while len(out) < count:
        lengths = rng.choice(len(SYMBOL_LENGTH_P), size=SYMBOL_CHUNK, p=SYMBOL_LENGTH_P) + 1
        letters = rng.integers(0, 26, size=(SYMBOL_CHUNK, 5)) + ord("A")
        for length, row in zip(lengths, letters, strict=True):
            symbol = bytes(row[:length].astype(np.uint8)).decode()
            if symbol not in seen:
                seen.add(symbol)
                out.append(symbol)
                if len(out) == count:
                    break
    return out


def _loguniform(u: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """Map uniforms to a log-uniform range."""
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    return np.exp(lo + (hi - lo) * u)


def _offset(day: dt.date, start: dt.date) -> int:
    """Session offset of `day` from `start` (negative before start; non-sessions round down)."""
    if day >= start:
        return len(nyse_sessions(start, day)) - 1
    return -len(nyse_sessions(day, start - dt.timedelta(days=1)))


def _ticker_specs(
    symbols: list[str], watchlist: Sequence[str], seed: int, start: dt.date
) -> pd.DataFrame:
    """Per-ticker parameters and event schedule, from each ticker's parameter stream."""
    u = np.array([_stream(seed, _symbol_owner(s), PARAMS).random(PARAM_DRAWS) for s in symbols])
    p = dict(zip(PARAM_NAMES, u.T, strict=False))
    watch = np.isin(symbols, list(watchlist))
    etf = np.isin(symbols, list(ETF_SPECS))
    forced_illiquid = set(_synthetic_symbols(ILLIQUID_FORCED, seed, watchlist))
    penny = ~watch & (p["penny"] < PENNY_FRACTION)
    price = np.where(
        penny,
        _loguniform(p["price"], PENNY_PRICE),
        np.where(watch, _loguniform(p["price"], WATCH_PRICE), _loguniform(p["price"], SYNTH_PRICE)),
    )
    vol_median = np.where(watch, WATCH_VOL_MEDIAN, SYNTH_VOL_MEDIAN)
    sigma = np.exp(np.log(vol_median) + VOL_DISPERSION * ndtri(p["sigma"]))
    sigma = np.clip(sigma * np.where(penny, PENNY_VOL_MULT, 1.0), *VOL_BOUNDS)
    beta_lo = np.where(watch, WATCH_BETA[0], SYNTH_BETA[0])
    beta_hi = np.where(watch, WATCH_BETA[1], SYNTH_BETA[1])
    beta = beta_lo + (beta_hi - beta_lo) * p["beta"]
    mu = np.where(watch, WATCH_DRIFT, SYNTH_DRIFT) + DRIFT_DISPERSION * ndtri(p["mu"])
    alpha = GARCH_ALPHA[0] + (GARCH_ALPHA[1] - GARCH_ALPHA[0]) * p["garch_alpha"]
    persistence = GARCH_PERSISTENCE[0] + np.diff(GARCH_PERSISTENCE)[0] * p["garch_persistence"]
    dollar_volume = np.exp(
        np.where(watch, np.log(WATCH_DOLLAR_VOLUME), np.log(SYNTH_DOLLAR_VOLUME))
        + np.where(watch, WATCH_DV_DISPERSION, SYNTH_DV_DISPERSION) * ndtri(p["dollar_volume"])
    )
    trade_size = np.where(etf, ETF_TRADE_SIZE, _loguniform(p["trade_size"], TRADE_SIZE))
    earnings = np.where(etf, -1, np.floor(p["earnings"] * EARNINGS_EVERY)).astype(np.int64)
    forced = np.isin(symbols, list(forced_illiquid))
    illiquid = ~watch & ((p["illiquid"] < ILLIQUID_FRACTION) | forced)

    first = np.where(
        ~watch & (p["listing"] < LISTING_FRACTION),
        LISTING_FIRST + np.floor(p["listing_at"] * LISTING_SPAN),
        0,
    ).astype(np.int64)
    alive_from = np.maximum(first, 0)
    delists = ~watch & (p["delisting"] < DELISTING_FRACTION)
    last = np.where(
        delists,
        alive_from + DELISTING_MIN_LIFE + np.floor(p["delisting_at"] * DELISTING_SPAN),
        NEVER,
    ).astype(np.int64)
    acquired = delists & (p["delisting_kind"] < ACQUIRED_SHARE)
    announce = np.where(acquired, last - ANNOUNCE_LEAD, NEVER).astype(np.int64)
    fail_from = np.where(delists & ~acquired, last - FAIL_SESSIONS, NEVER).astype(np.int64)
    structured = ~watch & ~illiquid & (p["structure"] < STRUCTURE_FRACTION)
    accumulates = p["structure_kind"] < ACCUMULATION_SHARE
    kind = np.where(structured, np.where(accumulates, 1, -1), 0).astype(np.int64)
    struct_at = alive_from + STRUCTURE_LEAD + np.floor(p["structure_at"] * STRUCTURE_SPAN)
    struct_start = np.where(structured, struct_at, NEVER).astype(np.int64)
    halted = ~watch & (p["halt"] < HALT_FRACTION)
    halt_start = np.where(
        halted, alive_from + HALT_FIRST + np.floor(p["halt_at"] * HALT_SPAN), NEVER
    ).astype(np.int64)
    length = HALT_MIN + np.floor(p["halt_length"] * (HALT_MAX - HALT_MIN + 1))
    halt_length = np.where(halted, length, 0).astype(np.int64)
    specs = pd.DataFrame(
        {
            "watch": watch, "etf": etf, "price": price, "sigma": sigma, "beta": beta, "mu": mu,
            "alpha": alpha, "persistence": persistence, "volume": dollar_volume / price,
            "trade_size": trade_size, "earnings": earnings, "illiquid": illiquid,
            "first": first, "last": last, "announce": announce, "fail_from": fail_from,
            "premium": PREMIUM[0] + (PREMIUM[1] - PREMIUM[0]) * p["premium"],
            "kind": kind, "struct_start": struct_start, "halt_start": halt_start,
            "halt_length": halt_length, "penny": penny,
            "split_u": p["split"], "split_at": p["split_at"], "split_kind": p["split_kind"],
            "exchange_u": p["exchange"],
        },
        index=pd.Index(symbols, name="ticker"),
    )  # fmt: skip
    specs.loc[illiquid, "volume"] = _loguniform(p["illiquid_volume"][illiquid], ILLIQUID_SHARES)
    specs.loc[illiquid, "trade_size"] = ILLIQUID_TRADE_SIZE
    _apply_watchlist_overrides(specs, start)
    return specs


def _apply_watchlist_overrides(specs: pd.DataFrame, start: dt.date) -> None:
    """Real-world start levels, ETF parameters, listings, acquisitions and structures."""
    present = specs.index
    for symbol, (price, sigma) in WATCH_KNOWN.items():
        if symbol in present:
            specs.loc[symbol, ["price", "sigma"]] = [price, sigma]
    for symbol, (sigma, beta, mu, dollar_volume) in ETF_SPECS.items():
        if symbol in present:
            price = specs.loc[symbol, "price"]
            values = [sigma, beta, mu, dollar_volume / price]
            specs.loc[symbol, ["sigma", "beta", "mu", "volume"]] = values
    for symbol, day in WATCH_LISTINGS.items():
        if symbol in present:
            specs.loc[symbol, "first"] = max(0, _offset(day, start))
    for symbol, day in WATCH_ACQUISITIONS.items():
        if symbol in present:
            last = _offset(day, start)
            specs.loc[symbol, ["last", "announce"]] = [last, last - ANNOUNCE_LEAD]
    for kind, schedule in ((1, ACCUMULATIONS), (-1, DISTRIBUTIONS)):
        for symbol, offset in schedule.items():
            if symbol in present:
                specs.loc[symbol, ["kind", "struct_start"]] = [kind, offset]


def _split_schedule(specs: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """Splits as (ticker, at = session offset, split_from, split_to): watchlist and random."""
    rows = [(s, _offset(d, start), f, t) for s, d, f, t in WATCH_SPLITS if s in specs.index]
    synth = specs[~specs["watch"] & ~specs["illiquid"]]
    at = np.maximum(synth["first"], 0) + SPLIT_FIRST + np.floor(synth["split_at"] * SPLIT_SPAN)
    trading = at <= synth["last"]
    forward = trading & (synth["split_u"] < SPLIT_FRACTION) & (synth["price"] > SPLIT_MIN_PRICE)
    reverse = (
        trading
        & (synth["split_u"] < REVERSE_SPLIT_FRACTION)
        & (synth["price"] < REVERSE_SPLIT_MAX_PRICE)
    )
    for symbol in synth.index[forward]:
        ratio = 2 if synth.loc[symbol, "split_kind"] < TWO_FOR_ONE_SHARE else 3
        rows.append((symbol, int(at[symbol]), 1, ratio))
    for symbol in synth.index[reverse]:
        rows.append((symbol, int(at[symbol]), *REVERSE_SPLIT))
    return pd.DataFrame(rows, columns=["ticker", "at", "split_from", "split_to"])


# --- simulation ---------------------------------------------------------------------------
def _market_factor(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily market log returns and conditional variances: GARCH(1,1) (Bollerslev 1986)."""
    z = _stream(seed, MARKET_OWNER, RETURNS).standard_normal(n)
    var = (MARKET_VOL**2) / TRADING_DAYS
    omega = var * (1 - MARKET_GARCH_PERSISTENCE)
    beta = MARKET_GARCH_PERSISTENCE - MARKET_GARCH_ALPHA
    h, eps, m, hs = var, 0.0, np.empty(n), np.empty(n)
    for t in range(n):
        h = omega + MARKET_GARCH_ALPHA * eps**2 + beta * h
        eps = np.sqrt(h) * z[t]
        m[t], hs[t] = MARKET_DRIFT / TRADING_DAYS + eps, h
    return m, hs


@lru_cache(maxsize=1)
def _template() -> dict[str, np.ndarray]:
    """The accumulation template (u units): open/high/low/close, volume, key-bar mask."""
    k = np.arange(TEMPLATE_LENGTH)
    close = np.interp(k, *zip(*CLOSE_WAYPOINTS, strict=True))
    volume = np.interp(k, *zip(*VOLUME_WAYPOINTS, strict=True))
    ohlc = np.full((TEMPLATE_LENGTH, 4), np.nan)
    for bar, values in KEY_BARS.items():
        ohlc[bar] = values
        close[bar] = values[3]
    return {"ohlc": ohlc, "close": close, "volume": volume, "key": ~np.isnan(ohlc[:, 0])}


def _structure_bars(
    kind: int, length: int, z: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One structure's (length, 4) OHLC offsets (u units) and volume multiples; kind -1 mirrors."""
    tpl = _template()
    key = tpl["key"][:length]
    close = tpl["close"][:length] + np.where(
        key, 0.0, FILLER_NOISE * np.clip(z, -FILLER_NOISE_CLIP, FILLER_NOISE_CLIP)
    )
    prev = np.concatenate([[0.0], close[:-1]])
    open_ = prev + FILLER_GAP_SHARE * (close - prev)
    wick = FILLER_WICK * (FILLER_WICK_BASE + np.minimum(w, FILLER_WICK_CAP))
    k = np.arange(length)
    in_range = (k > SC_BAR) & (k < SOS_BAR)
    floor = np.where(in_range, SUPPORT + RANGE_MARGIN, -np.inf)
    floor = np.where(k < SC_BAR, MARKDOWN_FLOOR, floor)
    ceiling = np.where(in_range, RESISTANCE - RANGE_MARGIN, np.inf)
    high = np.minimum(np.maximum(open_, close) + wick[:, 0], ceiling)
    low = np.maximum(np.minimum(open_, close) - wick[:, 1], floor)
    ohlc = np.where(key[:, None], tpl["ohlc"][:length], np.column_stack([open_, high, low, close]))
    if kind < 0:
        ohlc = -ohlc[:, [0, 2, 1, 3]]
    return ohlc, tpl["volume"][:length]


def _ticker_draws(seed: int, symbols: Sequence[str], n: int) -> dict[str, np.ndarray]:
    """Per-ticker per-quantity draws over the sessions, as (n, tickers[, k]) arrays."""
    t = len(symbols)
    z, gz, w, vz = np.empty((t, n)), np.empty((t, n)), np.empty((t, n, 2)), np.empty((t, n, 4))
    for j, symbol in enumerate(symbols):
        owner = _symbol_owner(symbol)
        z[j] = _stream(seed, owner, RETURNS).standard_normal(n)
        gz[j] = _stream(seed, owner, GAPS).standard_normal(n)
        w[j] = _stream(seed, owner, WICKS).standard_exponential((n, 2))
        vz[j] = _stream(seed, owner, VOLUME).standard_normal((n, 4))
    return {
        "z": np.ascontiguousarray(z.T),
        "gz": np.ascontiguousarray(gz.T),
        "w": np.ascontiguousarray(w.transpose(1, 0, 2)),
        "vz": np.ascontiguousarray(vz.transpose(1, 0, 2)),
    }


def _log_closes(
    col: dict[str, np.ndarray],
    z: np.ndarray,
    extra: np.ndarray,
    trend: np.ndarray,
    scripted: np.ndarray,
    m: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Causal recursion over sessions: log closes, idiosyncratic GARCH variances, anchors.

    GARCH(1,1) (Bollerslev 1986) drives an Ornstein-Uhlenbeck idiosyncratic part around the
    trend; acquired tickers jump by the premium at the announcement and are pinned after it;
    scripted structure bars replace the close by anchor + offset. (our design)
    """
    n, k = z.shape
    idio, alpha, persistence = col["idio"], col["alpha"], col["persistence"]
    gbeta, omega = persistence - alpha, idio**2 * (1 - persistence)
    acq = np.flatnonzero(col["announce"] < n)
    announce, premium = col["announce"][acq], col["premium"][acq]
    pin_vol = PIN_VOL * col["sig_d"][acq]
    starts = [np.flatnonzero(col["struct_start"] == t) for t in range(n)]
    script_cols = [np.flatnonzero(~np.isnan(row)) for row in scripted]
    x, y, h, eps = col["x0"].copy(), np.zeros(k), idio**2, np.zeros(k)
    anchor, target = col["x0"].copy(), col["x0"][acq].copy()
    xc, hs = np.empty((n, k)), np.empty((n, k))
    log_floor = np.log(MIN_PRICE)
    decay = 1 - MEAN_REVERSION
    for t in range(n):
        h = omega + alpha * eps * eps + gbeta * h
        eps = np.sqrt(h) * z[t] + extra[t]
        y = decay * y + eps
        x_new = trend[t] + y
        if acq.size:
            xa = x[acq]
            target = np.where(announce == t, xa + premium, target)
            pinned = xa + PIN_REVERSION * (target - xa) + pin_vol * z[t, acq]
            x_new[acq] = np.where(announce == t, target, np.where(announce < t, pinned, x_new[acq]))
        anchor[starts[t]] = x[starts[t]]
        cols = script_cols[t]
        x_new[cols] = anchor[cols] + scripted[t, cols]
        np.maximum(x_new, log_floor, out=x_new)
        over = np.union1d(acq, cols)
        realized = x_new[over] - x[over] - col["mu_d"][over] - col["beta"][over] * m[t]
        eps[over] = np.clip(realized, -EPS_CLIP * idio[over], EPS_CLIP * idio[over])
        y[over] = x_new[over] - trend[t, over]
        x = x_new
        xc[t], hs[t] = x, h
    return xc, hs, anchor


def _simulate_chunk(
    specs: pd.DataFrame, seed: int, market: tuple[np.ndarray, np.ndarray], n: int
) -> dict[str, np.ndarray]:
    """Economic (pre-split) OHLCV, transactions and presence, (n, tickers), for one chunk."""
    d = _ticker_draws(seed, list(specs.index), n)
    z, gz, w, vz = d["z"], d["gz"], d["w"], d["vz"]
    col = {c: specs[c].to_numpy() for c in specs.columns}
    m, hm = market
    col["sig_d"] = col["sigma"] / np.sqrt(TRADING_DAYS)
    idio_var = np.maximum(col["sigma"] ** 2 - (col["beta"] * MARKET_VOL) ** 2,
                          (IDIO_FLOOR * col["sigma"]) ** 2)  # fmt: skip
    col["idio"] = np.sqrt(idio_var / TRADING_DAYS)
    col["mu_d"] = col["mu"] / TRADING_DAYS
    col["x0"] = np.log(col["price"])
    steps = np.arange(n)[:, None]
    earn = (col["earnings"] >= 0) & (steps % EARNINGS_EVERY == col["earnings"]) & (steps > 0)
    extra = np.where(earn, EARNINGS_JUMP * col["sig_d"] * gz, 0.0)
    extra -= FAIL_DRIFT * (steps >= col["fail_from"])
    trend = col["x0"] + col["mu_d"] * (steps + 1) + col["beta"] * np.cumsum(m)[:, None]
    unit = np.clip(col["sig_d"], *STRUCTURE_UNIT)

    scripted = np.full((n, len(specs)), np.nan)
    structures = []
    for j in np.flatnonzero(col["kind"] != 0):
        s0 = int(col["struct_start"][j])
        length = min(TEMPLATE_LENGTH, n - s0)
        if s0 < 1 or length <= 0:
            continue
        rows = slice(s0, s0 + length)
        ohlc, vmult = _structure_bars(int(col["kind"][j]), length, z[rows, j], w[rows, j])
        scripted[rows, j] = unit[j] * ohlc[:, 3]
        structures.append((j, rows, ohlc, vmult))

    xc, hs, anchor = _log_closes(col, z, extra, trend, scripted, m)
    pinned = steps > col["announce"]
    sig = np.where(pinned, PIN_VOL * col["sig_d"], np.sqrt(hs + col["beta"] ** 2 * hm[:, None]))
    prev = np.vstack([col["x0"][None, :], xc[:-1]])
    r = xc - prev
    gap = np.where(earn, EARNINGS_GAP_SHARE * r, GAP_SHARE * r + GAP_NOISE * sig * gz)
    xo = prev + gap
    ipo = (steps == col["first"]) & (col["first"] > 0)
    wick = WICK * sig * np.where(col["illiquid"], ILLIQUID_WICK, 1.0)
    wick *= np.where(ipo, IPO_WICK_MULT, 1.0)
    xh = np.maximum(xo, xc) + wick * np.minimum(w[..., 0], WICK_CAP)
    xl = np.minimum(xo, xc) - wick * np.minimum(w[..., 1], WICK_CAP)

    regime = lfilter([VOL_REGIME_SIGMA], [1.0, -VOL_REGIME_PHI], vz[..., 0], axis=0)
    spike = np.clip(VOL_SPIKE * (np.abs(r) / sig - 1.0), 0.0, VOL_SPIKE_CAP)
    log_base = np.log(col["volume"])
    lv = (
        log_base + regime + VOL_NOISE * vz[..., 1] + spike + EARNINGS_VOLUME * earn
        + IPO_VOLUME * ipo + ANNOUNCE_VOLUME * (steps == col["announce"]) + PINNED_VOLUME * pinned
    )  # fmt: skip
    for j, rows, ohlc, vmult in structures:
        xo[rows, j], xh[rows, j], xl[rows, j] = (anchor[j] + unit[j] * ohlc[:, i] for i in range(3))
        lv[rows, j] = (
            log_base[j] + np.maximum(regime[rows, j], 0.0) + np.log(vmult)
            + FILLER_VOLUME_NOISE * vz[rows, j, 1]
        )  # fmt: skip
    volume = np.rint(np.exp(lv))
    no_trade = col["illiquid"] & (ndtr(vz[..., 3]) < NO_TRADE_P) & ~ipo
    volume[no_trade] = 0.0
    trades = np.rint(volume / (col["trade_size"] * np.exp(TRADE_NOISE * vz[..., 2])))
    trades = np.where(volume > 0, np.clip(trades, 1, volume), 0.0)
    halt = (steps >= col["halt_start"]) & (steps < col["halt_start"] + col["halt_length"])
    present = (steps >= col["first"]) & (steps <= col["last"]) & ~halt
    return {
        "open": np.exp(xo), "high": np.exp(xh), "low": np.exp(xl), "close": np.exp(xc),
        "volume": volume, "transactions": trades, "present": present,
    }  # fmt: skip


def _simulate_market(
    specs: pd.DataFrame, splits: pd.DataFrame, seed: int, n: int
) -> dict[str, np.ndarray]:
    """Raw prints for every ticker and session, (n, tickers): the flat files' numbers."""
    market = _market_factor(seed, n)
    names = ("open", "high", "low", "close", "volume", "transactions", "present")
    shape = (n, len(specs))
    bars = {k: np.empty(shape, bool if k == "present" else float) for k in names}
    for lo in range(0, len(specs), CHUNK_TICKERS):
        chunk = _simulate_chunk(specs.iloc[lo : lo + CHUNK_TICKERS], seed, market, n)
        for k in names:
            bars[k][:, lo : lo + CHUNK_TICKERS] = chunk[k]
    position = {s: j for j, s in enumerate(specs.index)}
    for row in splits.itertuples(index=False):
        if 0 < row.at < n:
            ratio = row.split_to / row.split_from
            j = position[row.ticker]
            for k in ("open", "high", "low", "close"):
                bars[k][row.at :, j] /= ratio
            bars["volume"][row.at :, j] = np.rint(bars["volume"][row.at :, j] * ratio)
    _flatten_thin_days(bars, specs["illiquid"].to_numpy())
    for k in ("open", "high", "low", "close"):
        bars[k] = _round_price(bars[k])
    bars["volume"] = bars["volume"].astype(np.int64)
    bars["transactions"] = bars["transactions"].astype(np.int64)
    return bars


def _flatten_thin_days(bars: dict[str, np.ndarray], illiquid: np.ndarray) -> None:
    """No-trade days print the last traded close (volume 0); one-trade days print O=H=L=C."""
    cols = np.flatnonzero(illiquid)
    if not len(cols):
        return
    close = bars["close"][:, cols]
    traded = pd.DataFrame(np.where(bars["volume"][:, cols] > 0, close, np.nan))
    last_traded = traded.ffill().to_numpy()
    flat = np.where(np.isnan(last_traded), close, last_traded)
    single = bars["transactions"][:, cols] <= 1
    for k in ("open", "high", "low", "close"):
        bars[k][:, cols] = np.where(single, flat, bars[k][:, cols])


def _round_price(p: np.ndarray) -> np.ndarray:
    """Prices as printed: 2 decimals, 4 below $1, never below $0.0001 (monotone rounding)."""
    rounded = np.where(p >= PENNY_BOUNDARY, np.round(p, DECIMALS), np.round(p, PENNY_DECIMALS))
    return np.maximum(rounded, PRICE_TICK_MIN)


# --- files --------------------------------------------------------------------------------
def _day_file(bars: dict[str, np.ndarray], t: int, symbols: pa.Array, window_start: int) -> bytes:
    """One session's gzip CSV in the flat-file format (rows in symbol order)."""
    mask = bars["present"][t]
    k = int(mask.sum())
    columns = {
        "ticker": symbols.filter(pa.array(mask)),
        "volume": pa.array(bars["volume"][t, mask]),
        "open": pa.array(bars["open"][t, mask]),
        "close": pa.array(bars["close"][t, mask]),
        "high": pa.array(bars["high"][t, mask]),
        "low": pa.array(bars["low"][t, mask]),
        "window_start": pa.array(np.full(k, window_start, np.int64)),
        "transactions": pa.array(bars["transactions"][t, mask]),
    }
    buf = io.BytesIO()
    buf.write(HEADER)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    table = pa.table([columns[c] for c in DAY_AGGS_COLUMNS], names=list(DAY_AGGS_COLUMNS))
    pacsv.write_csv(table, buf, options)
    return gzip.compress(buf.getvalue(), compresslevel=GZIP_LEVEL, mtime=0)


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically write `data` unless the file already holds exactly it; True if written."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def _reference_documents(
    specs: pd.DataFrame,
    splits: pd.DataFrame,
    sessions: list[dt.date],
    start: dt.date,
    end: dt.date,
) -> tuple[dict, dict]:
    """`/v3/reference/tickers` and `/v3/reference/splits` responses as of `end`."""
    n = len(sessions)
    stamp = f"{end.isoformat()}T00:00:00Z"
    results = []
    for symbol, row in specs.iterrows():
        if row["first"] >= n:
            continue  # not listed yet
        active = bool(row["last"] >= n - 1)
        kind = "ETF" if row["etf"] else "ADRC" if symbol in ADRS else "CS"
        nasdaq = row["exchange_u"] < NASDAQ_SHARE
        item = {
            "ticker": symbol,
            "name": f"{symbol} Demo ETF" if row["etf"] else f"{symbol.title()} Demo Corp.",
            "market": "stocks",
            "locale": "us",
            "primary_exchange": "ARCX" if row["etf"] else "XNAS" if nasdaq else "XNYS",
            "type": kind,
            "active": active,
            "currency_name": "usd",
            "last_updated_utc": stamp,
        }
        if not active:
            last_day = _last_trading_day(symbol, int(row["last"]), sessions)
            item["delisted_utc"] = f"{(last_day + dt.timedelta(days=1)).isoformat()}T05:00:00Z"
        results.append(item)
    listed = {r["ticker"] for r in results}
    split_rows = []
    for row in splits.sort_values(["ticker", "at"]).itertuples(index=False):
        if row.at >= n or row.ticker not in listed:
            continue
        day = sessions[row.at] if row.at >= 0 else _watch_split_day(row.ticker, start)
        split_rows.append({
            "id": f"demo-{row.ticker}-{day.isoformat()}",
            "execution_date": day.isoformat(),
            "split_from": int(row.split_from),
            "split_to": int(row.split_to),
            "ticker": row.ticker,
        })  # fmt: skip
    tickers_doc = {"results": results, "status": "OK", "request_id": "demo", "count": len(results)}
    splits_doc = {
        "results": split_rows, "status": "OK", "request_id": "demo", "count": len(split_rows)
    }  # fmt: skip
    return tickers_doc, splits_doc


def _last_trading_day(symbol: str, last: int, sessions: list[dt.date]) -> dt.date:
    """The last session a delisted ticker traded (a real date when before the window)."""
    return sessions[last] if last >= 0 else WATCH_ACQUISITIONS[symbol]


def _watch_split_day(symbol: str, start: dt.date) -> dt.date:
    """Execution date of a watchlist split that predates the window."""
    return next(d for s, d, _, _ in WATCH_SPLITS if s == symbol and d < start)
