"""The price and volume simulation: GARCH returns, volume regimes, OHLC bars, splits, rounding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.special import ndtr

from kapman_resources.demo_market.streams import (
    GAPS,
    MARKET_OWNER,
    RETURNS,
    VOLUME,
    WICKS,
    stream,
    symbol_owner,
)
from kapman_resources.demo_market.universe import EARNINGS_EVERY
from kapman_resources.demo_market.wyckoff_templates import (
    FILLER_VOLUME_NOISE,
    STRUCTURE_UNIT,
    TEMPLATE_LENGTH,
    structure_bars,
)

CHUNK_TICKERS = 2048  # simulate this many tickers at once (bounds memory)
SESSIONS_PER_YEAR = 252  # annualization: vols and drifts are quoted per year of sessions

# --- market factor (an index-like GARCH(1,1)) ----------------------------------------------
MARKET_VOL = 0.16  # annualized
MARKET_DRIFT = 0.08  # annualized log drift
MARKET_GARCH_ALPHA = 0.08
MARKET_GARCH_PERSISTENCE = 0.98

# --- ticker returns -----------------------------------------------------------------------
IDIO_FLOOR = 0.3  # idiosyncratic vol >= this share of total vol
EPS_CLIP = 6.0  # GARCH feedback shocks clipped at this many idiosyncratic sigmas
MEAN_REVERSION = 0.003  # daily pull of the idiosyncratic part toward 0 (half-life ~230 days)
MIN_PRICE = 0.01  # economic price floor

# --- bars ---------------------------------------------------------------------------------
GAP_SHARE = 0.3  # share of the day's move that happens overnight
GAP_NOISE = 0.3  # extra overnight noise, in daily sigmas
WICK = 0.55  # mean wick beyond the body, in daily sigmas
WICK_CAP = 4.0  # exponential wick draws capped here
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

# --- illiquid, acquired and failing tickers ------------------------------------------------
ILLIQUID_WICK = 0.3
NO_TRADE_P = 0.15  # chance an illiquid ticker does not trade on a session
PIN_REVERSION = 0.3
PIN_VOL = 0.08  # pinned daily vol, in base daily sigmas
FAIL_DRIFT = 0.006  # daily log decline of a failing ticker


def market_factor(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily market log returns and conditional variances: GARCH(1,1) (Bollerslev 1986)."""
    z = stream(seed, MARKET_OWNER, RETURNS).standard_normal(n)
    var = (MARKET_VOL**2) / SESSIONS_PER_YEAR
    omega = var * (1 - MARKET_GARCH_PERSISTENCE)
    beta = MARKET_GARCH_PERSISTENCE - MARKET_GARCH_ALPHA
    h, eps, m, hs = var, 0.0, np.empty(n), np.empty(n)
    for t in range(n):
        h = omega + MARKET_GARCH_ALPHA * eps**2 + beta * h
        eps = np.sqrt(h) * z[t]
        m[t], hs[t] = MARKET_DRIFT / SESSIONS_PER_YEAR + eps, h
    return m, hs


def _ticker_draws(seed: int, symbols: Sequence[str], n: int) -> dict[str, np.ndarray]:
    """Per-ticker per-quantity draws over the sessions, as (n, tickers[, k]) arrays."""
    t = len(symbols)
    z, gz, w, vz = np.empty((t, n)), np.empty((t, n)), np.empty((t, n, 2)), np.empty((t, n, 4))
    for j, symbol in enumerate(symbols):
        owner = symbol_owner(symbol)
        z[j] = stream(seed, owner, RETURNS).standard_normal(n)
        gz[j] = stream(seed, owner, GAPS).standard_normal(n)
        w[j] = stream(seed, owner, WICKS).standard_exponential((n, 2))
        vz[j] = stream(seed, owner, VOLUME).standard_normal((n, 4))
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
    col["sig_d"] = col["sigma"] / np.sqrt(SESSIONS_PER_YEAR)
    idio_var = np.maximum(col["sigma"] ** 2 - (col["beta"] * MARKET_VOL) ** 2,
                          (IDIO_FLOOR * col["sigma"]) ** 2)  # fmt: skip
    col["idio"] = np.sqrt(idio_var / SESSIONS_PER_YEAR)
    col["mu_d"] = col["mu"] / SESSIONS_PER_YEAR
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
        ohlc, vmult = structure_bars(int(col["kind"][j]), length, z[rows, j], w[rows, j])
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


def simulate_market(
    specs: pd.DataFrame, splits: pd.DataFrame, seed: int, n: int
) -> dict[str, np.ndarray]:
    """Raw prints for every ticker and session, (n, tickers): the flat files' numbers."""
    market = market_factor(seed, n)
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
