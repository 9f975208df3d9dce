"""The demo market writes Massive day-aggregate flat files exactly, deterministically and causally.

Expected values come from outside the generator: hand-listed NYSE holidays, New York midnight
computed by pandas' tz conversion, the split ratio published in splits.json compared with the
raw prints, and the climax conditions of docs/wyckoff.md recomputed here with numpy (ATR from TA-Lib).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from kapman_resources import demo_market as dm
from kapman_resources.calendar import nyse_sessions
from kapman_resources.demo_market import writer as demo_writer
from kapman_resources.flatfiles import day_aggs_key, parse_day_aggs

HEADER = b"ticker,volume,open,close,high,low,window_start,transactions"
N_TICKERS = 200
N_SESSIONS = 300
SESSIONS = nyse_sessions(dm.DEMO_START, dm.DEMO_START + dt.timedelta(days=500))[:N_SESSIONS]
END = SESSIONS[-1]  # 2024-03-13
# A second window covering the 2024 splits and 2025 holidays (watchlist only, to stay fast).
LATE_START, LATE_END = dt.date(2024, 5, 1), dt.date(2025, 7, 10)
# Weekdays NYSE was closed, listed by hand from the NYSE holiday pages.
HOLIDAYS = {
    dt.date(2023, 1, 16), dt.date(2023, 2, 20), dt.date(2023, 4, 7), dt.date(2023, 5, 29),
    dt.date(2023, 6, 19), dt.date(2023, 7, 4), dt.date(2023, 9, 4), dt.date(2023, 11, 23),
    dt.date(2023, 12, 25), dt.date(2024, 1, 1), dt.date(2024, 1, 15), dt.date(2024, 2, 19),
    dt.date(2024, 3, 29), dt.date(2024, 5, 27), dt.date(2024, 6, 19), dt.date(2024, 7, 4),
    dt.date(2024, 9, 2), dt.date(2024, 11, 28), dt.date(2024, 12, 25), dt.date(2025, 1, 1),
    dt.date(2025, 1, 9), dt.date(2025, 1, 20), dt.date(2025, 2, 17), dt.date(2025, 4, 18),
    dt.date(2025, 5, 26), dt.date(2025, 6, 19), dt.date(2025, 7, 4),
}  # fmt: skip
SYMBOL = re.compile(r"^[A-Z]{1,5}$")


def _day_files(root: Path) -> dict[dt.date, Path]:
    """Every day file under root, by the date in its name."""
    files = sorted((root / "us_stocks_sip" / "day_aggs_v1").glob("*/*/*.csv.gz"))
    return {dt.date.fromisoformat(p.name[:10]): p for p in files}


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _read_frame(root: Path) -> pd.DataFrame:
    """All rows of all day files, read with pandas (not the generator), plus the file date."""
    frames = []
    for day, path in _day_files(root).items():
        frame = pd.read_csv(path, dtype={"ticker": str})
        frame["date"] = pd.Timestamp(day)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _reference(root: Path, name: str) -> dict:
    return json.loads((root / "reference" / name).read_text())


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_a")
    summary = dm.write_demo_market(root, end=END, n_tickers=N_TICKERS)
    return root, summary


@pytest.fixture(scope="module")
def frame(market):
    return _read_frame(market[0])


@pytest.fixture(scope="module")
def late_market(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_late")
    dm.write_demo_market(root, start=LATE_START, end=LATE_END, n_tickers=0)
    return root


def test_load_watchlist_reads_the_143_symbols():
    symbols = dm.load_watchlist()
    assert len(symbols) == 143 == len(set(symbols))
    assert {"AAPL", "NVDA", "WORK", "JNPR", "ZS"} <= set(symbols)
    assert all(SYMBOL.match(s) for s in symbols)


def test_header_column_order_and_number_formats(market):
    root, _ = market
    files = _day_files(root)
    for path in files.values():
        with gzip.open(path, "rb") as fh:
            assert fh.readline().rstrip(b"\n") == HEADER
    text = pd.read_csv(files[SESSIONS[150]], dtype=str)
    assert list(text.columns) == HEADER.decode().split(",")
    for column in ("volume", "window_start", "transactions"):
        assert text[column].str.fullmatch(r"\d+").all(), column
    for column in ("open", "close", "high", "low"):
        price = text[column].astype(float)
        decimals = text[column].str.split(".").str[1].fillna("").str.len()
        assert (decimals[price >= 1] <= 2).all() and (decimals[price < 1] <= 4).all()


def test_window_start_is_new_york_midnight_of_the_file_date(frame):
    local = pd.to_datetime(frame["window_start"], unit="ns", utc=True).dt.tz_convert(
        "America/New_York"
    )
    assert (local.dt.hour == 0).all() and (local.dt.minute == 0).all()
    assert (local.dt.tz_localize(None) == frame["date"]).all()
    jan2 = frame.loc[frame["date"] == "2024-01-02", "window_start"]
    assert len(jan2) and (jan2 == 1704171600000000000).all()  # the documented example


def _expected_days(first: dt.date, last: dt.date) -> set[dt.date]:
    days = pd.bdate_range(first, last).date
    return {d for d in days if d not in HOLIDAYS}


def test_one_file_per_session_and_none_on_holidays(market, late_market):
    for root, first, last in ((market[0], dm.DEMO_START, END), (late_market, LATE_START, LATE_END)):
        files = set(_day_files(root))
        assert files == _expected_days(first, last)
    late = set(_day_files(late_market))
    assert dt.date(2025, 1, 9) not in late and dt.date(2025, 7, 4) not in late
    assert dt.date(2025, 1, 8) in late and dt.date(2025, 7, 3) in late


def test_files_are_sorted_by_unique_valid_symbols(market):
    for path in _day_files(market[0]).values():
        tickers = pd.read_csv(path, usecols=["ticker"], dtype=str)["ticker"].tolist()
        assert tickers == sorted(tickers) and len(tickers) == len(set(tickers))
        assert all(SYMBOL.match(t) for t in tickers)


def test_ohlc_consistent_positive_and_counts_sane(frame):
    assert (frame["low"] > 0).all()
    assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
    assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
    assert (frame["volume"] >= 0).all() and (frame["transactions"] >= 0).all()
    assert (frame["transactions"] <= frame["volume"]).all()
    assert ((frame["transactions"] == 0) == (frame["volume"] == 0)).all()


def test_every_file_passes_the_real_flat_file_parser(market):
    for day, path in _day_files(market[0]).items():
        table = parse_day_aggs(path.read_bytes(), day, str(path))
        assert table.num_rows > 0


def test_same_seed_gives_byte_identical_trees(market, tmp_path):
    dm.write_demo_market(tmp_path, end=END, n_tickers=N_TICKERS)
    assert _tree(tmp_path) == _tree(market[0])


def test_another_seed_gives_other_prices(market, tmp_path):
    dm.write_demo_market(tmp_path, end=SESSIONS[5], n_tickers=N_TICKERS, seed=8)
    day = SESSIONS[5]
    ours = pd.read_csv(_day_files(tmp_path)[day]).set_index("ticker")
    theirs = pd.read_csv(_day_files(market[0])[day]).set_index("ticker")
    assert not ours["close"].reindex(theirs.index).equals(theirs["close"])


def test_prefix_stable_when_the_end_moves_later(market, tmp_path):
    early = SESSIONS[199]
    dm.write_demo_market(tmp_path, end=early, n_tickers=N_TICKERS)
    full = _day_files(market[0])
    short = _day_files(tmp_path)
    assert set(short) == {d for d in full if d <= early}
    for day, path in short.items():
        assert path.read_bytes() == full[day].read_bytes(), day
    summary = dm.write_demo_market(tmp_path, end=END, n_tickers=N_TICKERS)
    assert (summary.files_written, summary.files_skipped) == (100, 200)
    assert _tree(tmp_path) == _tree(market[0])


def test_rerun_with_same_arguments_writes_nothing(market):
    root, _ = market
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    calls = []
    summary = dm.write_demo_market(
        root, end=END, n_tickers=N_TICKERS, progress=lambda d, t: calls.append((d, t))
    )
    assert (summary.files_written, summary.files_skipped) == (0, N_SESSIONS)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before
    assert calls == [(i, N_SESSIONS) for i in range(1, N_SESSIONS + 1)]


def test_empty_window_writes_nothing(tmp_path):
    summary = dm.write_demo_market(tmp_path, start=dt.date(2024, 1, 6), end=dt.date(2024, 1, 7))
    assert summary.sessions == 0 and not list(tmp_path.rglob("*"))


def test_the_last_session_file_is_written_after_every_other_file(tmp_path, monkeypatch):
    done, write = [], demo_writer._write_if_changed

    def recorded(path: Path, data: bytes) -> bool:
        changed = write(path, data)
        done.append(path)  # in the order the files land
        return changed

    monkeypatch.setattr(demo_writer, "_write_if_changed", recorded)
    dm.write_demo_market(tmp_path, end=SESSIONS[29], n_tickers=0)
    assert set(done) == {p for p in tmp_path.rglob("*") if p.is_file()} and len(done) == 32
    assert done[-1] == tmp_path / day_aggs_key(SESSIONS[29])


# A writer that SIGKILLs itself when it reports its `killed_at`-th session file.
KILLED_WRITER = """
import datetime as dt, os, signal, sys
from kapman_resources.demo_market import write_demo_market
root, end, n_tickers, killed_at = sys.argv[1:]
def progress(done, total):
    if done == int(killed_at):
        os.kill(os.getpid(), signal.SIGKILL)
write_demo_market(root, end=dt.date.fromisoformat(end), n_tickers=int(n_tickers), progress=progress)
"""


@pytest.mark.parametrize("killed_at", [100, N_SESSIONS - 1])  # mid-run; all but the last file
def test_a_killed_writer_leaves_only_complete_files_and_a_rerun_finishes(
    market, tmp_path, killed_at
):
    args = [str(tmp_path), END.isoformat(), str(N_TICKERS), str(killed_at)]
    child = subprocess.run([sys.executable, "-c", KILLED_WRITER, *args], timeout=300, check=False)
    assert child.returncode == -signal.SIGKILL
    full, left = _day_files(market[0]), _day_files(tmp_path)
    assert killed_at <= len(left) < N_SESSIONS
    if killed_at == N_SESSIONS - 1:
        assert set(left) == set(SESSIONS[:-1])
    # the last session's file is written last: its absence says the run did not finish
    assert END not in left and not (tmp_path / "reference").exists()
    for day, path in left.items():  # every file under its final name is complete
        assert path.read_bytes() == full[day].read_bytes(), day

    # What a writer killed mid-write or a non-atomic copy could leave: truncated bytes under one
    # session's final name and under a temporary name of the last session (hours old by now).
    truncated = left[SESSIONS[10]]
    truncated.write_bytes(full[SESSIONS[10]].read_bytes()[:1000])
    last = tmp_path / day_aggs_key(END)
    last.parent.mkdir(parents=True, exist_ok=True)
    (last.parent / f".{last.name}.99999.1.tmp").write_bytes(full[END].read_bytes()[:1000])
    hours_ago = time.time() - 3 * 3600
    for temporary in tmp_path.rglob("*.tmp"):
        os.utime(temporary, (hours_ago, hours_ago))
    live = last.parent / f".{last.name}.99999.2.tmp"  # a concurrent writer's, just created
    live.write_bytes(b"in flight")

    summary = dm.write_demo_market(tmp_path, end=END, n_tickers=N_TICKERS)
    assert summary.files_written == N_SESSIONS - len(left) + 1  # the missing ones + the truncated
    assert live.read_bytes() == b"in flight"  # young temporaries are left to their writer
    live.unlink()
    assert _tree(tmp_path) == _tree(market[0])  # complete, and the stale temporaries are gone


def _visible_splits(root: Path) -> list[tuple[str, float, float]]:
    """(ticker, close before / close on the execution date, split_to / split_from) in window."""
    frame = _read_frame(root)
    close = frame.pivot(index="date", columns="ticker", values="close")
    out = []
    for split in _reference(root, "splits.json")["results"]:
        day = pd.Timestamp(split["execution_date"])
        if day <= close.index[0] or day not in close.index:
            continue
        series = close[split["ticker"]].dropna()
        i = series.index.get_loc(day)
        ratio = series.iloc[i - 1] / series.iloc[i]
        out.append((split["ticker"], ratio, split["split_to"] / split["split_from"]))
    return out


def test_splits_are_listed_and_visible_in_raw_prints(market, late_market):
    seen = set()
    for root in (market[0], late_market):
        for ticker, ratio, expected in _visible_splits(root):
            assert abs(np.log(ratio / expected)) < 0.25, (ticker, ratio, expected)
            seen.add(ticker)
    assert {"WMT", "NVDA"} <= seen
    late = {(s["ticker"], s["execution_date"], s["split_from"], s["split_to"])
            for s in _reference(late_market, "splits.json")["results"]}  # fmt: skip
    assert ("NVDA", "2024-06-10", 1, 10) in late


def test_tickers_list_and_delist_mid_history(market, frame):
    root, summary = market
    span = frame.groupby("ticker")["date"].agg(["min", "max"])
    first, last = frame["date"].min(), frame["date"].max()
    listed = span.index[span["min"] > first]
    gone = span.index[span["max"] < last]
    assert len(listed) and len(gone)
    assert set(summary.listed) <= set(listed)
    assert span.loc["CORZ", "min"] == pd.Timestamp("2024-01-24")
    assert span.loc["NEWR", "max"] == pd.Timestamp("2023-11-07")
    active = {r["ticker"]: r["active"] for r in _reference(root, "tickers.json")["results"]}
    assert active["NEWR"] is False and active["CORZ"] is True


def test_watchlist_symbols_are_present_or_reported_delisted(market, late_market, frame):
    watch = set(dm.load_watchlist())
    reference = {r["ticker"]: r for r in _reference(late_market, "tickers.json")["results"]}
    assert watch <= set(reference)  # GEV listed by mid-2025, WORK listed as inactive
    assert reference["WORK"]["active"] is False and "delisted_utc" in reference["WORK"]
    assert reference["JNPR"]["active"] is False
    assert "WORK" not in set(frame["ticker"])
    traded = set(frame.loc[frame["date"] == frame["date"].max(), "ticker"])
    gone_or_later = {"WORK", "NEWR", "GEV"}
    assert watch - gone_or_later <= traded


def _climax_bars(bars: pd.DataFrame, side: str) -> list[pd.Timestamp]:
    """Bars meeting the SC (BC) conditions of docs/wyckoff.md, recomputed with numpy and TA-Lib ATR."""
    h, lo, c, v = (bars[k].to_numpy(float) for k in ("high", "low", "close", "volume"))
    atr = talib.ATR(h, lo, c, 14)
    hits = []
    for t in range(250, len(bars)):
        climax_volume = v[t] >= np.percentile(v[t - 250 : t], 95)
        wide = (h[t] - lo[t]) / atr[t - 1] >= 1.2
        if side == "SC":
            peak = c[t - 60 : t].max()
            extreme = lo[t] <= lo[t - 60 : t].min() and (peak - lo[t]) / peak >= 0.10
        else:
            trough = c[t - 60 : t].min()
            extreme = h[t] >= h[t - 60 : t].max() and (h[t] - trough) / trough >= 0.10
        if climax_volume and wide and extreme:
            hits.append(bars.index[t])
    return hits


def test_watchlist_tickers_carry_selling_and_buying_climaxes(frame):
    by_ticker = {t: g.set_index("date").sort_index() for t, g in frame.groupby("ticker")}
    watch = set(dm.load_watchlist())
    sc = {t for t in watch & set(by_ticker) if _climax_bars(by_ticker[t], "SC")}
    assert sc, "no selling climax on any watchlist ticker"
    scheduled = [(t, o, "SC") for t, o in dm.ACCUMULATIONS.items()]
    scheduled += [(t, o, "BC") for t, o in dm.DISTRIBUTIONS.items()]
    checked = 0
    for ticker, offset, side in scheduled:
        if offset + dm.SC_BAR < N_SESSIONS:
            climax_day = pd.Timestamp(SESSIONS[offset + dm.SC_BAR])
            assert climax_day in _climax_bars(by_ticker[ticker], side), (ticker, side)
            checked += 1
    assert checked >= 2  # AAPL's SC and META's BC fall inside the window


def test_illiquid_tickers_have_zero_volume_flat_days(frame):
    ordered = frame.sort_values(["ticker", "date"])
    prev_close = ordered.groupby("ticker")["close"].shift()
    zero = ordered[ordered["volume"] == 0]
    assert len(zero) > 0
    flat = (zero[["open", "high", "low"]].to_numpy() == zero[["close"]].to_numpy()).all()
    assert flat and (zero["close"] == prev_close[zero.index]).all()
    assert (ordered["volume"].between(1, 5_000)).any()


def test_returns_cluster_and_volume_reacts_to_large_moves(frame):
    close = frame.pivot(index="date", columns="ticker", values="close")
    volume = frame.pivot(index="date", columns="ticker", values="volume")
    moves = np.log(close).diff().abs()
    full = [t for t in close if close[t].notna().all() and (volume[t] > 0).all()]
    clustering = [moves[t].autocorr(1) for t in full]
    reaction = [np.corrcoef(moves[t].iloc[1:], np.log(volume[t]).iloc[1:])[0, 1] for t in full]
    assert np.median(clustering) > 0.05
    assert np.median(reaction) > 0.15


def test_synthetic_symbols_are_unique_and_stable_in_count():
    watch = dm.load_watchlist()
    many = dm.synthetic_symbols(5000, 7, watch)
    few = dm.synthetic_symbols(50, 7, watch)
    assert len(set(many)) == 5000 and few == many[:50]
    assert not set(many) & set(watch)
    assert all(SYMBOL.match(s) for s in many)


def test_reference_files_have_the_rest_shapes(market):
    root, summary = market
    tickers = _reference(root, "tickers.json")
    splits = _reference(root, "splits.json")
    assert tickers["status"] == splits["status"] == "OK"
    assert tickers["count"] == len(tickers["results"])
    for row in tickers["results"]:
        assert {"ticker", "name", "market", "type", "active"} <= set(row)
        assert row["market"] == "stocks" and isinstance(row["active"], bool)
    for row in splits["results"]:
        assert set(row) >= {"ticker", "execution_date", "split_from", "split_to"}
        assert isinstance(row["split_from"], int) and isinstance(row["split_to"], int)
        dt.date.fromisoformat(row["execution_date"])
    assert summary.splits == len(splits["results"])
