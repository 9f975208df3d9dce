"""Day-aggregate flat files: one interface, one resource per provider (demo, local mirror, S3).

Every provider returns a session file's raw bytes; `read` parses and validates them with the one
parser in `kapman_resources.flatfiles`, so bad rows never reach the warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from kapman_resources.calendar import NEW_YORK, last_completed_session
from kapman_resources.flatfiles import (
    BARS_SCHEMA,
    FlatFileError,
    FlatFileMissing,
    day_aggs_key,
    parse_day_aggs,
)
from kapman_resources.settings import (
    DEFAULT_DEMO_SEED,
    DEFAULT_DEMO_TICKERS,
    DEFAULT_HISTORY_START,
    MASSIVE_S3_BUCKET,
)

Progress = Callable[[int, int], None]
READ_WORKERS = 4  # files fetched and parsed at once (gzip and Arrow release the GIL)
_DEMO_LOCK = threading.Lock()  # one demo writer at a time in this process
DEMO_PUBLISH_TIME = dt.time(8, 0)  # New York, the day after the session


class FlatFilesProvider(dg.ConfigurableResource, ABC):
    """Where Massive's day-aggregate files come from."""

    @abstractmethod
    def fetch(self, day: dt.date) -> bytes:
        """The raw (gzip) file of one session; FlatFileMissing when it does not exist."""

    def fetch_with_etag(self, day: dt.date) -> tuple[bytes, str]:
        """The file and its ETag (the MD5 of its bytes, as S3 gives for a single-part upload)."""
        data = self.fetch(day)
        return data, hashlib.md5(data, usedforsecurity=False).hexdigest()

    def etag(self, day: dt.date) -> str | None:
        """The current ETag of the session's file, None while it does not exist."""
        try:
            return self.fetch_with_etag(day)[1]
        except FlatFileMissing:
            return None

    @abstractmethod
    def where(self, day: dt.date) -> str:
        """Where that file lives, for messages."""

    def prepare(self, through: dt.date, progress: Progress | None = None) -> str | None:
        """Make the files through `through` available; returns what was done (None: nothing)."""
        return None

    def read(
        self,
        days: Sequence[dt.date],
        progress: Progress | None = None,
        etags: dict[dt.date, str] | None = None,
        missing: list[dt.date] | None = None,
    ) -> pa.Table:
        """Parse every session in `days`, all or nothing; errors name the file, row and rule.

        `etags` (when given) receives each file's ETag; with `missing` given, a session without
        a file is appended to it instead of failing the read.
        """
        if not days:
            raise FlatFileError("no sessions requested")

        def one(day: dt.date) -> pa.Table | None:
            try:
                data, etag = self.fetch_with_etag(day)
            except FlatFileMissing:
                if missing is None:
                    raise
                return None
            table = parse_day_aggs(data, day, self.where(day))
            if etags is not None:
                etags[day] = etag
            return table

        tables: list[pa.Table] = []
        with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
            for i, (day, table) in enumerate(zip(days, pool.map(one, days), strict=True), 1):
                if table is None:
                    missing.append(day)
                else:
                    tables.append(table)
                if progress:
                    progress(i, len(days))
        return pa.concat_tables(tables) if tables else BARS_SCHEMA.empty_table()


class LocalFlatFiles(FlatFilesProvider):
    """A directory laid out like the bucket (an offline mirror)."""

    directory: str

    def where(self, day: dt.date) -> str:
        return str(Path(self.directory) / day_aggs_key(day))

    def fetch(self, day: dt.date) -> bytes:
        path = Path(self.where(day))
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise FlatFileMissing(
                f"no day-aggregates file for {day} at {path} (not yet published, or not a session)"
            ) from None


def demo_published_at(day: dt.date) -> pd.Timestamp:
    """When the demo "publishes" a session's file: DEMO_PUBLISH_TIME New York the next day, as
    Massive publishes day aggregates the morning after (our design for the demo)."""
    return pd.Timestamp(dt.datetime.combine(day + dt.timedelta(days=1), DEMO_PUBLISH_TIME),
                        tz=NEW_YORK)  # fmt: skip


class DemoFlatFiles(LocalFlatFiles):
    """The deterministic demo market, written into `directory` the first time a file is missing.

    A session's file is readable from `demo_published_at` (the next morning) on; until then the
    evening's bars come from the demo's grouped-daily endpoint, as in production.
    """

    tickers: int = DEFAULT_DEMO_TICKERS
    seed: int = DEFAULT_DEMO_SEED
    start: str = DEFAULT_HISTORY_START
    publish_delay: bool = True  # False: every written file is readable at once

    def prepare(self, through: dt.date, progress: Progress | None = None) -> str | None:
        with _DEMO_LOCK:
            return self._write(through, progress)

    def fetch(self, day: dt.date) -> bytes:
        published = demo_published_at(day)
        if self.publish_delay and pd.Timestamp.now(tz=NEW_YORK) < published:
            raise FlatFileMissing(
                f"the demo's file for {day} is published at {published:%Y-%m-%d %H:%M}"
                " New York (the morning after, like Massive's)"
            )
        return self.written(day)

    def written(self, day: dt.date) -> bytes:
        """The demo file of `day` as written (whatever the publication time)."""
        path = Path(self.where(day))
        if not path.exists():
            with _DEMO_LOCK:
                if not path.exists():  # not written meanwhile by another reader
                    # through the latest session: one simulation serves every later read
                    self._write(max(day, last_completed_session()))
        return super().fetch(day)

    def _write(self, through: dt.date, progress: Progress | None = None) -> str:
        from kapman_resources.demo_market import write_demo_market

        summary = write_demo_market(
            Path(self.directory),
            start=dt.date.fromisoformat(self.start),
            end=through,
            n_tickers=self.tickers,
            seed=self.seed,
            progress=progress,
        )
        return f"{summary.files_written} files written, {summary.files_skipped} unchanged"


class S3FlatFiles(FlatFilesProvider):
    """The Massive flat-file bucket, through dagster-aws's S3 resource."""

    s3: S3Resource
    bucket: str = MASSIVE_S3_BUCKET
    _client: object = PrivateAttr(default=None)

    def where(self, day: dt.date) -> str:
        return f"s3://{self.bucket}/{day_aggs_key(day)}"

    def fetch(self, day: dt.date) -> bytes:
        return self.fetch_with_etag(day)[0]

    def fetch_with_etag(self, day: dt.date) -> tuple[bytes, str]:
        return self._call(day, lambda c, key: c.get_object(Bucket=self.bucket, Key=key),
                          lambda r: (r["Body"].read(), r["ETag"].strip('"')))  # fmt: skip

    def etag(self, day: dt.date) -> str | None:
        try:
            return self._call(day, lambda c, key: c.head_object(Bucket=self.bucket, Key=key),
                              lambda r: r["ETag"].strip('"'))  # fmt: skip
        except FlatFileMissing:
            return None

    def _call(self, day: dt.date, request: Callable, result: Callable):
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:  # one client (thread-safe) for every file of a run
            self._client = self.s3.get_client()
        try:
            return result(request(self._client, day_aggs_key(day)))
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
