-- Where each stored session of ohlcv came from (issue 7), and how the indicators JSON is stored.
-- ohlcv_loads: the grouped daily REST endpoint the
-- same evening (provisional) or the day-aggregate flat file (final, the source of record), with
-- the file's ETag so a republished file is reloaded. Written in the slice's transaction.
CREATE TABLE IF NOT EXISTS ohlcv_loads (
    date        date PRIMARY KEY,
    source      text NOT NULL CHECK (source IN ('flat_file', 'grouped_daily')),
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    etag        text,
    location    text,
    rows        integer NOT NULL
);
GRANT SELECT ON ohlcv_loads TO kapman_reader;

-- The indicators JSON (~130 values, ~4 KB a row) is stored uncompressed: pglz (the only TOAST
-- compression the embedded server has) made writing it the slowest part of an analytical
-- backfill (measured: 5.5 s vs 3.5 s per 64K rows), at twice the storage.
ALTER TABLE ticker_metrics ALTER COLUMN technical_indicators_json SET STORAGE EXTERNAL;
