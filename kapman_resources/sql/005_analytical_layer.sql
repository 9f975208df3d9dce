-- The analytical layer as assets (issue 7): snapshot provenance on options_chains, the per-ticker
-- outcome of each snapshot, the JSON groups of the options summary and the daily_snapshots view.

-- When the chain was taken and when the underlying's price was last updated (a stale
-- underlying timestamp is flagged by an asset check).
ALTER TABLE options_chains ADD COLUMN IF NOT EXISTS underlying_updated_at timestamptz;
ALTER TABLE options_chains ADD COLUMN IF NOT EXISTS snapshot_at timestamptz;

-- One row per (session, scope ticker): what the snapshot got, written in the same transaction
-- as the chains. status: ok | empty (no listed options) | failed | unknown (not in tickers).
CREATE TABLE IF NOT EXISTS options_chain_fetches (
    date        date NOT NULL,
    underlying  text NOT NULL,
    status      text NOT NULL CHECK (status IN ('ok', 'empty', 'failed', 'unknown')),
    contracts   integer NOT NULL DEFAULT 0,
    message     text,
    PRIMARY KEY (date, underlying)
);

DROP VIEW IF EXISTS daily_snapshots;

ALTER TABLE options_daily_summary RENAME COLUMN details_json TO dealer_details_json;
ALTER TABLE options_daily_summary ADD COLUMN volatility_details_json jsonb;
ALTER TABLE options_daily_summary ADD COLUMN dgpi_display double precision;
ALTER TABLE options_daily_summary ADD COLUMN adv20_dollars double precision;
ALTER TABLE options_daily_summary ADD COLUMN chain_date date;

ALTER TABLE ticker_metrics ADD COLUMN gap_filled boolean NOT NULL DEFAULT false;
ALTER TABLE ticker_metrics ADD COLUMN options_date date;  -- the chain iv_hv_diff comes from

-- The seed's one-row-per-ticker-day shape: metrics, options summary and Wyckoff state, plus
-- the four JSON groups.
CREATE VIEW daily_snapshots AS
SELECT m.ticker, m.date, m.close, m.rsi_14, m.macd_line, m.macd_signal, m.macd_histogram,
       m.stoch_k, m.stoch_d, m.mfi_14, m.sma_20, m.sma_50, m.sma_200, m.ema_12, m.ema_26,
       m.adx_14, m.atr_14, m.bbands_upper, m.bbands_middle, m.bbands_lower, m.bbands_width,
       m.obv, m.vwap, m.rvol, m.vsi, m.hv_20, m.hv_60, m.iv_hv_diff, m.illiquid,
       o.gex_total, o.gex_gross, o.dex, o.dealer_position, o.gamma_flip_level,
       o.call_wall_primary, o.put_wall_primary, o.dgpi, o.dgpi_display, o.average_iv, o.iv_30,
       o.iv_90, o.iv_skew_25d, o.iv_term_structure, o.put_call_ratio_oi,
       w.wyckoff_phase, w.phase_confidence, w.range_type, w.range_support, w.range_resistance,
       w.events, w.primary_event, w.bc_score, w.spring_score, w.composite_score, w.signal,
       m.technical_indicators_json,
       CASE WHEN o.ticker IS NULL THEN NULL ELSE
         jsonb_build_object('gex_total', o.gex_total, 'gex_gross', o.gex_gross, 'dex', o.dex,
                            'dealer_position', o.dealer_position,
                            'gamma_flip_level', o.gamma_flip_level,
                            'call_wall_primary', o.call_wall_primary,
                            'put_wall_primary', o.put_wall_primary, 'dgpi', o.dgpi,
                            'dgpi_display', o.dgpi_display, 'adv20_dollars', o.adv20_dollars)
         || COALESCE(o.dealer_details_json, '{}'::jsonb) END AS dealer_metrics_json,
       CASE WHEN o.ticker IS NULL THEN NULL ELSE
         jsonb_build_object('average_iv', o.average_iv, 'iv_30', o.iv_30, 'iv_90', o.iv_90,
                            'iv_skew_25d', o.iv_skew_25d, 'iv_term_structure', o.iv_term_structure,
                            'put_call_ratio_oi', o.put_call_ratio_oi)
         || COALESCE(o.volatility_details_json, '{}'::jsonb) END AS volatility_metrics_json,
       jsonb_build_object('close', m.close, 'rvol', m.rvol, 'vsi', m.vsi, 'hv_20', m.hv_20,
                          'hv_60', m.hv_60, 'iv_hv_diff', m.iv_hv_diff, 'illiquid', m.illiquid,
                          'gap_filled', m.gap_filled) AS price_metrics_json
FROM ticker_metrics m
LEFT JOIN options_daily_summary o ON o.ticker = m.ticker AND o.date = m.date
LEFT JOIN wyckoff_snapshots w ON w.ticker = m.ticker AND w.date = m.date;

GRANT SELECT ON ALL TABLES IN SCHEMA public TO kapman_reader;
