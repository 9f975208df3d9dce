-- The per-(ticker, session) tables of the analytical layer become hypertables like ohlcv
-- (issue 7; the native variant explains why); rows already stored are migrated.
SELECT create_hypertable('options_daily_summary', 'date', chunk_time_interval => INTERVAL '1 month',
                         migrate_data => true, if_not_exists => true);
SELECT create_hypertable('ticker_metrics', 'date', chunk_time_interval => INTERVAL '1 month',
                         migrate_data => true, if_not_exists => true);
SELECT create_hypertable('wyckoff_snapshots', 'date', chunk_time_interval => INTERVAL '1 month',
                         migrate_data => true, if_not_exists => true);
