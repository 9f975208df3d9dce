"""A `kapman demo` killed with SIGKILL is finished by the next one (a closed laptop, a Ctrl-C).

Each case starts a real `kapman demo` on a fresh home, SIGKILLs it at one point of its work,
runs `kapman demo` again, and compares the warehouse with an uninterrupted run's: the same
bars, 730 sessions after retention, every ERROR-severity check passed, exit status 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from kapman_resources.embedded_pg import EmbeddedPostgres

BIN = Path(sys.executable).parent
TICKERS = "200"
FINGERPRINT = (
    "SELECT count(*), count(DISTINCT date), md5(string_agg(concat_ws(',', k.symbol, o.date,"
    " o.open, o.high, o.low, o.close, o.volume, o.transactions), ';' ORDER BY k.symbol, o.date))"
    " FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id"
)
STEP_TIMEOUT_S = 600


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPMAN_", "DAGSTER_"))}
    env.update(KAPMAN_HOME=str(home), KAPMAN_DEMO_TICKERS=TICKERS, PYTHONUNBUFFERED="1")
    return env


def _demo(home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "kapman", "demo"], env=_env(home), capture_output=True,
                          text=True, timeout=STEP_TIMEOUT_S)  # fmt: skip


def _url(home: Path) -> str:
    return EmbeddedPostgres(home).url()


def _fingerprint(home: Path) -> tuple:
    with psycopg.connect(_url(home)) as conn:
        return conn.execute(FINGERPRINT).fetchone()


def _copy_in_progress(home: Path) -> bool:
    """Whether a COPY into ohlcv has sent rows on the home's server (pg_stat_progress_copy)."""
    state = home / "pg.json"
    if not state.exists() or not json.loads(state.read_text()).get("port"):
        return False
    try:
        with psycopg.connect(_url(home), connect_timeout=2) as conn:
            row = conn.execute(
                "SELECT tuples_processed FROM pg_stat_progress_copy p JOIN pg_class c"
                " ON c.oid = p.relid WHERE c.relname LIKE 'ohlcv%%'"
            ).fetchone()
    except psycopg.OperationalError:  # the server is still starting, or the database is new
        return False
    return bool(row and row[0] > 0)


def _killed_demo(home: Path, point: str) -> str:
    """Run `kapman demo` and SIGKILL it at `point`; returns what it printed."""
    # "parsing": the first month is written, the next one is being parsed (nothing committed)
    marker = {"parsing": " rows written; ", "between_assets": "applying retention"}.get(point)
    log = home.parent / f"killed-{point}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([BIN / "kapman", "demo"], env=_env(home), stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + STEP_TIMEOUT_S
    try:
        while not (marker in log.read_text() if marker else _copy_in_progress(home)):
            assert proc.poll() is None, f"the demo ended before {point}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no {point} within {STEP_TIMEOUT_S} s"
            time.sleep(0.002 if marker else 0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return log.read_text()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The warehouse of an uninterrupted demo run."""
    home = tmp_path_factory.mktemp("reference") / "home"
    try:
        done = _demo(home)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        yield _fingerprint(home)
    finally:
        EmbeddedPostgres(home).destroy()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["parsing", "copy", "between_assets"])
def test_a_killed_demo_is_finished_by_the_next_run(reference, tmp_path, point):
    home = tmp_path / "home"
    try:
        printed = _killed_demo(home, point)
        with psycopg.connect(_url(home)) as conn:
            rows, sessions = conn.execute(
                "SELECT count(*), count(DISTINCT date) FROM ohlcv"
            ).fetchone()
        if point in ("parsing", "copy"):
            assert rows == 0, printed  # the slice is one transaction: nothing was committed
        else:
            assert sessions > 730, printed  # bars committed, retention not yet done

        rerun = _demo(home)
        assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
        if point == "between_assets":  # ohlcv is not reloaded: only what is missing runs
            assert "ohlcv: all" in rerun.stdout and "already loaded" in rerun.stdout
            assert "verifying the stored bars" in rerun.stdout  # blocking checks first
            assert ": retention_log (" in rerun.stdout
        else:
            assert ": ohlcv, retention_log (" in rerun.stdout
        assert "FAILED" not in rerun.stdout
        assert _fingerprint(home) == reference
        assert reference[1] == 730
    finally:
        EmbeddedPostgres(home).destroy()
