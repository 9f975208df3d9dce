"""The ticker dimension: bulk id resolution for loads, and reference attributes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc


def resolve_ticker_ids(conn: psycopg.Connection, table: pa.Table) -> tuple[np.ndarray, list[str]]:
    """Ids for every row's ticker (inserting unseen symbols in bulk); returns (ids, new symbols).

    Only symbols are written here; first/last-seen dates are derived from the stored bars by
    `refresh_seen` once the load has committed.
    """
    symbols = pc.unique(table["ticker"]).to_pylist()
    with conn.transaction():
        new = conn.execute(
            "INSERT INTO tickers (symbol) SELECT unnest(%s::text[])"
            " ON CONFLICT (symbol) DO NOTHING RETURNING symbol",
            (symbols,),
        ).fetchall()
        rows = conn.execute(
            "SELECT symbol, id FROM tickers WHERE symbol = ANY(%s)", (symbols,)
        ).fetchall()
    lookup_symbols = pa.array([r[0] for r in rows], pa.string())
    lookup_ids = np.array([r[1] for r in rows], dtype=np.int32)
    positions = pc.index_in(table["ticker"], value_set=lookup_symbols).to_numpy(
        zero_copy_only=False
    )
    return lookup_ids[positions.astype(np.int64)], sorted(r[0] for r in new)


def refresh_seen(conn: psycopg.Connection, before: dt.date | None = None) -> int:
    """Widen first_seen/last_seen to the stored bars (only those older than `before` if given).

    The retention step calls it for the rows it is about to delete, so a ticker's history
    outlives its bars. Returns the tickers updated.
    """
    with conn.transaction():
        return conn.execute(
            "UPDATE tickers t SET first_seen = LEAST(t.first_seen, s.first),"
            " last_seen = GREATEST(t.last_seen, s.last)"
            " FROM (SELECT ticker_id, min(date) AS first, max(date) AS last FROM ohlcv"
            "       WHERE %(before)s::date IS NULL OR date < %(before)s GROUP BY ticker_id) s"
            " WHERE t.id = s.ticker_id AND (t.first_seen IS DISTINCT FROM LEAST(t.first_seen,"
            " s.first) OR t.last_seen IS DISTINCT FROM GREATEST(t.last_seen, s.last))",
            {"before": before},
        ).rowcount


def apply_reference(conn: psycopg.Connection, rows: list[dict]) -> int:
    """Set name and type from reference rows for symbols we know; returns tickers updated."""
    if not rows:
        return 0
    symbols = [r["ticker"] for r in rows]
    names = [r.get("name") for r in rows]
    types = [r.get("type") for r in rows]
    with conn.transaction():
        cur = conn.execute(
            "UPDATE tickers t SET name = u.n, type = u.ty"
            " FROM unnest(%s::text[], %s::text[], %s::text[]) AS u(s, n, ty)"
            " WHERE t.symbol = u.s AND (t.name IS DISTINCT FROM u.n OR t.type IS DISTINCT FROM u.ty)",
            (symbols, names, types),
        )
        return cur.rowcount


def refresh_active(conn: psycopg.Connection) -> tuple[int, int]:
    """Mark tickers seen on the latest loaded session active, others inactive; (active, inactive)."""
    with conn.transaction():
        conn.execute(
            "UPDATE tickers SET active ="
            " COALESCE(last_seen = (SELECT max(last_seen) FROM tickers), false)"
        )
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE active), count(*) FILTER (WHERE NOT active) FROM tickers"
        ).fetchone()
    return row[0], row[1]
