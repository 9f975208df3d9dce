"""Kapman settings: every knob comes from an environment variable with a sensible default."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout, for an editable install
DEFAULT_HISTORY_START = "2023-01-03"
OHLCV_RETENTION_SESSIONS = 730
OPTIONS_RETENTION_DAYS = 90
DEFAULT_DEMO_TICKERS = 2000
DEFAULT_DEMO_SEED = 7
DEFAULT_REST_CONCURRENCY = 8  # option-chain snapshots fetched at once
DEFAULT_CHAIN_FAILURE_THRESHOLD = 0.10  # the chains run fails when more scope tickers failed
DEFAULT_DEMO_CHAIN_SESSIONS = 5  # sessions of chains `kapman demo` backfills (the UI: up to 90)
DEFAULT_CLAUDE_MODEL = "claude-sonnet-4-5"  # the model that writes idea rationales
DEFAULT_LLM_MAX_CALLS = 20  # Claude calls per run: an evening has a handful of ideas
DEFAULT_LLM_MAX_TOKENS = 60_000  # input + output tokens per run
MASSIVE_S3_ENDPOINT = "https://files.massive.com"
MASSIVE_S3_BUCKET = "flatfiles"
FLATFILES_SOURCES = ("demo", "local", "s3")  # each is a provider (kapman_resources.providers)
# Set by `kapman` when it exports the embedded server's URL for Dagster's processes, so that
# URL is not mistaken for a user-supplied external server by later commands.
EMBEDDED_MARKER = "KAPMAN_DATABASE_URL_IS_EMBEDDED"


class SettingsError(ValueError):
    """A setting has a value Kapman cannot use; the message names the variable."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int_env(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from exc


def _fraction_env(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a number") from exc
    if not 0 <= value <= 1:
        raise SettingsError(f"{name}={raw!r}: expected a fraction between 0 and 1")
    return value


def _date_env(name: str, default: str) -> dt.date:
    raw = _env(name, default)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a date (YYYY-MM-DD)") from exc


@dataclass(frozen=True)
class Settings:
    env: str
    home: Path
    database_url: str | None
    history_start: dt.date
    flatfiles_source: str
    flatfiles_dir: Path
    s3_endpoint: str
    s3_bucket: str
    s3_access_key_id: str | None
    s3_secret_access_key: str | None
    demo_tickers: int
    demo_seed: int
    massive_api_key: str | None = field(default=None, repr=False)  # a secret: never printed
    massive_rest_url: str = "https://api.massive.com"
    rest_concurrency: int = DEFAULT_REST_CONCURRENCY
    chain_failure_threshold: float = DEFAULT_CHAIN_FAILURE_THRESHOLD
    demo_chain_sessions: int = DEFAULT_DEMO_CHAIN_SESSIONS
    anthropic_api_key: str | None = field(default=None, repr=False)  # a secret: never printed
    claude_model: str = DEFAULT_CLAUDE_MODEL
    llm_max_calls: int = DEFAULT_LLM_MAX_CALLS
    llm_max_tokens: int = DEFAULT_LLM_MAX_TOKENS

    @property
    def embedded(self) -> bool:
        """True when Kapman manages its own PostgreSQL server (no KAPMAN_DATABASE_URL)."""
        return self.database_url is None


def default_home() -> Path:
    """`.kapman` in the source checkout (an editable install), else in the current directory."""
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / ".kapman"
    return Path.cwd() / ".kapman"


def load_settings() -> Settings:
    """Read the settings from the environment (see .env.example for every variable)."""
    env = _env("KAPMAN_ENV", "dev")
    if env not in ("dev", "test", "prod"):
        raise SettingsError(f"KAPMAN_ENV={env!r}: expected dev, test or prod")
    home = Path(_env("KAPMAN_HOME", str(default_home()))).expanduser().resolve()
    has_s3_keys = bool(_env("MASSIVE_S3_ACCESS_KEY_ID"))
    source = _env("KAPMAN_FLATFILES_SOURCE", "s3" if has_s3_keys else "demo")
    if source not in FLATFILES_SOURCES:
        raise SettingsError(
            f"KAPMAN_FLATFILES_SOURCE={source!r}: expected {', '.join(FLATFILES_SOURCES[:-1])}"
            f" or {FLATFILES_SOURCES[-1]}"
        )
    default_dir = home / ("demo_market" if source == "demo" else "flatfiles")
    return Settings(
        env=env,
        home=home,
        database_url=None if _env(EMBEDDED_MARKER) else _env("KAPMAN_DATABASE_URL"),
        history_start=_date_env("KAPMAN_HISTORY_START", DEFAULT_HISTORY_START),
        flatfiles_source=source,
        flatfiles_dir=Path(_env("KAPMAN_FLATFILES_DIR", str(default_dir))).expanduser().resolve(),
        s3_endpoint=_env("MASSIVE_S3_ENDPOINT", MASSIVE_S3_ENDPOINT),
        s3_bucket=_env("MASSIVE_S3_BUCKET", MASSIVE_S3_BUCKET),
        s3_access_key_id=_env("MASSIVE_S3_ACCESS_KEY_ID"),
        s3_secret_access_key=_env("MASSIVE_S3_SECRET_ACCESS_KEY"),
        demo_tickers=_int_env("KAPMAN_DEMO_TICKERS", DEFAULT_DEMO_TICKERS),
        demo_seed=_int_env("KAPMAN_DEMO_SEED", DEFAULT_DEMO_SEED),
        massive_api_key=_env("MASSIVE_API_KEY"),
        massive_rest_url=_env("MASSIVE_REST_URL", "https://api.massive.com"),
        rest_concurrency=max(1, _int_env("KAPMAN_REST_CONCURRENCY", DEFAULT_REST_CONCURRENCY)),
        chain_failure_threshold=_fraction_env(
            "KAPMAN_CHAIN_FAILURE_THRESHOLD", DEFAULT_CHAIN_FAILURE_THRESHOLD
        ),
        demo_chain_sessions=max(
            1, _int_env("KAPMAN_DEMO_CHAIN_SESSIONS", DEFAULT_DEMO_CHAIN_SESSIONS)
        ),  # fmt: skip
        anthropic_api_key=_env("ANTHROPIC_API_KEY"),
        claude_model=_env("KAPMAN_CLAUDE_MODEL", DEFAULT_CLAUDE_MODEL),
        llm_max_calls=max(0, _int_env("KAPMAN_LLM_MAX_CALLS", DEFAULT_LLM_MAX_CALLS)),
        llm_max_tokens=max(0, _int_env("KAPMAN_LLM_MAX_TOKENS", DEFAULT_LLM_MAX_TOKENS)),
    )
