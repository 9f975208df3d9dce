-- Forecasts and trade ideas (issue 8): the fitted models, each ticker-day's p_up, the full
-- structure of a recommendation and why an idea was not made.

-- One walk-forward logistic model per refit day (the first session of a month) and horizon.
-- Plain numbers: a stored model predicts without scikit-learn (kapman_assets/analytics/
-- forecast_model.py).
CREATE TABLE IF NOT EXISTS forecast_models (
    fit_date                        date NOT NULL,
    horizon_sessions                integer NOT NULL CHECK (horizon_sessions > 0),
    features                        text[] NOT NULL,
    means                           double precision[] NOT NULL,
    scales                          double precision[] NOT NULL,
    coefficients                    double precision[] NOT NULL,
    intercept                       double precision NOT NULL,
    training_start                  date NOT NULL,
    training_end                    date NOT NULL,
    training_rows                   integer NOT NULL,
    climatology                     double precision NOT NULL,
    brier_in_sample                 double precision NOT NULL,
    brier_out_of_sample             double precision NOT NULL,
    brier_climatology_out_of_sample double precision NOT NULL,
    shrink_weight                   double precision NOT NULL CHECK (shrink_weight BETWEEN 0 AND 1),
    fitted_at                       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fit_date, horizon_sessions),
    CHECK (training_end < fit_date)
);

-- Every scope ticker-day's probability of an up move over the horizon, and its model.
CREATE TABLE IF NOT EXISTS directional_forecasts (
    date             date NOT NULL,
    ticker           text NOT NULL,
    horizon_sessions integer NOT NULL,
    p_up             double precision NOT NULL CHECK (p_up BETWEEN 0 AND 1),
    p_model          double precision NOT NULL,   -- before shrinkage to climatology
    model_fit_date   date NOT NULL,
    entry_close      double precision NOT NULL,   -- the session's raw close
    signal           text,
    PRIMARY KEY (date, ticker)
);
CREATE INDEX IF NOT EXISTS directional_forecasts_ticker_idx ON directional_forecasts (ticker, date);

-- The whole structure of an idea (legs keep their OCC tickers, side, quantity and limit).
ALTER TABLE recommendations ADD COLUMN IF NOT EXISTS expiration date;
ALTER TABLE recommendations ADD COLUMN IF NOT EXISTS dte integer;
ALTER TABLE recommendations ADD COLUMN IF NOT EXISTS max_profit numeric;  -- NULL: unbounded
ALTER TABLE recommendations ADD COLUMN IF NOT EXISTS breakeven double precision;
ALTER TABLE recommendations ADD COLUMN IF NOT EXISTS capital_required numeric;
ALTER TABLE recommendations ADD COLUMN IF NOT EXISTS candidate_id text;
ALTER TABLE recommendations ADD COLUMN IF NOT EXISTS candidates integer;
ALTER TABLE recommendations ADD COLUMN IF NOT EXISTS model_fit_date date;
ALTER TABLE recommendations ADD COLUMN IF NOT EXISTS facts_json jsonb;  -- what the rationale cites
CREATE UNIQUE INDEX IF NOT EXISTS recommendations_one_per_ticker_day
    ON recommendations (date, ticker);

-- An actionable signal that got no idea, and why (no chain, no strategy, no valid contract).
CREATE TABLE IF NOT EXISTS recommendation_skips (
    date     date NOT NULL,
    ticker   text NOT NULL,
    signal   text NOT NULL,
    strategy text,
    reason   text NOT NULL,
    detail   text,            -- what the rules saw, e.g. how many contracts passed the filters
    PRIMARY KEY (date, ticker)
);

-- Outcomes, keyed by the session they resolve on (never before the horizon) and by the idea's
-- (date, ticker), which survives a rerun of recommendations (its identity id does not). Nothing
-- wrote the seed's versions of these two tables: they are replaced.
DROP TABLE IF EXISTS recommendation_outcomes;
CREATE TABLE recommendation_outcomes (
    date                date NOT NULL,             -- the session the horizon ended (scored on)
    recommendation_date date NOT NULL,
    ticker              text NOT NULL,
    strategy            text NOT NULL,
    signal              text,
    p_up                double precision NOT NULL,
    horizon_sessions    integer NOT NULL,
    entry_close         double precision NOT NULL,  -- raw close on the recommendation date
    exit_close          double precision NOT NULL,  -- raw close on the horizon session
    split_factor        double precision NOT NULL DEFAULT 1,  -- splits in between
    outcome             smallint NOT NULL CHECK (outcome IN (0, 1)),
    entry_value         numeric,                    -- position value at the limits (dollars)
    exit_value          numeric,
    pnl                 numeric,
    pnl_pct             double precision,           -- of the capital at risk
    capital_at_risk     numeric,
    mark_source         text NOT NULL CHECK (mark_source IN
                          ('mid', 'intrinsic', 'stale', 'mixed', 'unmarked')),
    legs_marked         jsonb NOT NULL,
    PRIMARY KEY (date, recommendation_date, ticker),
    CHECK (date > recommendation_date)
);

-- Every forecast scored at its horizon (the far larger sample behind the calibration).
CREATE TABLE IF NOT EXISTS forecast_outcomes (
    date             date NOT NULL,                 -- the session the horizon ended
    forecast_date    date NOT NULL,
    ticker           text NOT NULL,
    horizon_sessions integer NOT NULL,
    p_up             double precision NOT NULL,
    outcome          smallint NOT NULL CHECK (outcome IN (0, 1)),
    PRIMARY KEY (date, forecast_date, ticker),
    CHECK (date > forecast_date)
);

DROP TABLE IF EXISTS forecast_calibration;
CREATE TABLE forecast_calibration (
    date            date NOT NULL,               -- the session the report was computed for
    period          text NOT NULL,               -- 'week:YYYY-MM-DD' (week ending) or 'all'
    subset          text NOT NULL CHECK (subset IN ('forecasts', 'recommended')),
    n               integer NOT NULL,
    base_rate       double precision,
    brier           double precision,
    brier_skill     double precision,
    reliability     double precision,
    resolution      double precision,
    uncertainty     double precision,
    within_bin_variance    double precision,
    within_bin_covariance  double precision,
    ece             double precision,
    log_loss        double precision,
    brier_ci_low    double precision,
    brier_ci_high   double precision,
    reliability_json jsonb,
    PRIMARY KEY (date, period, subset)
);

-- Every Claude call for an idea, for audit: the per-idea prompt (the static system prompt is in
-- kapman_assets/llm_rationale.py), the raw answer, tokens, and what code made of it
-- (accepted | rejected: rule | error: cause | skipped: budget spent).
CREATE TABLE IF NOT EXISTS llm_calls (
    date              date NOT NULL,
    ticker            text NOT NULL,
    model             text NOT NULL,
    prompt            text NOT NULL,
    response          text,
    input_tokens      integer NOT NULL DEFAULT 0,
    output_tokens     integer NOT NULL DEFAULT 0,
    cache_read_tokens integer NOT NULL DEFAULT 0,
    outcome           text NOT NULL,
    called_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (date, ticker)
);

GRANT SELECT ON ALL TABLES IN SCHEMA public TO kapman_reader;
