-- Time-series tables on PostgreSQL's native declarative range partitioning (no TimescaleDB).
-- One partition per calendar month, created ahead of the data by kapman_ensure_month_partitions;
-- retention drops whole expired partitions and deletes the remainder in the oldest one.

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
) PARTITION BY RANGE (date);

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
) PARTITION BY RANGE (date);
CREATE INDEX IF NOT EXISTS options_chains_underlying_idx ON options_chains (underlying, date);

CREATE OR REPLACE FUNCTION kapman_ensure_month_partitions(tbl text, lo date, hi date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', lo)::date;
    created integer := 0;
    part text;
BEGIN
    WHILE m <= hi LOOP
        part := format('%s_y%sm%s', tbl, to_char(m, 'YYYY'), to_char(m, 'MM'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           part, tbl, m, (m + interval '1 month')::date);
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;

-- Drop every partition wholly older than cutoff, delete the rest below cutoff.
CREATE OR REPLACE FUNCTION kapman_apply_retention(tbl text, cutoff date,
                                                  OUT partitions_dropped integer,
                                                  OUT rows_deleted bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n bigint;
BEGIN
    partitions_dropped := 0;
    rows_deleted := 0;
    FOR r IN
        SELECT c.relname AS part,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([0-9-]+)''\)'))[1]::date AS upper_bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = tbl::regclass
    LOOP
        IF r.upper_bound <= cutoff THEN
            EXECUTE format('SELECT count(*) FROM %I', r.part) INTO n;
            EXECUTE format('DROP TABLE %I', r.part);
            partitions_dropped := partitions_dropped + 1;
            rows_deleted := rows_deleted + n;
        END IF;
    END LOOP;
    EXECUTE format('DELETE FROM %I WHERE date < $1', tbl) USING cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    rows_deleted := rows_deleted + n;
END $$;

-- Native partitions are never compressed: nothing to prepare before a rewrite.
CREATE OR REPLACE FUNCTION kapman_prepare_rewrite(tbl text, lo date, hi date)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;
