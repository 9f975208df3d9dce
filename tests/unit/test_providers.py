"""The providers: one per source name, chosen from the settings; the demo writes on first need."""

import datetime as dt

import pytest

from kapman_resources.flatfiles import FlatFileMissing, day_aggs_key
from kapman_resources.providers import (
    SOURCES,
    DemoFlatFiles,
    DemoMassiveRest,
    LocalFlatFiles,
    MassiveRest,
    S3FlatFiles,
    SavedReference,
    providers,
)
from kapman_resources.settings import FLATFILES_SOURCES, load_settings

DAY = dt.date(2024, 4, 12)


def test_every_source_name_has_a_provider_for_every_resource_key():
    assert tuple(SOURCES) == FLATFILES_SOURCES
    keys = {"flat_files", "reference_data", "market_rest"}
    assert all(set(kinds) == keys for kinds in SOURCES.values())


@pytest.mark.parametrize(
    ("source", "kind"), [("demo", DemoFlatFiles), ("local", LocalFlatFiles), ("s3", S3FlatFiles)]
)
def test_the_settings_pick_the_provider(monkeypatch, tmp_path, source, kind):
    monkeypatch.setenv("KAPMAN_FLATFILES_SOURCE", source)
    monkeypatch.setenv("KAPMAN_FLATFILES_DIR", str(tmp_path))
    chosen = providers(load_settings())
    assert type(chosen["flat_files"]) is kind
    assert isinstance(chosen["reference_data"], SavedReference)
    rest = DemoMassiveRest if source == "demo" else MassiveRest
    assert type(chosen["market_rest"]) is rest


def test_s3_credentials_are_environment_references_not_values(monkeypatch):
    monkeypatch.setenv("MASSIVE_S3_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("MASSIVE_S3_SECRET_ACCESS_KEY", "s3cr3t")
    s3 = providers(load_settings())["flat_files"]
    assert isinstance(s3, S3FlatFiles)
    assert "s3cr3t" not in repr(s3) and "AKIDEXAMPLE" not in repr(s3)


def test_a_local_mirror_names_the_missing_file(tmp_path):
    with pytest.raises(FlatFileMissing, match=str(tmp_path / day_aggs_key(DAY))):
        LocalFlatFiles(directory=str(tmp_path)).fetch(DAY)


def test_the_demo_market_writes_itself_when_a_file_is_first_missing(tmp_path):
    demo = DemoFlatFiles(directory=str(tmp_path), tickers=20, seed=3, start="2024-04-01")
    table = demo.read([DAY])
    assert table.num_rows > 0 and set(table["date"].to_pylist()) == {DAY}
    assert (tmp_path / "reference" / "tickers.json").exists()  # the reference files too
    tickers = SavedReference(directory=str(tmp_path)).tickers()
    assert {r["ticker"] for r in tickers} >= set(table["ticker"].to_pylist())


def test_saved_reference_without_files_is_empty(tmp_path):
    saved = SavedReference(directory=str(tmp_path))
    assert saved.tickers() == [] and saved.splits() == []
