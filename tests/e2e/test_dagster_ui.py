"""The UI path end to end: dagster-webserver + dagster-daemon on the repo's workspace.yaml.

A run of `daily_market_data` is launched through the webserver's GraphQL API with the partition
tag (what the UI's Materialize button sends), queued by the QueuedRunCoordinator of the repo's
dagster.yaml, dequeued by the daemon, and must land the session's bars in the warehouse.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from helpers.flatfiles import write_mirror

from kapman_resources.database import connect

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SESSIONS = [dt.date(2024, 3, 4), dt.date(2024, 3, 5), dt.date(2024, 3, 6)]
LAUNCHED = SESSIONS[1]
TICKERS = ["AAPL", "MSFT", "NVDA", "ZZZT"]
JOB = "daily_market_data"
READY_TIMEOUT_S = 90
RUN_TIMEOUT_S = 180
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

RUN_LOGS_QUERY = """
query RunLogs($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { message level } } }
  }
}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_database(url: str, database: str, scheme: str) -> str:
    url = re.sub(r"^postgres(ql)?(\+\w+)?://", f"{scheme}://", url)
    return re.sub(r"/([^/?]+)(\?|$)", f"/{database}\\2", url.split("://", 1)[1], count=1).join(
        [f"{scheme}://", ""]
    )


@pytest.fixture
def dagster_storage_url(pg_server_url):
    """A fresh database for Dagster's run/event storage, as a psycopg2 SQLAlchemy URL."""
    name = f"kapman_dagster_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(pg_server_url, name, "postgresql+psycopg2")
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    out = log.open("wb")
    try:
        return subprocess.Popen(
            args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        out.close()  # the child keeps its own descriptor


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL whatever of the group is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # code servers and run workers share the group
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return f"--- {path.name} ---\n" + "\n".join(text.splitlines()[-lines:])


def _wait_ready(base: str, procs: dict[str, subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}\n" + "\n".join(map(_tail, logs)))
        try:
            if httpx.get(f"{base}/server_info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"webserver not ready after {READY_TIMEOUT_S}s\n" + "\n".join(map(_tail, logs)))


def _run_messages(base: str, run_id: str) -> str:
    """The run's event messages, for a failure report (never raises)."""
    try:
        response = httpx.post(
            f"{base}/graphql",
            json={"query": RUN_LOGS_QUERY, "variables": {"runId": run_id}},
            timeout=30,
        )
        events = response.json()["data"]["logsForRun"].get("events", [])
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        return f"(run logs unavailable: {exc!r})"
    return "\n".join(f"{e.get('level')} {e.get('message')}" for e in events if e.get("message"))


@pytest.mark.slow
def test_ui_launch_of_daily_job_loads_the_partition(tmp_path, db_url, dagster_storage_url):
    from dagster_graphql import DagsterGraphQLClient

    mirror = tmp_path / "flatfiles"
    write_mirror(mirror, SESSIONS, TICKERS)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KAPMAN_", "MASSIVE_", "DAGSTER_"))}  # fmt: skip
    env.update(
        DAGSTER_HOME=str(dagster_home),
        KAPMAN_HOME=str(tmp_path / "kapman_home"),
        KAPMAN_DAGSTER_STORAGE_URL=dagster_storage_url,
        KAPMAN_DATABASE_URL=db_url,
        KAPMAN_FLATFILES_SOURCE="local",
        KAPMAN_FLATFILES_DIR=str(mirror),
        KAPMAN_HISTORY_START=SESSIONS[0].isoformat(),
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    workspace = str(REPO / "workspace.yaml")
    web_log, daemon_log = tmp_path / "webserver.log", tmp_path / "daemon.log"
    logs = [web_log, daemon_log]
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["dagster-webserver"] = _start(
            [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
            env,
            web_log,
        )
        _wait_ready(base, procs, logs)  # the webserver has created Dagster's storage tables
        procs["dagster-daemon"] = _start(
            [str(BIN / "dagster-daemon"), "run", "-w", workspace], env, daemon_log
        )

        client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)
        run_id = client.submit_job_execution(
            JOB,
            repository_location_name="kapman",
            repository_name="__repository__",
            tags={"dagster/partition": LAUNCHED.isoformat()},
        )
        deadline = time.monotonic() + RUN_TIMEOUT_S
        status = client.get_run_status(run_id).value
        while status not in TERMINAL and time.monotonic() < deadline:
            if procs["dagster-daemon"].poll() is not None:
                pytest.fail("dagster-daemon exited\n" + "\n".join(map(_tail, logs)))
            time.sleep(2)
            status = client.get_run_status(run_id).value
        assert status == "SUCCESS", (
            f"run {run_id} ended {status}\n{_run_messages(base, run_id)[-4000:]}\n"
            + "\n".join(map(_tail, logs))
        )
    finally:
        for proc in procs.values():
            _stop(proc)

    with connect(db_url) as conn:
        rows = conn.execute(
            "SELECT k.symbol, o.date FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id"
            " ORDER BY o.date, k.symbol"
        ).fetchall()
    assert rows == [(symbol, LAUNCHED) for symbol in sorted(TICKERS)]
