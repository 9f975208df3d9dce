"""Signal edge: the event study on the stored universe (docs/domain.md, "Signal edge"; our design).

For each event and signal at bar t on the liquid part of the universe (close >= $5 and
ADV$20 >= $10M at t), the forward return of the split-adjusted close over h = 5/10/20/40
sessions; count, mean, median, hit rate (share > 0), and the excess over the unconditional
rates of the same tickers in the same window (every liquid bar of those tickers whose horizon
ended). Walk-forward: on session D only bars with t + h <= D count. The CI of the excess mean
is a circular moving-block bootstrap over sessions (block = max(h, 5)): a session's events and
base bars move together, so same-day events are not counted as independent. No CI with fewer
than 5 events or fewer than two blocks of sessions (one block would be every resample).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .forecast_scoring import block_resample_sums

HORIZONS = (5, 10, 20, 40)
LIQUID_MIN_CLOSE = 5.0
LIQUID_MIN_ADV_DOLLARS = 10e6
ADV_WINDOW = 20
MIN_BLOCK = 5
N_BOOT = 500
SEED = 7
MIN_EVENTS_FOR_CI = 5
EDGE_COLUMNS = (
    "kind", "name", "horizon", "n", "sessions", "mean_return", "median_return", "hit_rate",
    "base_n", "base_mean_return", "base_hit_rate", "excess_return", "excess_hit_rate",
    "excess_ci_lo", "excess_ci_hi", "window_start", "window_end",
)  # fmt: skip


def liquid(ticker: pd.Series, close: pd.Series, volume: pd.Series) -> pd.Series:
    """close >= $5 and ADV$20 (mean close x volume of the last 20 bars) >= $10M at the bar;
    rows in date order within each ticker."""
    adv = (
        (close * volume)
        .groupby(ticker, sort=False)
        .transform(lambda s: s.rolling(ADV_WINDOW, min_periods=ADV_WINDOW).mean())
    )
    return (close >= LIQUID_MIN_CLOSE) & (adv >= LIQUID_MIN_ADV_DOLLARS)


def forward_returns(bars: pd.DataFrame, horizons=HORIZONS) -> pd.DataFrame:
    """Per (ticker, date): liquid flag, session index and close_{t+h}/close_t - 1 per horizon.

    bars: ticker, date, close (split-adjusted), volume; one row per stored session per ticker.
    """
    b = bars.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    g = b.groupby("ticker", sort=False)
    out = b.loc[:, ["ticker", "date"]].copy()
    out["liquid"] = liquid(b["ticker"], b["close"], b["volume"])
    for h in horizons:
        out[f"ret_{h}"] = g["close"].shift(-h) / b["close"] - 1.0
        out[f"end_{h}"] = g["date"].shift(-h)
    return out


def _per_session(frame: pd.DataFrame, col: str, sessions: pd.Index) -> tuple[np.ndarray, ...]:
    grouped = frame.groupby("date")[col]
    sums = grouped.sum().reindex(sessions, fill_value=0.0).to_numpy(float)
    counts = grouped.count().reindex(sessions, fill_value=0).to_numpy(float)
    hits = frame.assign(_hit=frame[col] > 0).groupby("date")["_hit"].sum()
    return sums, counts, hits.reindex(sessions, fill_value=0).to_numpy(float)


def edge_table(
    returns: pd.DataFrame, marks: pd.DataFrame, as_of: pd.Timestamp, horizons=HORIZONS
) -> pd.DataFrame:
    """EDGE_COLUMNS rows per (kind, name, horizon) from `marks` (ticker, date, kind, name: an
    event code or a signal per ticker-day) joined to `returns`, walk-forward as of `as_of`."""
    as_of = pd.Timestamp(as_of)
    liquid = returns[returns["liquid"]]
    joined = marks.merge(liquid, on=["ticker", "date"], how="inner")
    rows = []
    for (kind, name), events in joined.groupby(["kind", "name"], sort=True):
        for h in horizons:
            ret, end = f"ret_{h}", f"end_{h}"
            ev = events[events[end].notna() & (events[end] <= as_of) & events[ret].notna()]
            # the base: the tickers whose events count as of as_of (none that only came later)
            base = liquid[liquid["ticker"].isin(ev["ticker"].unique()) & liquid[end].notna()
                          & (liquid[end] <= as_of) & liquid[ret].notna()]  # fmt: skip
            if ev.empty or base.empty:
                continue
            sessions = pd.Index(np.sort(base["date"].unique()))
            ev_s, base_s = _per_session(ev, ret, sessions), _per_session(base, ret, sessions)
            lo, hi = _ci(np.vstack(ev_s), np.vstack(base_s), max(h, MIN_BLOCK))
            mean, base_mean = float(ev[ret].mean()), float(base[ret].mean())
            hit, base_hit = float((ev[ret] > 0).mean()), float((base[ret] > 0).mean())
            rows.append({
                "kind": kind, "name": name, "horizon": h, "n": len(ev),
                "sessions": int(ev["date"].nunique()), "mean_return": mean,
                "median_return": float(ev[ret].median()), "hit_rate": hit,
                "base_n": len(base), "base_mean_return": base_mean, "base_hit_rate": base_hit,
                "excess_return": mean - base_mean, "excess_hit_rate": hit - base_hit,
                "excess_ci_lo": lo, "excess_ci_hi": hi,
                "window_start": base["date"].min(), "window_end": base[end].max(),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=list(EDGE_COLUMNS))


def _ci(ev: np.ndarray, base: np.ndarray, block: int) -> tuple[float, float]:
    """95% CI of mean(events) - mean(base) by session blocks; rows of ev/base: sums, counts."""
    n = ev.shape[1]
    if n < 2 * block or ev[1].sum() < MIN_EVENTS_FOR_CI:  # one block would be every session
        return (float("nan"), float("nan"))
    sums = block_resample_sums(np.vstack([ev[:2], base[:2]]), block, N_BOOT, SEED)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = sums[0] / sums[1] - sums[2] / sums[3]
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(stats, [0.025, 0.975])
    return (float(lo), float(hi))


def edge_tables(
    returns: pd.DataFrame, marks: pd.DataFrame, as_of_dates, horizons=HORIZONS
) -> pd.DataFrame:
    """`edge_table` as of each of `as_of_dates` (column `date`), in one pass: per-session sums
    are built once per (kind, name, horizon) and each as-of date takes the sessions whose
    horizon had ended. The same figures as `edge_table` up to the bootstrap's summation order
    (tested), and the median; fast enough for 26 weeks of the whole liquid universe."""
    liquid_rows = returns[returns["liquid"]].reset_index(drop=True)
    sessions = pd.Index(np.sort(returns["date"].unique()))
    s_idx = sessions.get_indexer(liquid_rows["date"])
    tickers = pd.Index(np.sort(liquid_rows["ticker"].unique()))
    t_idx = tickers.get_indexer(liquid_rows["ticker"])
    as_of = sorted(pd.Timestamp(d) for d in as_of_dates)
    # the last stored session on or before each as-of date
    d_idx = [int(sessions.searchsorted(d, side="right")) - 1 for d in as_of]
    joined = marks.merge(liquid_rows.assign(_row=np.arange(len(liquid_rows))),
                         on=["ticker", "date"], how="inner")  # fmt: skip
    out = []
    for h in horizons:
        ret = liquid_rows[f"ret_{h}"].to_numpy(float)
        end = sessions.get_indexer(liquid_rows[f"end_{h}"])
        ok = np.isfinite(ret) & (end >= 0)
        # rows ending h sessions on count as of d exactly when they start by d - h: per ticker
        # and start session sums; rows whose ticker skipped a session ("late") are kept apart
        on_time = ok & (end == s_idx + h)
        late = np.flatnonzero(ok & ~on_time)
        per = np.zeros((len(tickers), 3, len(sessions)))
        np.add.at(per, (t_idx[on_time], 0, s_idx[on_time]), ret[on_time])
        np.add.at(per, (t_idx[on_time], 1, s_idx[on_time]), 1.0)
        np.add.at(per, (t_idx[on_time], 2, s_idx[on_time]), (ret[on_time] > 0).astype(float))
        for (kind, name), events in joined.groupby(["kind", "name"], sort=True):
            rows = events["_row"].to_numpy()
            rows = rows[ok[rows]]
            if rows.size == 0:
                continue
            ev_t, ev_s, ev_end = t_idx[rows], s_idx[rows], end[rows]
            first_end = pd.Series(ev_end).groupby(ev_t).min().sort_values(kind="stable")
            order, entry = first_end.index.to_numpy(), first_end.to_numpy()
            acc, added = np.zeros((3, len(sessions))), 0
            for d_date, d in zip(as_of, d_idx, strict=True):
                counted = ev_end <= d
                if d < 0 or not counted.any():
                    continue
                upto = int(np.searchsorted(entry, d, side="right"))  # tickers with an event
                if upto > added:
                    acc += per[order[added:upto]].sum(axis=0)
                    added = upto
                base = np.zeros_like(acc)
                cut = max(d - h + 1, 0)
                base[:, :cut] = acc[:, :cut]
                members = np.zeros(len(tickers), bool)
                members[order[:upto]] = True
                extra = late[members[t_idx[late]] & (end[late] <= d)]
                np.add.at(base[0], s_idx[extra], ret[extra])
                np.add.at(base[1], s_idx[extra], 1.0)
                np.add.at(base[2], s_idx[extra], (ret[extra] > 0).astype(float))
                if base[1].sum() == 0:
                    continue
                ev = np.zeros((3, len(sessions)))
                values = ret[rows[counted]]
                np.add.at(ev[0], ev_s[counted], values)
                np.add.at(ev[1], ev_s[counted], 1.0)
                np.add.at(ev[2], ev_s[counted], (values > 0).astype(float))
                present = np.flatnonzero(base[1] > 0)  # the base's sessions, as edge_table
                lo, hi = _ci(ev[:, present], base[:, present], max(h, MIN_BLOCK))
                n, base_n = int(ev[1].sum()), int(base[1].sum())
                mean, base_mean = ev[0].sum() / n, base[0].sum() / base_n
                hit, base_hit = ev[2].sum() / n, base[2].sum() / base_n
                last_end = max(present[-1] + h if present[-1] < cut else 0,
                               int(end[extra].max()) if extra.size else 0)  # fmt: skip
                out.append({
                    "date": d_date.date(), "kind": kind, "name": name, "horizon": h, "n": n,
                    "sessions": int((ev[1] > 0).sum()), "mean_return": mean,
                    "median_return": float(np.median(values)), "hit_rate": hit,
                    "base_n": base_n, "base_mean_return": base_mean, "base_hit_rate": base_hit,
                    "excess_return": mean - base_mean, "excess_hit_rate": hit - base_hit,
                    "excess_ci_lo": lo, "excess_ci_hi": hi,
                    "window_start": sessions[present[0]].date(),
                    "window_end": sessions[last_end].date(),
                })  # fmt: skip
    return pd.DataFrame(out, columns=["date", *EDGE_COLUMNS])
