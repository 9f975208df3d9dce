-- The stored universe's analytics (issue 8): `universe_features` holds, for every ticker of
-- `ohlcv` that was liquid on some stored session, the per-session inputs of the directional
-- model and the Wyckoff marks (the same analytics as the scope's tables, without the indicators
-- JSON); it is rewritten whole by each refresh. `signal_edge` is the event study of those marks
-- as of a session (walk-forward: only events whose horizon ended by then).
CREATE TABLE IF NOT EXISTS universe_features (
    ticker          text NOT NULL,
    date            date NOT NULL,
    sma_50          double precision,
    sma_200         double precision,
    rsi_14          double precision,
    hv_20           double precision,
    rvol            double precision,
    adx_14          double precision,
    composite_score double precision,
    bc_score        double precision,
    spring_score    double precision,
    wyckoff_phase   text,
    events          text[],
    signal          text,
    PRIMARY KEY (ticker, date)
);

CREATE TABLE IF NOT EXISTS signal_edge (
    date             date NOT NULL,   -- the session the edge is measured as of
    kind             text NOT NULL CHECK (kind IN ('event', 'signal')),
    name             text NOT NULL,
    horizon          integer NOT NULL CHECK (horizon > 0),
    n                integer NOT NULL,
    sessions         integer NOT NULL,
    mean_return      double precision,
    median_return    double precision,
    hit_rate         double precision,
    base_n           integer NOT NULL,
    base_mean_return double precision,
    base_hit_rate    double precision,
    excess_return    double precision,
    excess_hit_rate  double precision,
    excess_ci_lo     double precision,
    excess_ci_hi     double precision,
    window_start     date NOT NULL,
    window_end       date NOT NULL,
    PRIMARY KEY (date, kind, name, horizon),
    CHECK (window_end <= date)
);

GRANT SELECT ON ALL TABLES IN SCHEMA public TO kapman_reader;

-- Models carry the version of the code that fitted them (forecasts.MODEL_VERSION): a run reuses
-- a stored model only of its own version, so models fitted before this migration (on the
-- scope only, indicators standardized) are refitted when next needed. Each forecast records
-- which fit of its month's model made it, so forecasts left over from an earlier fit are seen.
ALTER TABLE forecast_models ADD COLUMN IF NOT EXISTS model_version integer NOT NULL DEFAULT 1;
ALTER TABLE directional_forecasts ADD COLUMN IF NOT EXISTS model_fitted_at timestamptz;
