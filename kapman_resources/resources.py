"""Dagster resources: the warehouse connection and the flat-file source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg
import psycopg
import pyarrow as pa
from dagster_aws.s3 import S3Resource

from kapman_resources.database import connect
from kapman_resources.flatfiles import (
    DayAggsSource,
    LocalDayAggs,
    S3DayAggs,
    day_aggs_key,
    read_sessions,
)
from kapman_resources.settings import (
    DEFAULT_DEMO_SEED,
    DEFAULT_DEMO_TICKERS,
    DEFAULT_HISTORY_START,
)

SOURCES = ("demo", "local", "s3")


class PostgresResource(dg.ConfigurableResource):
    """The Kapman warehouse (PostgreSQL, TimescaleDB when the extension is present)."""

    database_url: str

    def connect(self) -> psycopg.Connection:
        return connect(self.database_url)


class FlatFilesResource(dg.ConfigurableResource):
    """Massive day-aggregate flat files from S3, a local mirror, or the demo market."""

    source: str = "demo"
    directory: str = ""
    bucket: str = "flatfiles"
    s3: S3Resource | None = None
    demo_tickers: int = DEFAULT_DEMO_TICKERS
    demo_seed: int = DEFAULT_DEMO_SEED
    demo_start: str = DEFAULT_HISTORY_START

    def day_aggs(self) -> DayAggsSource:
        if self.source not in SOURCES:
            raise ValueError(f"flat-file source {self.source!r}: expected one of {SOURCES}")
        if self.source == "s3":
            return S3DayAggs((self.s3 or S3Resource()).get_client(), self.bucket)
        if not self.directory:
            raise ValueError(f"the {self.source} flat-file source needs a directory")
        return LocalDayAggs(Path(self.directory))

    def ensure_demo(self, through: dt.date, progress: Callable[[int, int], None] | None = None):
        """Write the demo market's missing files up to `through` (a no-op for other sources)."""
        if self.source != "demo":
            return None
        root = Path(self.directory)
        if (root / day_aggs_key(through)).exists():
            return None
        from kapman_resources.demo_market import write_demo_market

        return write_demo_market(
            root,
            start=dt.date.fromisoformat(self.demo_start),
            end=through,
            n_tickers=self.demo_tickers,
            seed=self.demo_seed,
            progress=progress,
        )

    def read(
        self, days: Sequence[dt.date], progress: Callable[[int, int], None] | None = None
    ) -> pa.Table:
        """Parse every session in `days`; raises FlatFileError naming the file, row and rule."""
        if days:
            self.ensure_demo(max(days))
        return read_sessions(self.day_aggs(), days, progress)
