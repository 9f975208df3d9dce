"""The ticker universe: symbols, per-ticker parameters, listings, delistings, halts and splits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtri

from kapman_resources.calendar import nyse_sessions
from kapman_resources.demo_market.streams import PARAMS, SYMBOLS_OWNER, stream, symbol_owner
from kapman_resources.demo_market.watchlist_specs import (
    ACCUMULATIONS,
    DISTRIBUTIONS,
    ETF_SPECS,
    WATCH_ACQUISITIONS,
    WATCH_KNOWN,
    WATCH_LISTINGS,
    WATCH_SPLITS,
)

# --- symbols and parameter draws ------------------------------------------------------------
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
SYNTH_DOLLAR_VOLUME, WATCH_DOLLAR_VOLUME = 1.5e7, 6.0e8  # medians of the log-normal base
SYNTH_DV_DISPERSION, WATCH_DV_DISPERSION = 1.6, 1.0
TRADE_SIZE = (40.0, 250.0)  # shares per trade, log-uniform
ETF_TRADE_SIZE = 150.0

# --- events (session offsets from start) ----------------------------------------------------
NEVER = 2**31 - 1
ILLIQUID_FRACTION = 0.02
ILLIQUID_FORCED = 2  # the first synthetic symbols drawn are always illiquid
ILLIQUID_SHARES = (200.0, 3000.0)  # base daily volume, log-uniform
ILLIQUID_TRADE_SIZE = 100.0
LISTING_FRACTION, LISTING_FIRST, LISTING_SPAN = 0.08, 5, 1200
DELISTING_FRACTION, DELISTING_MIN_LIFE, DELISTING_SPAN = 0.05, 60, 1400
ACQUIRED_SHARE = 0.5  # of synthetic delistings; the rest fail
ANNOUNCE_LEAD = 45  # sessions between a deal announcement and the last session
PREMIUM = (0.15, 0.45)  # deal premium (log)
FAIL_SESSIONS = 120
STRUCTURE_FRACTION = 0.08
ACCUMULATION_SHARE = 0.5  # of synthetic structures; the rest are distributions
STRUCTURE_LEAD, STRUCTURE_SPAN = 260, 1200  # >= 250 bars of history before a climax
SPLIT_FRACTION, SPLIT_MIN_PRICE, SPLIT_FIRST, SPLIT_SPAN = 0.015, 60.0, 20, 1400
TWO_FOR_ONE_SHARE = 0.6  # of forward splits; the rest are 3-for-1
REVERSE_SPLIT_FRACTION, REVERSE_SPLIT_MAX_PRICE = 0.25, 1.0
REVERSE_SPLIT = (10, 1)  # (split_from, split_to): 1-for-10
HALT_FRACTION, HALT_FIRST, HALT_SPAN, HALT_MIN, HALT_MAX = 0.005, 30, 1400, 2, 8
EARNINGS_EVERY = 63  # sessions between earnings (each ticker draws its phase)


def synthetic_symbols(count: int, seed: int, taken: Sequence[str]) -> list[str]:
    """`count` unique 1-5 letter symbols not in `taken`, in draw order (prefix-stable in count)."""
    rng = stream(seed, SYMBOLS_OWNER, 0)
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


def session_offset(day: dt.date, start: dt.date) -> int:
    """Session offset of `day` from `start` (negative before start; non-sessions round down)."""
    if day >= start:
        return len(nyse_sessions(start, day)) - 1
    return -len(nyse_sessions(day, start - dt.timedelta(days=1)))


def ticker_specs(
    symbols: list[str], watchlist: Sequence[str], seed: int, start: dt.date
) -> pd.DataFrame:
    """Per-ticker parameters and event schedule, from each ticker's parameter stream."""
    u = np.array([stream(seed, symbol_owner(s), PARAMS).random(PARAM_DRAWS) for s in symbols])
    p = dict(zip(PARAM_NAMES, u.T, strict=False))
    watch = np.isin(symbols, list(watchlist))
    etf = np.isin(symbols, list(ETF_SPECS))
    forced_illiquid = set(synthetic_symbols(ILLIQUID_FORCED, seed, watchlist))
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
            specs.loc[symbol, "first"] = max(0, session_offset(day, start))
    for symbol, day in WATCH_ACQUISITIONS.items():
        if symbol in present:
            last = session_offset(day, start)
            specs.loc[symbol, ["last", "announce"]] = [last, last - ANNOUNCE_LEAD]
    for kind, schedule in ((1, ACCUMULATIONS), (-1, DISTRIBUTIONS)):
        for symbol, offset in schedule.items():
            if symbol in present:
                specs.loc[symbol, ["kind", "struct_start"]] = [kind, offset]


def split_schedule(specs: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """Splits as (ticker, at = session offset, split_from, split_to): watchlist and random."""
    rows = [(s, session_offset(d, start), f, t) for s, d, f, t in WATCH_SPLITS if s in specs.index]
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
