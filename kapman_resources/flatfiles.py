"""Massive day-aggregate flat files: the bucket's layout and one strict parser.

The providers (kapman_resources.providers) return a file's raw bytes; `parse_day_aggs`
validates them so bad rows never reach the warehouse: an error names the file, the row and the
rule.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from kapman_resources.calendar import NEW_YORK

DAY_AGGS_PREFIX = "us_stocks_sip/day_aggs_v1"
# saved /v3/reference responses in a mirror (the demo market writes them)
REFERENCE_TICKERS_KEY = "reference/tickers.json"
REFERENCE_SPLITS_KEY = "reference/splits.json"
DAY_AGGS_COLUMNS = ("ticker", "volume", "open", "close", "high", "low", "window_start",
                    "transactions")  # fmt: skip
COLUMN_TYPES = {
    "ticker": pa.string(),
    "volume": pa.float64(),
    "open": pa.float64(),
    "close": pa.float64(),
    "high": pa.float64(),
    "low": pa.float64(),
    "window_start": pa.int64(),
    "transactions": pa.int64(),
}


BARS_SCHEMA = pa.schema([
    ("ticker", pa.string()), ("date", pa.date32()), ("open", pa.float64()),
    ("high", pa.float64()), ("low", pa.float64()), ("close", pa.float64()),
    ("volume", pa.float64()), ("transactions", pa.int64()),
])  # fmt: skip  # what parse_day_aggs (and the grouped-daily parser) return


class FlatFileError(ValueError):
    """A flat file is missing, unreadable or breaks a rule; the message says which and where."""


class FlatFileMissing(FlatFileError):
    """No file exists for that session (not yet published, or a holiday mismatch)."""


def day_aggs_key(day: dt.date) -> str:
    """The object key of one session's day-aggregates file."""
    return f"{DAY_AGGS_PREFIX}/{day:%Y}/{day:%m}/{day:%Y-%m-%d}.csv.gz"


def new_york_midnight_ns(day: dt.date) -> int:
    """`window_start` of a daily bar: 00:00 America/New_York of the session, in ns."""
    return pd.Timestamp(day).tz_localize(NEW_YORK).value


def _fail(where: str, row: int | None, rule: str, what: str = "row") -> FlatFileError:
    at = f" {what} {row}" if row is not None else ""
    return FlatFileError(f"{where}{at}: {rule}")


def _first_bad_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1  # 1-based data row (line = row + 1)


def parse_day_aggs(data: bytes, day: dt.date, where: str) -> pa.Table:
    """Parse and validate one session's file; returns ticker, date, OHLCV, transactions."""
    try:  # gzip.decompress reads every member (zlib alone would stop after the first)
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError, zlib.error) as exc:
        raise _fail(where, None, f"corrupt gzip ({exc})") from exc
    try:
        header = raw.split(b"\n", 1)[0].decode().strip().split(",")
    except UnicodeDecodeError as exc:
        raise _fail(where, None, "not a text CSV file") from exc
    missing = [c for c in DAY_AGGS_COLUMNS if c not in header]
    if missing:
        raise _fail(where, None, f"missing column(s) {missing}; header is {header}")
    try:
        table = pacsv.read_csv(
            io.BytesIO(raw),
            read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=pacsv.ConvertOptions(
                column_types=COLUMN_TYPES, include_columns=list(DAY_AGGS_COLUMNS),
                strings_can_be_null=False,
            ),
        )  # fmt: skip
    except pa.ArrowInvalid as exc:
        raise _fail(where, None, f"unreadable values: {exc}") from exc
    if table.num_rows == 0:
        raise _fail(where, None, "the file has no rows")
    return validated_bars(table, day, where)


def validated_bars(table: pa.Table, day: dt.date, where: str, what: str = "row") -> pa.Table:
    """The session's bars (ticker, date, OHLCV, transactions) after the flat-file rules: finite,
    positive prices, non-negative volume, low <= open, close <= high, `window_start` at 00:00
    New York of `day`, non-empty unique tickers. Errors name `where`, the row and the rule."""
    n = table.num_rows
    cols = {c: table[c].to_numpy(zero_copy_only=False) for c in
            ("open", "high", "low", "close", "volume", "window_start")}  # fmt: skip
    for name in ("open", "high", "low", "close", "volume"):
        bad = ~np.isfinite(cols[name])
        if bad.any():
            raise _fail(where, _first_bad_row(bad), f"{name} is empty or not a number", what)
    o, h, lo, c = cols["open"], cols["high"], cols["low"], cols["close"]
    checks = [
        ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0), "prices must be positive"),
        (cols["volume"] < 0, "volume must not be negative"),
        ((lo > np.minimum(o, c)) | (h < np.maximum(o, c)), "low <= open, close <= high violated"),
        (cols["window_start"] != new_york_midnight_ns(day),
         f"window_start is not 00:00 New York of {day} (the file's date)"),
    ]  # fmt: skip
    for bad, rule in checks:
        if bad.any():
            row = _first_bad_row(bad)
            ticker = table["ticker"][row - 1].as_py()
            raise _fail(where, row, f"{rule} (ticker {ticker})", what)
    tickers = table["ticker"]
    if pc.any(pc.equal(pc.utf8_length(tickers), 0)).as_py():
        raise _fail(where, _first_bad_row(pc.equal(pc.utf8_length(tickers), 0).to_numpy()),
                    "empty ticker", what)  # fmt: skip
    counts = pc.value_counts(tickers)
    dup = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(dup):
        symbol = dup.field("values")[0].as_py()
        row = _first_bad_row(pc.equal(tickers, symbol).to_numpy(zero_copy_only=False))
        raise _fail(where, row, f"duplicate row for ticker {symbol} on {day}", what)
    return pa.table({
        "ticker": tickers,
        "date": pa.array(np.full(n, np.datetime64(day, "D"))).cast(pa.date32()),
        "open": table["open"], "high": table["high"], "low": table["low"],
        "close": table["close"], "volume": table["volume"],
        "transactions": table["transactions"],
    })  # fmt: skip
