"""The `kapman` CLI: database commands, settings errors and redaction."""

import re

import pytest
from click.testing import CliRunner

from kapman_assets.cli import main
from kapman_resources.settings import SettingsError, load_settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv("KAPMAN_DATABASE_URL", raising=False)
    for name in ("DAGSTER_HOME", "KAPMAN_DAGSTER_STORAGE_URL", "KAPMAN_DATABASE_URL_IS_EMBEDDED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAPMAN_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"
    from kapman_resources.embedded_pg import EmbeddedPostgres

    EmbeddedPostgres(tmp_path / "home").destroy()


def test_db_lifecycle_and_migrate(home):
    from kapman_resources.embedded_pg import EmbeddedPostgres

    runner = CliRunner()
    assert runner.invoke(main, ["db", "status"]).exit_code == 3
    started = runner.invoke(main, ["db", "start"])
    assert started.exit_code == 0 and "running: pid" in started.output
    url = runner.invoke(main, ["db", "url"]).output.strip()
    assert re.fullmatch(r"postgresql://postgres:[\w-]{20,}@127\.0\.0\.1:\d+/kapman", url)
    status = runner.invoke(main, ["db", "status"]).output
    assert "running" in status and url.split(":")[2].split("@")[0] not in status
    migrated = runner.invoke(main, ["db", "migrate"])
    assert migrated.exit_code == 0 and "applied ['001'" in migrated.output
    assert "schema up to date" in runner.invoke(main, ["db", "migrate"]).output
    env = runner.invoke(main, ["env"]).output
    assert "export DAGSTER_HOME=" in env and "postgresql+psycopg2://" in env
    assert runner.invoke(main, ["db", "stop"]).output.strip() == "stopped"
    assert runner.invoke(main, ["db", "stop"]).output.strip() == "not running"
    unconfirmed = runner.invoke(main, ["db", "destroy"])
    assert unconfirmed.exit_code == 1 and "--yes" in unconfirmed.output
    data_dir = EmbeddedPostgres(home).data_dir
    assert data_dir.exists()
    assert runner.invoke(main, ["db", "destroy", "--yes"]).exit_code == 0
    assert not data_dir.exists() and not (home / "pg.json").exists()


def test_db_commands_refuse_an_external_server_without_leaking_its_password(monkeypatch):
    monkeypatch.setenv("KAPMAN_DATABASE_URL", "postgresql://kapman:hunter2@db.example:5432/k")
    result = CliRunner().invoke(main, ["db", "start"])
    assert result.exit_code == 1
    assert "external server" in result.output and "hunter2" not in result.output
    assert CliRunner().invoke(main, ["db", "url"]).output.strip() == (
        "postgresql://kapman:***@db.example:5432/k"
    )


def test_migrate_against_a_server_that_is_down_says_so(monkeypatch):
    monkeypatch.setenv("KAPMAN_DATABASE_URL", "postgresql://kapman:pw@127.0.0.1:9/kapman")
    result = CliRunner().invoke(main, ["db", "migrate"])
    assert result.exit_code == 1
    assert "cannot connect to the Kapman database at postgresql://kapman:***@127.0.0.1:9" in (
        result.output
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KAPMAN_ENV", "staging", "expected dev, test or prod"),
        ("KAPMAN_HISTORY_START", "2023-13-01", "is not a date"),
        ("KAPMAN_DEMO_TICKERS", "many", "is not a whole number"),
        ("KAPMAN_FLATFILES_SOURCE", "ftp", "expected demo, local or s3"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as err:
        load_settings()
    assert name in str(err.value)


def test_s3_keys_select_the_s3_source(monkeypatch):
    monkeypatch.delenv("KAPMAN_FLATFILES_SOURCE", raising=False)
    monkeypatch.setenv("MASSIVE_S3_ACCESS_KEY_ID", "key")
    assert load_settings().flatfiles_source == "s3"
    monkeypatch.delenv("MASSIVE_S3_ACCESS_KEY_ID")
    assert load_settings().flatfiles_source == "demo"


def test_redact_hides_passwords_in_every_url_form():
    from kapman_resources.database import redact

    assert redact("postgresql://u:s3cret@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert "s3cret" not in redact("postgresql://u@h/d?password=s3cret&sslmode=require")
    assert "s3cret" not in redact("host=h user=u password='s3cret' dbname=d")
    assert "sslmode=require" in redact("postgresql://u@h/d?password=s3cret&sslmode=require")


def test_concurrent_migrations_apply_each_file_once(fresh_db_url):
    import threading

    from kapman_resources.database import connect, migrate

    results, errors = [], []

    def run():
        try:
            with connect(fresh_db_url) as conn:
                results.append(migrate(conn))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(len(r) for r in results)[:2] == [0, 0] and max(len(r) for r in results) >= 4
