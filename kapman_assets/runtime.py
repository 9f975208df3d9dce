"""Where the warehouse and Dagster's instance live: resolved once by the CLI, exported for the
Dagster processes it runs (in process, or `dagster dev`)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import kapman_resources
from kapman_resources.embedded_pg import EmbeddedPostgres
from kapman_resources.settings import EMBEDDED_MARKER, Settings

# the Dagster instance config (package data; the repository's top-level dagster.yaml links here)
INSTANCE_YAML = Path(kapman_resources.__file__).with_name("dagster.yaml")
# Dagster writes a backfill's per-partition materialization events in batches of this size
# (one INSERT each) instead of one by one: 730 sessions -> 2 inserts, not 730.
EVENT_BATCH_SIZE = "1000"


@dataclass(frozen=True)
class Runtime:
    database_url: str
    dagster_storage_url: str
    dagster_home: Path
    embedded: EmbeddedPostgres | None


def dagster_url_for(database_url: str) -> str:
    """Dagster's storage: same server, database `dagster`, psycopg2 driver (NOTIFY needs it)."""
    explicit = os.environ.get("KAPMAN_DAGSTER_STORAGE_URL")
    if explicit:
        return explicit
    url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg2://", database_url)
    return re.sub(r"/([^/?]+)(\?|$)", r"/dagster\2", url, count=1)


def prepare_runtime(settings: Settings, start_db: bool = True) -> Runtime:
    """Start the embedded server if needed and export the variables Dagster's config reads."""
    embedded = None
    if settings.embedded:
        embedded = EmbeddedPostgres(settings.home)
        if start_db:
            embedded.start()
        database_url = embedded.url("kapman")
    else:
        database_url = settings.database_url
    dagster_home = settings.home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if not target.exists() or target.read_text() != INSTANCE_YAML.read_text():
        shutil.copyfile(INSTANCE_YAML, target)
    runtime = Runtime(database_url, dagster_url_for(database_url), dagster_home, embedded)
    os.environ["KAPMAN_DATABASE_URL"] = runtime.database_url
    os.environ[EMBEDDED_MARKER] = "1" if embedded else ""
    os.environ["KAPMAN_DAGSTER_STORAGE_URL"] = runtime.dagster_storage_url
    os.environ["DAGSTER_HOME"] = str(runtime.dagster_home)
    os.environ["KAPMAN_HOME"] = str(settings.home)  # the same home for every child process
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
    return runtime
