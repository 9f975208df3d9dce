"""Retention: 730 trading sessions of ohlcv, 90 calendar days of option chains."""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql

from kapman_resources.calendar import nyse_sessions
from kapman_resources.settings import OHLCV_RETENTION_SESSIONS, OPTIONS_RETENTION_DAYS

HISTORY_FLOOR = dt.date(2000, 1, 1)


def ohlcv_cutoff(latest_session: dt.date, keep: int = OHLCV_RETENTION_SESSIONS) -> dt.date:
    """The oldest session kept: `keep` NYSE sessions ending at `latest_session` (trading days)."""
    sessions = nyse_sessions(HISTORY_FLOOR, latest_session)
    return sessions[-keep] if len(sessions) >= keep else sessions[0]


def options_cutoff(latest: dt.date, keep_days: int = OPTIONS_RETENTION_DAYS) -> dt.date:
    """The oldest option-chain date kept: `keep_days` calendar days back from `latest`."""
    return latest - dt.timedelta(days=keep_days - 1)


BOOKKEEPING = {"ohlcv_loads": "ohlcv", "options_chain_fetches": "options_chains"}
"""Plain tables that describe a time-series table's sessions, trimmed with it."""


def apply_retention(conn: psycopg.Connection, table: str, cutoff: dt.date) -> dict:
    """Remove rows of `table` older than `cutoff` (whole partitions/chunks first) and log it;
    its bookkeeping table loses the same sessions in the same transaction."""
    with conn.transaction():
        dropped, deleted = conn.execute(
            "SELECT partitions_dropped, rows_deleted FROM kapman_apply_retention(%s, %s)",
            (table, cutoff),
        ).fetchone()
        for kept, of in BOOKKEEPING.items():
            if of == table:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE date < %s").format(sql.Identifier(kept)),
                    (cutoff,),
                )
        conn.execute(
            "INSERT INTO retention_log (table_name, cutoff, partitions_dropped, rows_deleted)"
            " VALUES (%s, %s, %s, %s)",
            (table, cutoff, dropped, deleted),
        )
    return {
        "table": table,
        "cutoff": cutoff,
        "partitions_dropped": dropped,
        "rows_deleted": deleted,
    }
