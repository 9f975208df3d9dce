"""Event study of the Wyckoff engine on the vendored real data; writes docs/wyckoff_validation.md.

Reproduce: ``.venv/bin/python scripts/wyckoff_event_study.py`` (deterministic, offline).

For every event code on every series (SPY 1993-2021; AAPL, MSFT, IBM, GOOG 2000-2013 from the
bokeh sample data, split-adjusted), the forward close-to-close returns 5/10/20/40 sessions after
the bar on which the event is reported, their mean and hit rate (share > 0), next to the
unconditional base rate of the same series (every bar with that forward return available).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the package, and the fixture loaders

from helpers.real_data import (  # noqa: E402
    AAPL_SPLITS,
    BOKEH_TICKERS,
    SPY_CLIMAX_MONTHS,
    SPY_TEST_LOWS,
    load_bokeh_long,
    load_spy,
)

from kapman_assets.analytics import series  # noqa: E402
from kapman_assets.analytics.wyckoff import analyze_wyckoff  # noqa: E402

OUTPUT = ROOT / "docs" / "wyckoff_validation.md"
HORIZONS = (5, 10, 20, 40)
# (code, range type) -> label; the expected sign is the range's bias (+ accumulation), except
# for the breakdown events: SOW is bearish in either range (in an accumulation range it is the
# failed spring, the range breaking down), UPTHRUST and BC are bearish by definition
EVENT_LABELS = {
    ("SC", "accumulation"): "SC",
    ("AR", "accumulation"): "AR (acc)",
    ("ST", "accumulation"): "ST (acc)",
    ("SPRING", "accumulation"): "SPRING",
    ("TEST", "accumulation"): "TEST (acc)",
    ("SOS", "accumulation"): "SOS",
    ("SOW", "accumulation"): "SOW (failed spring)",
    ("BC", "distribution"): "BC",
    ("AR", "distribution"): "AR (dist)",
    ("ST", "distribution"): "ST (dist)",
    ("UPTHRUST", "distribution"): "UPTHRUST",
    ("TEST", "distribution"): "TEST (dist)",
    ("SOW", "distribution"): "SOW",
}
LABELS = tuple(EVENT_LABELS.values())
BEARISH_CODES = ("SOW",)  # bearish whatever the range
BULLISH = tuple(label for (code, kind), label in EVENT_LABELS.items()
                if kind == "accumulation" and code not in BEARISH_CODES)  # fmt: skip
SIGNALS = ("STRONG_ENTRY", "ENTRY_SETUP", "EXIT_NOW", "PREPARE_EXIT", "REDUCE")
BULLISH_SIGNALS = ("STRONG_ENTRY", "ENTRY_SETUP")
EPISODE_GAP_SESSIONS = 20  # SCs closer than this belong to one episode
NEAR_SESSIONS = 5
# 2-for-1 splits inside the bokeh range (Massive convention). AAPL's are in tests/fixtures/
# README.md; MSFT's 2003-02-18 split is also unadjusted in the file (close 48.30 -> 24.96).
MSFT_SPLIT = pd.DataFrame(
    {
        "ticker": ["MSFT"],
        "execution_date": pd.to_datetime(["2003-02-18"]),
        "split_from": [1.0],
        "split_to": [2.0],
    }
)
SPLITS = pd.concat([AAPL_SPLITS, MSFT_SPLIT], ignore_index=True)


def load_series() -> dict[str, pd.DataFrame]:
    """SPY as given; the bokeh stocks split-adjusted with ``series.split_adjust``."""
    out = {"SPY": load_spy()}
    adjusted = series.split_adjust(load_bokeh_long(), SPLITS)
    for ticker in BOKEH_TICKERS:
        out[ticker] = series.long_to_bars(adjusted.loc[adjusted["ticker"] == ticker])
    return out


def forward_returns(close: pd.Series) -> pd.DataFrame:
    """C_{t+h} / C_t - 1 per horizon (NaN near the end of the series)."""
    return pd.DataFrame({h: close.shift(-h) / close - 1.0 for h in HORIZONS}, index=close.index)


def label_masks(out: pd.DataFrame) -> dict[str, pd.Series]:
    """Per event label (code and range type, from events_json) and per signal onset (the first
    day of a run of the same signal): True on the bars where it is reported."""
    masks = {label: pd.Series(False, index=out.index) for label in LABELS}
    for day, blob in out["events_json"].dropna().items():
        for record in json.loads(blob):
            masks[EVENT_LABELS[(record["event"], record["range_type"])]].loc[day] = True
    signal = out["signal"]
    onset = signal.notna() & (signal != signal.shift())
    for name in SIGNALS:
        masks[f"signal {name}"] = onset & (signal == name)
    return masks


def study(name: str, bars: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """Per event label (and the base rate): n, mean forward return and hit rate per horizon."""
    forward = forward_returns(bars["close"])
    masks = {"base": pd.Series(True, index=out.index)} | label_masks(out)
    rows = []
    for label, mask in masks.items():
        row = {"series": name, "event": label, "n": int(mask.sum())}
        for h in HORIZONS:
            values = forward.loc[mask, h].dropna()
            row[f"mean_{h}"] = values.mean() if len(values) else np.nan
            row[f"hit_{h}"] = (values > 0).mean() if len(values) else np.nan
            row[f"n_{h}"] = len(values)
        rows.append(row)
    return pd.DataFrame(rows)


def percent(value: float, signed: bool = True) -> str:
    """A percentage for the tables ('-' for NaN)."""
    if pd.isna(value):
        return "-"
    return f"{100 * value:+.2f}" if signed else f"{100 * value:.0f}"


def study_table(table: pd.DataFrame) -> list[str]:
    """Markdown table: event, n, then mean return % and hit rate % per horizon."""
    header = "| event | n | " + " | ".join(f"{h}d mean % | {h}d hit %" for h in HORIZONS) + " |"
    lines = [header, "|" + "---|" * (2 + 2 * len(HORIZONS))]
    for row in table.itertuples(index=False):
        if row.event != "base" and row.n == 0:
            continue
        cells = [f"**{row.event}**" if row.event == "base" else row.event, str(row.n)]
        for h in HORIZONS:
            cells += [percent(getattr(row, f"mean_{h}")), percent(getattr(row, f"hit_{h}"), False)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def pooled_excess(tables: pd.DataFrame) -> pd.DataFrame:
    """Event-weighted excess over each series' own base rate, pooled across series."""
    rows = []
    for code in tables["event"].unique():
        if code == "base":
            continue
        part = tables.loc[tables["event"] == code]
        base = tables.loc[tables["event"] == "base"].set_index("series")
        row = {"event": code, "n": int(part["n"].sum())}
        for h in HORIZONS:
            weights = part[f"n_{h}"].to_numpy()
            if weights.sum() == 0:
                row[f"mean_{h}"] = row[f"hit_{h}"] = np.nan
                continue
            base_mean = base.loc[part["series"], f"mean_{h}"].to_numpy()
            base_hit = base.loc[part["series"], f"hit_{h}"].to_numpy()
            excess_mean = np.nan_to_num(part[f"mean_{h}"].to_numpy() - base_mean)
            excess_hit = np.nan_to_num(part[f"hit_{h}"].to_numpy() - base_hit)
            row[f"mean_{h}"] = float(np.average(excess_mean, weights=weights))
            row[f"hit_{h}"] = float(np.average(excess_hit, weights=weights))
        rows.append(row)
    return pd.DataFrame(rows)


def pooled_table(pooled: pd.DataFrame) -> list[str]:
    """Markdown table of pooled excess returns (points) and excess hit rates (points)."""
    header = "| event | expected sign | n | " + " | ".join(
        f"{h}d excess mean % | {h}d excess hit pts" for h in HORIZONS
    )
    lines = [header + " |", "|" + "---|" * (3 + 2 * len(HORIZONS))]
    for row in pooled.itertuples(index=False):
        if row.n == 0:
            continue
        sign = "+" if row.event in BULLISH or row.event.split()[-1] in BULLISH_SIGNALS else "-"
        cells = [row.event, sign, str(row.n)]
        for h in HORIZONS:
            hit = getattr(row, f"hit_{h}")
            cells += [
                percent(getattr(row, f"mean_{h}")),
                "-" if pd.isna(hit) else f"{100 * hit:+.0f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def sc_episodes(positions: np.ndarray) -> int:
    """Clusters of SC reports separated by more than EPISODE_GAP_SESSIONS sessions."""
    if len(positions) == 0:
        return 0
    return 1 + int((np.diff(positions) > EPISODE_GAP_SESSIONS).sum())


def spy_climax_section(bars: pd.DataFrame, out: pd.DataFrame) -> list[str]:
    """SC dates on SPY and the check of the climax list of docs/domain.md, "Wyckoff"."""
    sc = np.flatnonzero(out["events"].map(lambda codes: "SC" in codes).to_numpy())
    dates = out.index
    lines = [
        "## SPY: selling climaxes",
        "",
        f"{len(sc)} SC reports in {sc_episodes(sc)} episodes (SCs more than "
        f"{EPISODE_GAP_SESSIONS} sessions apart start a new episode); docs/domain.md quotes 26 "
        "episodes for the bare SC rule over the same 28 years.",
        "",
        "The climax lows in docs/domain.md (the lowest low of the month) and the nearest SC:",
        "",
        "| month | low of the month | nearest SC | sessions | within 5 |",
        "|---|---|---|---|---|",
    ]
    for month in SPY_CLIMAX_MONTHS:
        low_day = bars.loc[month, "low"].idxmin()
        position = dates.get_loc(low_day)
        nearest = sc[np.argmin(np.abs(sc - position))]
        gap = int(nearest - position)
        ok = "yes" if abs(gap) <= NEAR_SESSIONS else "**no**"
        lines.append(f"| {month} | {low_day.date()} | {dates[nearest].date()} | {gap:+d} | {ok} |")
    lines += [
        "",
        "Lows docs/domain.md calls tests, not climaxes (no SC expected within 5 sessions):",
        "",
    ]
    for day in SPY_TEST_LOWS:
        position = dates.get_loc(pd.Timestamp(day))
        gap = int(np.abs(sc - position).min())
        verdict = "none within 5 sessions" if gap > NEAR_SESSIONS else "**an SC fires**"
        lines.append(f"- {day}: nearest SC {gap} sessions away ({verdict})")
    lines += ["", "All SC report dates on SPY:", ""]
    years: dict[int, list[str]] = {}
    for position in sc:
        years.setdefault(dates[position].year, []).append(dates[position].strftime("%m-%d"))
    lines += [f"- {year}: {', '.join(days)}" for year, days in years.items()]
    return lines + [""]


def main() -> None:
    """Run the study and write the report."""
    data = load_series()
    outputs = {name: analyze_wyckoff(bars) for name, bars in data.items()}
    tables = pd.concat([study(name, data[name], outputs[name]) for name in data], ignore_index=True)
    lines = [
        "# Wyckoff engine: validation on real data",
        "",
        "Generated by `scripts/wyckoff_event_study.py` (deterministic; rerun it after any rule "
        "change). Rules and constants: `docs/wyckoff.md`.",
        "",
        "**Caveat: this is a small sample.** Five series, a few dozen events per code at most, "
        "overlapping forward windows (clustered events share most of their future) and one "
        "market regime per series. Differences of a few points are noise; nothing here is "
        "a statistically established edge.",
        "",
        "Data: SPY 1993-01-29 .. 2021-08-19 (pandas-ta test file, dividend-adjusted, volume as "
        "given); AAPL, MSFT, IBM 2000-03-01 .. 2013-03-01 and GOOG 2004-08-19 .. 2013-03-01 "
        "(bokeh sample data, raw prints) split-adjusted with `series.split_adjust`: AAPL 2:1 on "
        "2000-06-21 and 2005-02-28 (tests/fixtures/README.md) and MSFT 2:1 on 2003-02-18, which "
        "the file also carries unadjusted (close 48.30 -> 24.96) although the fixtures README "
        "does not list it.",
        "",
        "Method: an event is dated on the bar on which it is reported (its confirmation bar, so "
        "no look-ahead). Forward return = close h sessions later / close that day - 1; hit = "
        "share of positive forward returns. The base row is every bar of the same series with "
        "that forward return available. AR, ST and TEST occur in both range kinds and are "
        "split by it; the expected sign is the range's bias (+ accumulation, - distribution), "
        "weak by nature for the range-bound AR/ST/TEST, except SOW, bearish in both ranges (in "
        "an accumulation range it is the failed spring: the range breaking down). Signal rows count the first day of "
        "each run of the signal (+ for the entries, - for the exits).",
        "",
        "## Pooled over the five series: excess over each series' base rate",
        "",
        "Event-weighted means of (event mean - base mean) in % and (event hit - base hit) in "
        "percentage points.",
        "",
        *pooled_table(pooled_excess(tables)),
        "",
    ]
    for name in data:
        first, last = data[name].index[0].date(), data[name].index[-1].date()
        lines += [f"## {name} ({first} .. {last})", ""]
        lines += study_table(tables.loc[tables["series"] == name])
        lines.append("")
    lines += spy_climax_section(data["SPY"], outputs["SPY"])
    lines += [
        "## Reading",
        "",
        *reading(tables),
        "",
    ]
    OUTPUT.write_text("\n".join(lines))
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


def reading(tables: pd.DataFrame) -> list[str]:
    """Plain statements derived from the pooled numbers (no claims beyond them)."""
    pooled = pooled_excess(tables).set_index("event")
    notes = []
    for label in pooled.index:
        n = int(pooled.loc[label, "n"])
        if n == 0:
            notes.append(f"- {label}: no occurrences in these series.")
            continue
        bullish = label in BULLISH or label.split()[-1] in BULLISH_SIGNALS
        edges = [(1 if bullish else -1) * pooled.loc[label, f"mean_{h}"] for h in HORIZONS]
        agree = sum(e > 0 for e in edges if not pd.isna(e))
        verdict = (
            "in the expected direction at all four horizons"
            if agree == len(HORIZONS)
            else "not in the expected direction at any horizon: no edge here"
            if agree == 0
            else f"in the expected direction at {agree} of {len(HORIZONS)} horizons: mixed"
        )
        small = " (too few to say anything)" if n < 10 else ""
        notes.append(f"- {label} (n = {n}){small}: pooled excess forward return {verdict}.")
    return notes


if __name__ == "__main__":
    main()
