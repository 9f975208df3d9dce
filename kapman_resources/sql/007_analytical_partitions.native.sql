-- The per-(ticker, session) tables of the analytical layer become monthly range partitions like
-- ohlcv (issue 7): a backfill then TRUNCATEs whole months and COPYs into them in one
-- transaction, which writes no WAL under the embedded server's wal_level=minimal (the
-- indicators JSON made a 730-session backfill write ~500 MB of WAL), and each month's index
-- stays small. Rows already stored are moved across.

DROP VIEW IF EXISTS daily_snapshots;

ALTER TABLE options_daily_summary RENAME TO options_daily_summary_unpartitioned;
ALTER INDEX options_daily_summary_pkey RENAME TO options_daily_summary_unpartitioned_pkey;
ALTER INDEX IF EXISTS options_daily_summary_date_idx RENAME TO options_daily_summary_unpartitioned_date_idx;
CREATE TABLE options_daily_summary (LIKE options_daily_summary_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                  INCLUDING STORAGE) PARTITION BY RANGE (date);
ALTER TABLE options_daily_summary ADD PRIMARY KEY (ticker, date);
CREATE INDEX options_daily_summary_date_idx ON options_daily_summary (date);
SELECT kapman_ensure_month_partitions('options_daily_summary', min(date), max(date) + 1)
FROM options_daily_summary_unpartitioned HAVING count(*) > 0;
INSERT INTO options_daily_summary SELECT * FROM options_daily_summary_unpartitioned;
DROP TABLE options_daily_summary_unpartitioned;

ALTER TABLE ticker_metrics RENAME TO ticker_metrics_unpartitioned;
ALTER INDEX ticker_metrics_pkey RENAME TO ticker_metrics_unpartitioned_pkey;
ALTER INDEX IF EXISTS ticker_metrics_date_idx RENAME TO ticker_metrics_unpartitioned_date_idx;
CREATE TABLE ticker_metrics (LIKE ticker_metrics_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                  INCLUDING STORAGE) PARTITION BY RANGE (date);
ALTER TABLE ticker_metrics ADD PRIMARY KEY (ticker, date);
CREATE INDEX ticker_metrics_date_idx ON ticker_metrics (date);
SELECT kapman_ensure_month_partitions('ticker_metrics', min(date), max(date) + 1)
FROM ticker_metrics_unpartitioned HAVING count(*) > 0;
INSERT INTO ticker_metrics SELECT * FROM ticker_metrics_unpartitioned;
DROP TABLE ticker_metrics_unpartitioned;

ALTER TABLE wyckoff_snapshots RENAME TO wyckoff_snapshots_unpartitioned;
ALTER INDEX wyckoff_snapshots_pkey RENAME TO wyckoff_snapshots_unpartitioned_pkey;
ALTER INDEX IF EXISTS wyckoff_snapshots_date_idx RENAME TO wyckoff_snapshots_unpartitioned_date_idx;
CREATE TABLE wyckoff_snapshots (LIKE wyckoff_snapshots_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                  INCLUDING STORAGE) PARTITION BY RANGE (date);
ALTER TABLE wyckoff_snapshots ADD PRIMARY KEY (ticker, date);
CREATE INDEX wyckoff_snapshots_date_idx ON wyckoff_snapshots (date);
SELECT kapman_ensure_month_partitions('wyckoff_snapshots', min(date), max(date) + 1)
FROM wyckoff_snapshots_unpartitioned HAVING count(*) > 0;
INSERT INTO wyckoff_snapshots SELECT * FROM wyckoff_snapshots_unpartitioned;
DROP TABLE wyckoff_snapshots_unpartitioned;

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
