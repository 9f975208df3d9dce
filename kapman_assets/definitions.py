"""The Kapman code location: every layer's assets and checks, the jobs, and the resources."""

import dagster as dg

from kapman_assets import (
    bad_prints,
    calibration,
    forecasts,
    jobs,
    ohlcv,
    options,
    outcomes,
    recommendations,
    reference_data,
    retention,
    ticker_analysis,
    universe,
)
from kapman_resources.io_manager import KapmanIOManager
from kapman_resources.providers import providers
from kapman_resources.settings import Settings, load_settings
from kapman_resources.warehouse import PostgresResource

# One module per layer: its assets, their checks and its GROUP. A new layer is one line here.
LAYERS = [ohlcv, bad_prints, retention, reference_data, options, ticker_analysis, universe, forecasts,
          recommendations, outcomes, calibration]  # fmt: skip


def build_resources(settings: Settings | None = None) -> dict:
    """Resources configured from the environment (see .env.example)."""
    return {
        "warehouse": PostgresResource(database_url=dg.EnvVar("KAPMAN_DATABASE_URL")),
        "warehouse_io_manager": KapmanIOManager(database_url=dg.EnvVar("KAPMAN_DATABASE_URL")),
        **providers(settings or load_settings()),
    }


defs = dg.Definitions(
    assets=dg.load_assets_from_modules(LAYERS),
    asset_checks=dg.load_asset_checks_from_modules(LAYERS),
    jobs=jobs.JOBS,
    schedules=jobs.SCHEDULES,
    sensors=jobs.SENSORS,
    resources=build_resources(),
)
