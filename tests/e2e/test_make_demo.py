"""`make demo` end to end: a fresh KAPMAN_HOME, the real Makefile, the real CLI and Dagster."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# exact, order-independent identity of the stored bars (a float sum's order varies)
FINGERPRINT = (
    "SELECT count(*), md5(string_agg(concat_ws(',', ticker_id, date, open, high, low, close,"
    " volume, transactions), ';' ORDER BY ticker_id, date)) FROM ohlcv"
)


@pytest.fixture
def demo_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPMAN_", "DAGSTER_"))}
    env.update(KAPMAN_HOME=str(tmp_path / "home"), KAPMAN_DEMO_TICKERS="200",
               KAPMAN_HISTORY_START="2023-01-03", VENV=str(BIN.parent))  # fmt: skip
    yield env
    from kapman_resources.embedded_pg import EmbeddedPostgres

    EmbeddedPostgres(tmp_path / "home").destroy()


def _make_demo(env):
    return subprocess.run(
        ["make", "-C", str(ROOT), "demo", f"VENV={env['VENV']}"],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.mark.slow
def test_make_demo_builds_everything_and_reruns_idempotently(demo_env):
    first = _make_demo(demo_env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = first.stdout
    assert "backfilling 2023-01-03" in out and "succeeded" in out
    assert "Asset checks" in out and "ohlcv_prices_consistent" in out
    assert "http://127.0.0.1:3000" in out

    url = subprocess.run([BIN / "kapman", "db", "url"], env=demo_env, capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    with psycopg.connect(url) as conn:
        sessions, tickers = conn.execute(
            "SELECT count(DISTINCT date), count(DISTINCT ticker_id) FROM ohlcv"
        ).fetchone()
        snapshot = conn.execute(FINGERPRINT).fetchone()
    assert sessions == 730  # retention kept exactly 730 trading sessions
    assert 150 <= tickers <= 200

    second = _make_demo(demo_env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "already loaded" in second.stdout
    assert "0 files written" in second.stdout
    with psycopg.connect(url) as conn:
        assert conn.execute(FINGERPRINT).fetchone() == snapshot
