"""The Kapman IO manager: pandas frames in and out of the PostgreSQL table named by the asset.

Writes replace exactly the partition slice (one session, or a single-run backfill's whole range)
in ONE transaction: validate columns before anything is deleted, empty the slice (TRUNCATE of
partitions it covers, DELETE with bound `date` parameters at the edges), COPY the frame (or the
chunks of a FrameStream; see pg_copy). A crash mid-write rolls back and leaves the previous rows
intact; reruns are idempotent. Loads select only the requested columns and, when asked, only
the watchlist tickers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd
import psycopg
from psycopg import sql

from kapman_resources.database import connect
from kapman_resources.pg_copy import PARTITION_COLUMN, CopyStream, insertion_order


class SchemaMismatch(ValueError):
    """A frame's columns do not fit its table; raised before anything is deleted."""


@dataclass
class FrameStream:
    """A partition slice delivered as consecutive frames (e.g. one month each).

    The producer's work (parsing the next month) then overlaps the COPY of the current one;
    everything is still written in one transaction. `metadata` is filled by the producer as
    it is consumed and added to the materialization afterwards.
    """

    chunks: Iterable[pd.DataFrame]
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: dict[str, str]  # column -> data type
    required: frozenset[str]  # NOT NULL without default
    storage: str  # 'plain' | 'partitioned' | 'hypertable'
    primary_key: tuple[str, ...] = ()


def table_info(conn: psycopg.Connection, table: str) -> TableInfo:
    """Columns, required columns and storage kind of a table in the public schema."""
    rows = conn.execute(
        "SELECT column_name, data_type, is_nullable = 'NO' AND column_default IS NULL"
        " AND is_identity = 'NO' FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    if not rows:
        raise SchemaMismatch(f"table {table!r} does not exist: run `kapman db migrate`")
    kind = conn.execute(
        "SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)", (table,)
    ).fetchone()[0]
    storage = "partitioned" if kind == "p" else "plain"
    if (
        storage == "plain"
        and conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    ):
        is_hyper = conn.execute(
            "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s",
            (table,),
        ).fetchone()
        storage = "hypertable" if is_hyper else "plain"
    pk = conn.execute(
        "SELECT a.attname FROM pg_index i"
        " JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos) ON true"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY k.pos",
        (table,),
    ).fetchall()
    return TableInfo(
        table,
        {r[0]: r[1] for r in rows},
        frozenset(r[0] for r in rows if r[2]),
        storage,
        tuple(r[0] for r in pk),
    )


def check_columns(frame: pd.DataFrame, info: TableInfo) -> None:
    """Raise SchemaMismatch naming extra and missing columns."""
    extra = [c for c in frame.columns if c not in info.columns]
    missing = sorted(info.required - set(frame.columns))
    if extra or missing:
        parts = []
        if extra:
            parts.append(f"columns not in table {info.name!r}: {extra}")
        if missing:
            parts.append(f"required columns missing from the frame: {missing}")
        raise SchemaMismatch("; ".join(parts) + f". Table columns: {list(info.columns)}")


def _check_window(table: str, frame: pd.DataFrame, window: tuple[dt.date, dt.date]) -> None:
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


def replace_slice(
    conn: psycopg.Connection,
    table: str,
    frame: pd.DataFrame | FrameStream,
    window: tuple[dt.date, dt.date] | None,
) -> dict:
    """Replace the rows in [start, end) (or the whole table when window is None) by the frame.

    One transaction: a failure anywhere (even in a later chunk of a FrameStream) leaves the
    previous rows as they were. Columns are checked before anything is deleted.
    """
    chunks: Iterator[pd.DataFrame] = iter(
        frame.chunks if isinstance(frame, FrameStream) else [frame]
    )
    first = next(chunks, None)
    info = table_info(conn, table)
    if first is not None:
        check_columns(first, info)
        if window is not None:
            _check_window(table, first, window)
    conn.commit()  # end the introspection's implicit transaction: the blocks below are real ones
    if window is not None and info.storage == "partitioned":  # own short transaction: sql/004
        with conn.transaction():
            conn.execute("SELECT kapman_ensure_month_partitions(%s, %s, %s)", (table, *window))
    written = 0
    with conn.transaction():
        deleted = _empty_slice(conn, info, window)
        stream = CopyStream(conn, info)
        try:
            for part in itertools.chain([] if first is None else [first], chunks):
                check_columns(part, info)
                if window is not None:
                    _check_window(table, part, window)
                if len(part):
                    stream.write(part, insertion_order(part, info))
        except BaseException as exc:
            stream.close(exc)
            raise
        stream.close()
        written = stream.rows
    return {"rows_written": written, "rows_replaced": deleted, "storage": info.storage}


def _empty_slice(
    conn: psycopg.Connection, info: TableInfo, window: tuple[dt.date, dt.date] | None
) -> int:
    """Delete the slice's rows inside the caller's transaction; returns how many there were."""
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


def load_table(
    conn: psycopg.Connection,
    table: str,
    *,
    columns: list[str] | None = None,
    window: tuple[dt.date, dt.date] | None = None,
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


def _window(context) -> tuple[dt.date, dt.date] | None:
    if not context.has_asset_partitions:
        return None
    tw = context.asset_partitions_time_window
    return tw.start.date(), tw.end.date()


class KapmanIOManager(dg.ConfigurableIOManager):
    """Stores each asset's DataFrame in the PostgreSQL table of the same name."""

    database_url: str

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | None) -> None:
        if obj is None:
            return
        if not isinstance(obj, pd.DataFrame | FrameStream):
            raise TypeError(
                f"KapmanIOManager stores pandas DataFrames (or a FrameStream of them), "
                f"got {type(obj).__name__}"
            )
        table = context.asset_key.path[-1]
        window = _window(context)
        with connect(self.database_url) as conn:
            result = replace_slice(conn, table, obj, window)
        produced = obj.metadata if isinstance(obj, FrameStream) else {}
        context.add_output_metadata(
            {
                **produced,
                "table": table,
                "rows_written": result["rows_written"],
                "rows_replaced": result["rows_replaced"],
                "storage": result["storage"],
                **({"window": f"[{window[0]}, {window[1]})"} if window else {}),
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = context.upstream_output.asset_key.path[-1]
        meta = context.definition_metadata or {}
        window = _window(context) if context.upstream_output.has_asset_partitions else None
        with connect(self.database_url) as conn:
            tickers = None
            if meta.get("ticker_scope") == "watchlist":
                from kapman_resources.database import watchlist_symbols

                tickers = watchlist_symbols(conn)
            return load_table(
                conn, table, columns=meta.get("columns"), window=window, tickers=tickers
            )
