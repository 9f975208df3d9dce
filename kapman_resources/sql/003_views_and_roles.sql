-- The seed's one-row-per-ticker-day shape, joining metrics, options summary and Wyckoff state.
CREATE OR REPLACE VIEW daily_snapshots AS
SELECT m.ticker, m.date, m.close, m.rsi_14, m.macd_line, m.macd_signal, m.macd_histogram,
       m.stoch_k, m.stoch_d, m.mfi_14, m.sma_20, m.sma_50, m.sma_200, m.ema_12, m.ema_26,
       m.adx_14, m.atr_14, m.bbands_upper, m.bbands_middle, m.bbands_lower, m.bbands_width,
       m.obv, m.vwap, m.rvol, m.vsi, m.hv_20, m.hv_60, m.iv_hv_diff, m.illiquid,
       o.gex_total, o.gex_gross, o.dex, o.dealer_position, o.gamma_flip_level,
       o.call_wall_primary, o.put_wall_primary, o.dgpi, o.average_iv, o.iv_30, o.iv_90,
       o.iv_skew_25d, o.iv_term_structure, o.put_call_ratio_oi,
       w.wyckoff_phase, w.phase_confidence, w.range_type, w.range_support, w.range_resistance,
       w.events, w.primary_event, w.bc_score, w.spring_score, w.composite_score, w.signal
FROM ticker_metrics m
LEFT JOIN options_daily_summary o ON o.ticker = m.ticker AND o.date = m.date
LEFT JOIN wyckoff_snapshots w ON w.ticker = m.ticker AND w.date = m.date;

-- The dashboard connects as this read-only role (NOLOGIN until the dashboard work gives it a
-- login and a password from the environment).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kapman_reader') THEN
        CREATE ROLE kapman_reader NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO kapman_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO kapman_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO kapman_reader;
