"""Kapman's data providers, and the one place that picks them from the settings.

Each provider is its own `ConfigurableResource` behind a small abstract interface (the shape
of Dagster's `HNClient` example): `FlatFilesProvider` (day-aggregate files: demo, local mirror,
S3) and `ReferenceProvider` (ticker attributes and splits). Assets ask for the interface and
never learn which provider they got; a new source is a new class and one entry below.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
from dagster_aws.s3 import S3Resource

from kapman_resources.providers.flat_files import (
    DemoFlatFiles,
    FlatFilesProvider,
    LocalFlatFiles,
    S3FlatFiles,
)
from kapman_resources.providers.reference import ReferenceProvider, SavedReference
from kapman_resources.settings import Settings

__all__ = [
    "FLAT_FILES",
    "DemoFlatFiles",
    "FlatFilesProvider",
    "LocalFlatFiles",
    "ReferenceProvider",
    "S3FlatFiles",
    "SavedReference",
    "providers",
]


def _secret(name: str, present: bool) -> dg.EnvVar | None:
    """A secret resolved by Dagster from the environment at run time, never stored in config."""
    return dg.EnvVar(name) if present else None


def _s3(settings: Settings) -> S3FlatFiles:
    keys = bool(settings.s3_access_key_id)
    return S3FlatFiles(
        s3=S3Resource(
            endpoint_url=settings.s3_endpoint,
            aws_access_key_id=_secret("MASSIVE_S3_ACCESS_KEY_ID", keys),
            aws_secret_access_key=_secret("MASSIVE_S3_SECRET_ACCESS_KEY", keys),
            region_name="us-east-1",
            max_attempts=3,
        ),
        bucket=settings.s3_bucket,
    )


# KAPMAN_FLATFILES_SOURCE -> provider (the names are settings.FLATFILES_SOURCES)
FLAT_FILES: dict[str, Callable[[Settings], FlatFilesProvider]] = {
    "demo": lambda s: DemoFlatFiles(
        directory=str(s.flatfiles_dir),
        tickers=s.demo_tickers,
        seed=s.demo_seed,
        start=s.history_start.isoformat(),
    ),
    "local": lambda s: LocalFlatFiles(directory=str(s.flatfiles_dir)),
    "s3": _s3,
}


def providers(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The provider resources for these settings, by resource key."""
    return {
        "flat_files": FLAT_FILES[settings.flatfiles_source](settings),
        "reference_data": SavedReference(directory=str(settings.flatfiles_dir)),
    }
