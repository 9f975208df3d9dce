"""The embedded server: start, reuse, stop, and recovery from killed processes."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import psycopg
import pytest

from kapman_resources.database import connect, migrate, pending_files, storage_variant
from kapman_resources.embedded_pg import EmbeddedPostgres


@pytest.fixture
def server(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "home")
    yield pg
    pg.destroy()


def test_start_reuse_stop(server):
    first = server.start()
    assert first.running and first.port
    again = EmbeddedPostgres(server.home).start()  # a second command reuses the same server
    assert again.pid == first.pid and again.port == first.port
    with psycopg.connect(server.url("dagster")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert server.stop() is True
    assert not server.status().running
    assert server.stop() is False


def test_a_stale_pid_file_is_detected_and_removed(server):
    server.start()
    server.stop()
    (server.data_dir / "postmaster.pid").write_text("999999\n")  # a pid that does not exist
    assert not server.status().running
    status = server.start()
    assert status.running and status.stale_pid_file_removed


def test_a_server_orphaned_by_a_killed_parent_is_found_and_stopped_by_pid(server):
    script = textwrap.dedent(f"""
        from pathlib import Path
        from kapman_resources.embedded_pg import EmbeddedPostgres
        s = EmbeddedPostgres(Path({str(server.home)!r})).start()
        print(s.pid, flush=True)
        import time; time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    fresh = EmbeddedPostgres(server.home)
    assert fresh.status().running and fresh.status().pid == pid
    assert fresh.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and fresh.status().running:
        time.sleep(0.1)
    assert not fresh.status().running


def test_migrations_are_idempotent_recorded_and_seed_the_watchlist(fresh_db_url):
    with connect(fresh_db_url) as conn:
        first = migrate(conn)
        second = migrate(conn)
        variant = storage_variant(conn)
        recorded = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        watch = conn.execute(
            "SELECT count(*) FROM portfolio_tickers t JOIN portfolios p ON p.id = t.portfolio_id"
            " WHERE p.name = 'AI_STOCKS'"
        ).fetchone()[0]
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    assert first == [m.version for m in pending_files(variant)] and second == []
    assert recorded == first
    assert watch == 143
    assert {"tickers", "ohlcv", "splits", "options_chains", "options_daily_summary",
            "ticker_metrics", "wyckoff_snapshots", "daily_snapshots", "recommendations",
            "recommendation_outcomes", "forecast_calibration", "portfolios",
            "portfolio_tickers"} <= tables  # fmt: skip


def test_storage_matches_the_servers_capability(db_url):
    with connect(db_url) as conn:
        variant = storage_variant(conn)
        has_ext = conn.execute(
            "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        if variant == "timescale":
            hyper = {
                r[0]
                for r in conn.execute(
                    "SELECT hypertable_name FROM timescaledb_information.hypertables"
                )
            }
            assert {"ohlcv", "options_chains"} <= hyper
        else:
            kinds = dict(
                conn.execute(
                    "SELECT relname, relkind FROM pg_class WHERE relname IN ('ohlcv', 'options_chains')"
                ).fetchall()
            )
            assert kinds == {"ohlcv": "p", "options_chains": "p"}
    assert (variant == "timescale") == bool(has_ext)


def test_a_reused_pid_in_a_stale_pid_file_is_not_taken_for_our_server(server, tmp_path):
    """postmaster.pid names a live postgres of ANOTHER cluster: ours is not running."""
    other = EmbeddedPostgres(tmp_path / "other")
    try:
        foreign_pid = other.start().pid
        server.start()
        server.stop()
        (server.data_dir / "postmaster.pid").write_text(f"{foreign_pid}\n")
        assert not server.status().running
        assert server.stop() is False  # and it never signals the foreign server
        assert other.status().running
        assert server.start().running and server.status().pid != foreign_pid
    finally:
        other.destroy()


def test_the_server_demands_a_password(server):
    server.start()
    assert server.password and len(server.password) >= 20
    no_password = server.url().replace(f":{server.password}@", "@")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(no_password, connect_timeout=5)
    mode = (server.home / "pg.json").stat().st_mode & 0o777
    assert mode == 0o600


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="the system-user path exists only as root"
)


@needs_root
def test_a_home_and_binaries_the_system_user_cannot_reach_still_start(tmp_path, monkeypatch):
    """As in a clone under root's 0700 home: data and a copy of the binaries go to SHARED_ROOT."""
    import shutil
    import tempfile
    from pathlib import Path

    from kapman_resources import embedded_pg

    wheel_bin = embedded_pg.wheel_bin_dir()
    install, site = wheel_bin.parent, wheel_bin.parent.parent.parent
    private = Path(tempfile.mkdtemp(prefix="kapman-private-"))  # mode 0700
    try:
        venv_site = private / "venv" / "site-packages"
        for part in (install, site / f"{install.parent.name}.libs"):
            shutil.copytree(part, venv_site / part.relative_to(site), symlinks=True)
        private_bin = venv_site / install.relative_to(site) / "bin"
        monkeypatch.setattr(embedded_pg, "wheel_bin_dir", lambda: private_bin)
        server = EmbeddedPostgres(private / "checkout" / ".kapman")
        try:
            status = server.start()
            assert status.running
            assert server.data_dir.is_relative_to(embedded_pg.SHARED_ROOT)
            assert server.bin_dir().is_relative_to(embedded_pg.SHARED_ROOT)
            assert private.stat().st_mode & 0o777 == 0o700  # nothing of the user's widened
            with psycopg.connect(server.url("postgres")) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            # a second home gets its own server, data and binaries
            other = EmbeddedPostgres(private / "other" / ".kapman")
            try:
                assert other.start().running
                assert other.port != server.port
                assert other.data_dir.parent != server.data_dir.parent
                assert other.bin_dir() != server.bin_dir()
            finally:
                other.destroy()
        finally:
            server.destroy()
        assert not server.data_dir.parent.exists()  # destroy removes data and the binaries' copy
    finally:
        shutil.rmtree(private, ignore_errors=True)


@needs_root
def test_a_shared_cluster_whose_home_lost_its_state_is_started_afresh(tmp_path):
    import tempfile
    from pathlib import Path

    private = Path(tempfile.mkdtemp(prefix="kapman-private-"))
    home = private / ".kapman"
    server = EmbeddedPostgres(home)
    try:
        server.start()
        first_password = server.password
        server.state_file.unlink()  # a re-clone at the same path: pg.json is gone
        again = EmbeddedPostgres(home)
        assert again.start().running  # the old server is stopped, its cluster re-initialized
        assert again.password != first_password
        with psycopg.connect(again.url("postgres")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        EmbeddedPostgres(home).destroy()
        import shutil

        shutil.rmtree(private, ignore_errors=True)


def test_a_local_cluster_without_its_state_is_not_deleted_but_explained():
    import shutil
    import tempfile
    from pathlib import Path

    from kapman_resources.embedded_pg import EmbeddedPostgresError

    home = Path(tempfile.mkdtemp(prefix="kapman-open-"))
    home.chmod(0o755)  # reachable by the system user too: the cluster lives in the home
    (home / "pgdata").mkdir()
    (home / "pgdata" / "PG_VERSION").write_text("18\n")
    server = EmbeddedPostgres(home)
    assert server.data_dir == home / "pgdata"
    with pytest.raises(EmbeddedPostgresError, match="delete .* to start afresh"):
        server.start()
    assert (home / "pgdata" / "PG_VERSION").exists()
    shutil.rmtree(home)
