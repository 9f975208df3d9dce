"""Massive day-aggregate flat files: one source interface, three providers, one strict parser.

Providers: the Massive S3 bucket (through dagster-aws's S3 resource), a local directory mirror
with the same layout, and the deterministic demo market (a local mirror Kapman writes itself).
Every provider returns the file's raw bytes; `parse_day_aggs` validates them so bad rows never
reach the warehouse: an error names the file, the row and the rule.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from kapman_resources.calendar import NEW_YORK

DAY_AGGS_PREFIX = "us_stocks_sip/day_aggs_v1"
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
READ_WORKERS = 4


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


class DayAggsSource(Protocol):
    def fetch(self, day: dt.date) -> bytes: ...

    def where(self, day: dt.date) -> str: ...


@dataclass(frozen=True)
class LocalDayAggs:
    """A directory laid out like the bucket (an offline mirror, or the demo market)."""

    root: Path

    def where(self, day: dt.date) -> str:
        return str(self.root / day_aggs_key(day))

    def fetch(self, day: dt.date) -> bytes:
        path = self.root / day_aggs_key(day)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise FlatFileMissing(
                f"no day-aggregates file for {day} at {path} (not yet published, or not a session)"
            ) from None


@dataclass(frozen=True)
class S3DayAggs:
    """The Massive flat-file bucket, through a boto3 S3 client."""

    client: object
    bucket: str

    def where(self, day: dt.date) -> str:
        return f"s3://{self.bucket}/{day_aggs_key(day)}"

    def fetch(self, day: dt.date) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=day_aggs_key(day))
            return response["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FlatFileMissing(
                    f"no day-aggregates file for {day} at {self.where(day)} "
                    "(not yet published, or not a session)"
                ) from None
            raise FlatFileError(f"S3 refused {self.where(day)}: {code} {exc}") from exc
        except BotoCoreError as exc:
            raise FlatFileError(f"cannot reach S3 for {self.where(day)}: {exc}") from exc


def _fail(where: str, row: int | None, rule: str) -> FlatFileError:
    at = f" row {row}" if row is not None else ""
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
    n = table.num_rows
    if n == 0:
        raise _fail(where, None, "the file has no rows")
    cols = {c: table[c].to_numpy(zero_copy_only=False) for c in
            ("open", "high", "low", "close", "volume", "window_start")}  # fmt: skip
    for name in ("open", "high", "low", "close", "volume"):
        bad = ~np.isfinite(cols[name])
        if bad.any():
            raise _fail(where, _first_bad_row(bad), f"{name} is empty or not a number")
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
            raise _fail(where, row, f"{rule} (ticker {ticker})")
    tickers = table["ticker"]
    if pc.any(pc.equal(pc.utf8_length(tickers), 0)).as_py():
        raise _fail(where, _first_bad_row(pc.equal(pc.utf8_length(tickers), 0).to_numpy()),
                    "empty ticker")  # fmt: skip
    counts = pc.value_counts(tickers)
    dup = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(dup):
        symbol = dup.field("values")[0].as_py()
        row = _first_bad_row(pc.equal(tickers, symbol).to_numpy(zero_copy_only=False))
        raise _fail(where, row, f"duplicate row for ticker {symbol} on {day}")
    return pa.table({
        "ticker": tickers,
        "date": pa.array(np.full(n, np.datetime64(day, "D"))).cast(pa.date32()),
        "open": table["open"], "high": table["high"], "low": table["low"],
        "close": table["close"], "volume": table["volume"],
        "transactions": table["transactions"],
    })  # fmt: skip


def read_sessions(
    source: DayAggsSource,
    days: Sequence[dt.date],
    progress: Callable[[int, int], None] | None = None,
) -> pa.Table:
    """Fetch and parse every session in `days` (in parallel); all or nothing."""

    def one(day: dt.date) -> pa.Table:
        return parse_day_aggs(source.fetch(day), day, source.where(day))

    tables: list[pa.Table] = []
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        for i, table in enumerate(pool.map(one, days), start=1):
            tables.append(table)
            if progress:
                progress(i, len(days))
    if not tables:
        raise FlatFileError("no sessions requested")
    return pa.concat_tables(tables)
