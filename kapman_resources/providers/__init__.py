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

from kapman_resources.claude import ClaudeResource
from kapman_resources.providers.flat_files import (
    DemoFlatFiles,
    FlatFilesProvider,
    LocalFlatFiles,
    S3FlatFiles,
)
from kapman_resources.providers.market_rest import (
    DemoMassiveRest,
    MarketRestProvider,
    MassiveRest,
)
from kapman_resources.providers.reference import ReferenceProvider, SavedReference
from kapman_resources.settings import Settings

__all__ = [
    "SOURCES",
    "DemoFlatFiles",
    "DemoMassiveRest",
    "FlatFilesProvider",
    "LocalFlatFiles",
    "MarketRestProvider",
    "MassiveRest",
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


def _demo_flat_files(s: Settings) -> DemoFlatFiles:
    return DemoFlatFiles(directory=str(s.flatfiles_dir), tickers=s.demo_tickers, seed=s.demo_seed,
                         start=s.history_start.isoformat())  # fmt: skip


def _massive_rest(s: Settings) -> MassiveRest:
    return MassiveRest(
        key=_secret("MASSIVE_API_KEY", bool(s.massive_api_key)),
        base_url=s.massive_rest_url,
        concurrency=s.rest_concurrency,
    )


def _saved_reference(settings: Settings) -> SavedReference:
    return SavedReference(directory=str(settings.flatfiles_dir))


# KAPMAN_FLATFILES_SOURCE -> {resource key -> provider} (the names are settings.FLATFILES_SOURCES).
# A new source (Massive REST, its demo twin) is one entry; a new kind of data is one more key.
SOURCES: dict[str, dict[str, Callable[[Settings], dg.ConfigurableResource]]] = {
    "demo": {
        "flat_files": _demo_flat_files,
        "reference_data": _saved_reference,
        "market_rest": lambda s: DemoMassiveRest(
            flat_files=_demo_flat_files(s), seed=s.demo_seed, concurrency=s.rest_concurrency
        ),  # fmt: skip
    },
    "local": {
        "flat_files": lambda s: LocalFlatFiles(directory=str(s.flatfiles_dir)),
        "reference_data": _saved_reference,
        "market_rest": _massive_rest,
    },
    "s3": {
        "flat_files": _s3,
        "reference_data": _saved_reference,  # saved responses, until the REST provider
        "market_rest": _massive_rest,
    },
}


def claude(s: Settings) -> ClaudeResource:
    """Claude for idea rationales (no key: every idea keeps its rule-based rationale)."""
    return ClaudeResource(api_key=_secret("ANTHROPIC_API_KEY", bool(s.anthropic_api_key)),
                          model=s.claude_model, max_calls=s.llm_max_calls,
                          max_tokens=s.llm_max_tokens)  # fmt: skip


def providers(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The provider resources for these settings, by resource key."""
    built = {key: build(settings) for key, build in SOURCES[settings.flatfiles_source].items()}
    return {**built, "claude": claude(settings)}
