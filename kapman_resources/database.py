"""Connections, capability detection and migrations for Kapman's PostgreSQL warehouse."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

SQL_DIR = Path(__file__).with_name("sql")  # package data: ships with `pip install .`
WATCHLIST_FILE = Path(__file__).parent / "data" / "watchlist_ai_stocks.txt"
WATCHLIST_PORTFOLIO = "AI_STOCKS"
MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+?)(?:\.(native|timescale))?\.sql$")


class DatabaseUnavailable(RuntimeError):
    """The warehouse cannot be reached; the message names the server and the cause."""


def redact(url: str) -> str:
    """The URL (or key=value DSN) with any password replaced, safe to print or log."""
    url = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
    return re.sub(r"(password=)('[^']*'|[^&\s]*)", r"\1***", url, flags=re.IGNORECASE)


def connect(url: str, **kwargs) -> psycopg.Connection:
    """Open a psycopg 3 connection, turning connection failures into a clear error."""
    try:
        return psycopg.connect(_libpq_url(url), connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to the Kapman database at {redact(url)}: "
            f"{str(exc).strip().splitlines()[0]}. Is it running? (`kapman db status`)"
        ) from exc


def _libpq_url(url: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def has_timescale(conn: psycopg.Connection) -> bool:
    """Whether the timescaledb extension is installed in (or installable into) this database."""
    row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if row:
        return True
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if not available:
        return False
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        return True
    except psycopg.Error:  # listed but not preloaded (shared_preload_libraries)
        return False


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path


def pending_files(variant: str, sql_dir: Path = SQL_DIR) -> list[Migration]:
    """The numbered migrations for this storage variant ('native' or 'timescale'), in order."""
    found: list[Migration] = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            continue
        number, name, file_variant = match.groups()
        if file_variant in (None, variant):
            found.append(Migration(number, name, path))
    return found


def storage_variant(conn: psycopg.Connection) -> str:
    """The storage variant this database was migrated with, or detected now for a new one."""
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
    if exists:
        row = conn.execute(
            "SELECT variant FROM schema_migrations WHERE variant IS NOT NULL LIMIT 1"
        ).fetchone()
        if row:
            return row[0]
    return "timescale" if has_timescale(conn) else "native"


MIGRATION_LOCK = 7_415_006  # pg_advisory_lock key: one migrator at a time


def migrate(conn: psycopg.Connection, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations, each in its own transaction; returns the versions applied.

    Serialized by an advisory lock, so `kapman up` and `kapman demo` starting together on a new
    database do not both apply the same files.
    """
    conn.commit()
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    conn.commit()
    try:
        return _migrate_locked(conn, sql_dir)
    finally:
        conn.rollback()
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        conn.commit()


def _migrate_locked(conn: psycopg.Connection, sql_dir: Path) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, name text NOT NULL,"
        " variant text, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    conn.commit()
    variant = storage_variant(conn)
    done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
    conn.commit()
    applied = []
    for mig in pending_files(variant, sql_dir):
        if mig.version in done:
            continue
        with conn.transaction():
            conn.execute(mig.path.read_text())
            conn.execute(
                "INSERT INTO schema_migrations (version, name, variant) VALUES (%s, %s, %s)",
                (mig.version, mig.name, variant if ".native" in mig.path.name or ".timescale"
                 in mig.path.name else None),
            )  # fmt: skip
        applied.append(mig.version)
    conn.commit()
    seed_portfolio(conn, WATCHLIST_PORTFOLIO, load_watchlist())
    return applied


def load_watchlist(path: Path = WATCHLIST_FILE) -> list[str]:
    """The AI_STOCKS symbols, one a line, '#' comments and blanks skipped."""
    symbols = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            symbols.append(line.upper())
    return list(dict.fromkeys(symbols))


def seed_portfolio(conn: psycopg.Connection, name: str, symbols: Sequence[str]) -> int:
    """Create the portfolio if missing and add any of `symbols` it lacks; returns rows added."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO portfolios (name, description) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
            (name, "The product's primary watchlist"),
        )
        cur = conn.execute(
            "INSERT INTO portfolio_tickers (portfolio_id, symbol, priority)"
            " SELECT p.id, s, 'P2' FROM portfolios p, unnest(%s::text[]) AS s WHERE p.name = %s"
            " ON CONFLICT DO NOTHING",
            (list(symbols), name),
        )
        return cur.rowcount


def watchlist_symbols(conn: psycopg.Connection) -> list[str]:
    """The analytical scope: the union of every portfolio's tickers."""
    rows = conn.execute("SELECT DISTINCT symbol FROM portfolio_tickers ORDER BY symbol").fetchall()
    return [r[0] for r in rows]
