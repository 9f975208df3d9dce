"""`pip install .` (not editable) into a new venv: migrations, instance config and the demo ship.

The wheel is built from a copy of the working tree and installed without dependencies into a
new venv that borrows this venv's third-party packages (a .pth line), so the test proves what
the wheel itself carries: `kapman db migrate` and `kapman demo` run from another directory,
importing Kapman from the new venv, never from the checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from helpers.checkout import clone_working_tree

from kapman_assets.definitions import defs
from kapman_resources.embedded_pg import EmbeddedPostgres


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_a_wheel_install_migrates_and_runs_the_demo(tmp_path):
    source = clone_working_tree(tmp_path / "source")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
          "-w", str(tmp_path / "dist"), str(source)])  # fmt: skip
    wheel = next((tmp_path / "dist").glob("kapman-*.whl"))
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    site = next(target.glob("lib/python3*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = target / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--no-index", "-q", str(wheel)])  # fmt: skip

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPMAN_", "DAGSTER_"))}
    env.update(KAPMAN_HOME=str(home), KAPMAN_DEMO_TICKERS="60")
    try:
        where = _run([python, "-c", "import kapman_resources.database as d; print(d.SQL_DIR)"],
                     cwd=elsewhere, env=env).stdout.strip()  # fmt: skip
        assert Path(where).is_relative_to(site) and any(Path(where).glob("001_*.sql"))
        kapman = target / "bin" / "kapman"
        migrated = _run([kapman, "db", "migrate"], cwd=elsewhere, env=env)
        assert "applied ['001'" in migrated.stdout
        demo = _run([kapman, "demo"], cwd=elsewhere, env=env)
        assert "backfilling 2023-01-03" in demo.stdout
        checks = demo.stdout.split("\nAsset checks\n", 1)[1]
        passed, total = map(int, re.search(r"\n  (\d+)/(\d+) passed\n", checks).groups())
        assert total == len(defs.resolve_asset_graph().asset_check_keys)  # every check ran
        assert "FAILED" not in checks and total - passed == checks.count(" warning")
        assert (home / "dagster_home" / "dagster.yaml").exists()
    finally:
        EmbeddedPostgres(home).destroy()
