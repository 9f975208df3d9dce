"""Day-aggregate flat files: one interface, one resource per provider (demo, local mirror, S3).

Every provider returns a session file's raw bytes; `read` parses and validates them with the one
parser in `kapman_resources.flatfiles`, so bad rows never reach the warehouse.
"""

from __future__ import annotations

import datetime as dt
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pyarrow as pa
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from kapman_resources.calendar import last_completed_session
from kapman_resources.flatfiles import FlatFileError, FlatFileMissing, day_aggs_key, parse_day_aggs
from kapman_resources.settings import (
    DEFAULT_DEMO_SEED,
    DEFAULT_DEMO_TICKERS,
    DEFAULT_HISTORY_START,
    MASSIVE_S3_BUCKET,
)

Progress = Callable[[int, int], None]
READ_WORKERS = 4  # files fetched and parsed at once (gzip and Arrow release the GIL)
_DEMO_LOCK = threading.Lock()  # one demo writer at a time in this process


class FlatFilesProvider(dg.ConfigurableResource, ABC):
    """Where Massive's day-aggregate files come from."""

    @abstractmethod
    def fetch(self, day: dt.date) -> bytes:
        """The raw (gzip) file of one session; FlatFileMissing when it does not exist."""

    @abstractmethod
    def where(self, day: dt.date) -> str:
        """Where that file lives, for messages."""

    def prepare(self, through: dt.date, progress: Progress | None = None) -> str | None:
        """Make the files through `through` available; returns what was done (None: nothing)."""
        return None

    def read(self, days: Sequence[dt.date], progress: Progress | None = None) -> pa.Table:
        """Parse every session in `days`, all or nothing; errors name the file, row and rule."""

        def one(day: dt.date) -> pa.Table:
            return parse_day_aggs(self.fetch(day), day, self.where(day))

        tables: list[pa.Table] = []
        with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
            for i, table in enumerate(pool.map(one, days), start=1):
                tables.append(table)
                if progress:
                    progress(i, len(days))
        if not tables:
            raise FlatFileError("no sessions requested")
        return pa.concat_tables(tables)


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


class DemoFlatFiles(LocalFlatFiles):
    """The deterministic demo market, written into `directory` the first time a file is missing."""

    tickers: int = DEFAULT_DEMO_TICKERS
    seed: int = DEFAULT_DEMO_SEED
    start: str = DEFAULT_HISTORY_START

    def prepare(self, through: dt.date, progress: Progress | None = None) -> str | None:
        with _DEMO_LOCK:
            return self._write(through, progress)

    def fetch(self, day: dt.date) -> bytes:
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
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:  # one client (thread-safe) for every file of a run
            self._client = self.s3.get_client()
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=day_aggs_key(day))
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
