"""Shared fixtures: a real PostgreSQL server for the whole session, a fresh database per test.

With KAPMAN_TEST_DATABASE_URL (e.g. a TimescaleDB server) the suite runs against that server;
otherwise it starts the embedded server under a throwaway KAPMAN_HOME.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import psycopg
import pytest


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory):
    """URL of a maintenance database on a running PostgreSQL server."""
    external = os.environ.get("KAPMAN_TEST_DATABASE_URL")
    if external:
        yield external
        return
    from kapman_resources.embedded_pg import EmbeddedPostgres

    home = Path(os.environ.get("KAPMAN_TEST_HOME") or tmp_path_factory.mktemp("kapman_home"))
    server = EmbeddedPostgres(home)
    server.start()
    try:
        yield server.url("postgres")
    finally:
        server.destroy()


def _with_db(url: str, database: str) -> str:
    return re.sub(r"/[^/?]*(\?|$)", f"/{database}\\1", url.split("://", 1)[1], count=1).join(
        [url.split("://", 1)[0] + "://", ""]
    )


@pytest.fixture
def fresh_db_url(pg_server_url):
    """A new, empty database on the test server (dropped afterwards)."""
    name = f"kapman_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_db(pg_server_url, name)
    yield url
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(fresh_db_url, monkeypatch):
    """A freshly migrated Kapman database; KAPMAN_DATABASE_URL points at it."""
    from kapman_resources.database import connect, migrate

    with connect(fresh_db_url) as conn:
        migrate(conn)
    monkeypatch.setenv("KAPMAN_DATABASE_URL", fresh_db_url)
    return fresh_db_url


@pytest.fixture(autouse=True)
def _restore_environment():
    """Commands under test export variables (e.g. DAGSTER_HOME); keep tests independent."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
