-- Time-series tables as TimescaleDB hypertables, used when the extension exists. Chunks are
-- fixed 30-day ranges (Timescale turns "1 month" into 30 days), not calendar months.
-- ohlcv chunks older than 365 days are compressed (segment by ticker). Option chains keep 90
-- days by a Timescale retention policy. ohlcv keeps 730 *trading* days, which no interval
-- policy can express: the retention step computes the exact session cutoff and calls
-- kapman_apply_retention (drop_chunks, then a DELETE of the remainder).

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE IF NOT EXISTS ohlcv (
    ticker_id     integer NOT NULL,
    date          date NOT NULL,
    open          double precision NOT NULL,
    high          double precision NOT NULL,
    low           double precision NOT NULL,
    close         double precision NOT NULL,
    volume        double precision NOT NULL,
    transactions  bigint,
    PRIMARY KEY (ticker_id, date)
);
SELECT create_hypertable('ohlcv', 'date', chunk_time_interval => INTERVAL '1 month',
                         if_not_exists => true);
ALTER TABLE ohlcv SET (timescaledb.compress, timescaledb.compress_segmentby = 'ticker_id',
                       timescaledb.compress_orderby = 'date');
SELECT add_compression_policy('ohlcv', INTERVAL '365 days', if_not_exists => true);

CREATE TABLE IF NOT EXISTS options_chains (
    date                date NOT NULL,
    underlying          text NOT NULL,
    contract_ticker     text NOT NULL,
    expiration          date NOT NULL,
    strike              numeric NOT NULL,
    contract_type       text NOT NULL CHECK (contract_type IN ('call', 'put')),
    open_interest       bigint,
    volume              double precision,
    implied_volatility  double precision,
    delta               double precision,
    gamma               double precision,
    theta               double precision,
    vega                double precision,
    bid                 numeric,
    ask                 numeric,
    underlying_price    double precision,
    shares_per_contract integer,
    PRIMARY KEY (date, contract_ticker)
);
SELECT create_hypertable('options_chains', 'date', chunk_time_interval => INTERVAL '1 month',
                         if_not_exists => true);
CREATE INDEX IF NOT EXISTS options_chains_underlying_idx ON options_chains (underlying, date);
SELECT add_retention_policy('options_chains', INTERVAL '90 days', if_not_exists => true);

-- Hypertables create chunks on insert: nothing to prepare.
CREATE OR REPLACE FUNCTION kapman_ensure_month_partitions(tbl text, lo date, hi date)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;

CREATE OR REPLACE FUNCTION kapman_apply_retention(tbl text, cutoff date,
                                                  OUT partitions_dropped integer,
                                                  OUT rows_deleted bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I WHERE date < $1', tbl) INTO rows_deleted USING cutoff;
    SELECT count(*) INTO partitions_dropped FROM drop_chunks(tbl, older_than => cutoff);
    EXECUTE format('DELETE FROM %I WHERE date < $1', tbl) USING cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
END $$;

-- Decompress the chunks a rewrite touches (compressed chunks are slow and capped to rewrite).
CREATE OR REPLACE FUNCTION kapman_prepare_rewrite(tbl text, lo date, hi date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    c regclass;
    n integer := 0;
BEGIN
    FOR c IN SELECT show_chunks(tbl, older_than => hi + 1, newer_than => lo - 31) LOOP
        IF EXISTS (SELECT 1 FROM timescaledb_information.chunks ch
                   WHERE format('%I.%I', ch.chunk_schema, ch.chunk_name)::regclass = c
                     AND ch.is_compressed) THEN
            PERFORM decompress_chunk(c, true);
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END $$;
