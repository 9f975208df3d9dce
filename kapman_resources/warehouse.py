"""The warehouse resource and the one way a layer writes a partition slice.

A layer writes through `PostgresResource.write_slice(table, window)`: frames go in as they are
produced (so producing the next overlaps the COPY of this one) and the whole slice is replaced
in ONE transaction. The first frame's columns are checked against the table before anything is
deleted; every frame's dates must lie inside the window; then the slice is emptied (TRUNCATE of
the monthly partitions it covers, DELETE with bound `date` parameters at the edges) and COPYed
(see pg_copy). A failure anywhere, even in a later frame, rolls back and leaves the previous rows
as they were; a rerun is idempotent. The asset returns a `MaterializeResult` with
`SliceWritten.metadata()`: Dagster's standard table metadata.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
import pandas as pd
import psycopg
from psycopg import sql

from kapman_resources.database import connect
from kapman_resources.pg_copy import CopyStream, insertion_order
from kapman_resources.tables import (
    PARTITION_COLUMN,
    SchemaMismatch,
    TableInfo,
    check_columns,
    table_info,
)

Window = tuple[dt.date, dt.date]  # [start, end) in local dates


@dataclass(frozen=True)
class SliceWritten:
    """What one slice replacement did."""

    table: str
    window: Window | None
    rows_written: int
    rows_replaced: int
    storage: str  # 'plain' | 'partitioned' | 'hypertable'

    def metadata(self) -> dict:
        """Dagster's standard table metadata, plus what the write replaced.

        A whole-table write gives `dagster/row_count`, a one-session slice
        `dagster/partition_row_count`. A single-run range has no standard key: Dagster copies a
        range run's metadata onto every partition, so its rows are `rows_written` (the range's).
        """
        if self.window is None:
            rows = "dagster/row_count"
        elif (self.window[1] - self.window[0]).days == 1:
            rows = "dagster/partition_row_count"
        else:
            rows = "rows_written"
        return {
            "dagster/table_name": f"public.{self.table}",
            rows: self.rows_written,
            "rows_replaced": self.rows_replaced,
            "storage": self.storage,
        }


def check_window(table: str, frame: pd.DataFrame, window: Window) -> None:
    """Raise SchemaMismatch unless every row's date lies inside the partition window."""
    if PARTITION_COLUMN not in frame.columns:
        raise SchemaMismatch(f"a partitioned write to {table!r} needs a 'date' column")
    if not len(frame):
        return
    dates = pd.to_datetime(frame[PARTITION_COLUMN])
    if dates.min().date() < window[0] or dates.max().date() >= window[1]:
        raise SchemaMismatch(
            f"frame for {table!r} has dates {dates.min().date()}..{dates.max().date()} "
            f"outside its partition window [{window[0]}, {window[1]})"
        )


class SliceWriter:
    """Replaces the rows of `table` in `window` (the whole table when None) in one transaction.

    Call `write` for each frame, then `commit` (which also sets `result`); `abort` rolls
    everything back. Nothing is deleted before the first frame has passed the column and window
    checks.
    """

    def __init__(self, conn: psycopg.Connection, table: str, window: Window | None) -> None:
        self.conn, self.table, self.window = conn, table, window
        self.info: TableInfo = table_info(conn, table)
        conn.commit()  # end the introspection's implicit transaction
        self._stream: CopyStream | None = None
        self._rows_replaced = 0
        self._also: list[tuple[sql.Composable | str, list[tuple]]] = []
        self.result: SliceWritten | None = None

    def also(self, statement: sql.Composable | str, rows: list[tuple]) -> None:
        """Run `statement` once per row of parameters in the same transaction, after the COPY
        and before the commit (bookkeeping that must land with the slice, or not at all)."""
        self._also.append((statement, rows))

    def write(self, frame: pd.DataFrame) -> None:
        check_columns(frame, self.info)
        if self.window is not None:
            check_window(self.table, frame, self.window)
        if self._stream is None:
            self._begin()
        if len(frame):
            self._stream.write(frame, insertion_order(frame, self.info))

    def commit(self) -> SliceWritten:
        if self._stream is None:  # no frame at all: the slice is replaced by nothing
            self._begin()
        self._stream.close()
        for statement, rows in self._also:
            with self.conn.cursor() as cur:
                cur.executemany(statement, rows)
        self.conn.commit()
        self.result = SliceWritten(self.table, self.window, self._stream.rows,
                                   self._rows_replaced, self.info.storage)  # fmt: skip
        return self.result

    def abort(self, error: BaseException) -> None:
        if self._stream is not None:
            self._stream.close(error)
        self.conn.rollback()

    def _begin(self) -> None:
        if self.window is not None and self.info.storage == "partitioned":
            # months are created ahead in their own short transaction (sql/004)
            self.conn.execute(
                "SELECT kapman_ensure_month_partitions(%s, %s, %s)", (self.table, *self.window)
            )
            self.conn.commit()
        self._rows_replaced = _empty_slice(self.conn, self.info, self.window)
        self._stream = CopyStream(self.conn, self.info)


def _empty_slice(conn: psycopg.Connection, info: TableInfo, window: Window | None) -> int:
    """Delete the slice's rows inside the open transaction; returns how many there were."""
    table = info.name
    if window is None:
        return conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table))).rowcount
    start, end = window
    deleted = 0
    if info.storage == "partitioned":
        # whole partitions are truncated: fast, and a COPY into a partition truncated in the
        # same transaction writes no WAL under wal_level=minimal
        for (part,) in conn.execute(
            "SELECT kapman_partitions_within(%s, %s, %s)", (table, start, end)
        ).fetchall():
            deleted += conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(part))
            ).fetchone()[0]
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(part)))
    elif info.storage == "hypertable":
        conn.execute("SELECT kapman_prepare_rewrite(%s, %s, %s)", (table, start, end))
    deleted += conn.execute(
        sql.SQL("DELETE FROM {} WHERE {} >= %s AND {} < %s").format(
            sql.Identifier(table),
            sql.Identifier(PARTITION_COLUMN),
            sql.Identifier(PARTITION_COLUMN),
        ),
        (start, end),
    ).rowcount
    return deleted


def replace_slice(
    conn: psycopg.Connection, table: str, frame: pd.DataFrame, window: Window | None
) -> SliceWritten:
    """Replace the rows in `window` (the whole table when None) by one frame."""
    writer = SliceWriter(conn, table, window)
    try:
        writer.write(frame)
    except BaseException as exc:
        writer.abort(exc)
        raise
    return writer.commit()


class PostgresResource(dg.ConfigurableResource):
    """The Kapman warehouse (PostgreSQL, TimescaleDB when the extension is present)."""

    database_url: str

    def connect(self) -> psycopg.Connection:
        return connect(self.database_url)

    @contextmanager
    def write_slice(self, table: str, window: Window | None) -> Iterator[SliceWriter]:
        """Replace a table's slice with every frame written inside the block, in one transaction;
        the writer's `result` says what was written once the block has ended."""
        with self.connect() as conn:
            writer = SliceWriter(conn, table, window)
            try:
                yield writer
            except BaseException as exc:
                writer.abort(exc)
                raise
            writer.commit()


def load_table(
    conn: psycopg.Connection,
    table: str,
    *,
    columns: list[str] | None = None,
    window: Window | None = None,
    tickers: list[str] | None = None,
) -> pd.DataFrame:
    """Read a table: only `columns`, only [start, end), only `tickers` (by symbol).

    Tables keyed by `ticker_id` come back with a `ticker` symbol column instead.
    """
    info = table_info(conn, table)
    by_id = "ticker_id" in info.columns
    wanted = columns or [c for c in info.columns if c != "ticker_id"]
    unknown = [c for c in wanted if c not in info.columns and not (by_id and c == "ticker")]
    if unknown:
        raise SchemaMismatch(f"columns not in table {table!r}: {unknown}")
    select = [
        sql.SQL("k.symbol AS ticker") if (by_id and c == "ticker") else sql.SQL("t.{}").format(
            sql.Identifier(c))
        for c in wanted
    ]  # fmt: skip
    if by_id and "ticker" not in wanted:
        select.insert(0, sql.SQL("k.symbol AS ticker"))
    query = sql.SQL("SELECT {} FROM {} t").format(sql.SQL(", ").join(select), sql.Identifier(table))
    if by_id:
        query += sql.SQL(" JOIN tickers k ON k.id = t.ticker_id")
    where, params = [], []
    if window is not None:
        where.append(sql.SQL("t.date >= %s AND t.date < %s"))
        params += [window[0], window[1]]
    if tickers is not None:
        ticker_col = sql.SQL("k.symbol") if by_id else sql.SQL("t.ticker")
        where.append(ticker_col + sql.SQL(" = ANY(%s)"))
        params.append(list(tickers))
    if where:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    with conn.cursor() as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=names)
