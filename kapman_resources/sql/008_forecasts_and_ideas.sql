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
