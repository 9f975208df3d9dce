-- TimescaleDB: chunks appear on insert; rewrites and retention must first decompress the
-- chunks they touch (a DML on a compressed chunk is capped at 100,000 decompressed tuples).

CREATE OR REPLACE FUNCTION kapman_partitions_within(tbl text, lo date, hi date)
RETURNS SETOF text LANGUAGE sql STABLE AS $$ SELECT NULL::text WHERE false $$;

-- Decompress every chunk overlapping [lo, hi) (chunks are 30-day ranges, not calendar months).
CREATE OR REPLACE FUNCTION kapman_prepare_rewrite(tbl text, lo date, hi date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    ch record;
    n integer := 0;
BEGIN
    FOR ch IN
        SELECT format('%I.%I', chunk_schema, chunk_name)::regclass AS chunk
        FROM timescaledb_information.chunks
        WHERE hypertable_schema = 'public' AND hypertable_name = tbl AND is_compressed
          -- a date dimension's bounds are UTC midnights; hi::timestamptz would use the session
          -- TimeZone and also pick the neighbouring chunk (e.g. America/New_York, Asia/Tokyo)
          AND (range_start AT TIME ZONE 'UTC')::date < hi
          AND (range_end AT TIME ZONE 'UTC')::date > lo
    LOOP
        PERFORM decompress_chunk(ch.chunk, true);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION kapman_apply_retention(tbl text, cutoff date,
                                                  OUT partitions_dropped integer,
                                                  OUT rows_deleted bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I WHERE date < $1', tbl) INTO rows_deleted USING cutoff;
    SELECT count(*) INTO partitions_dropped FROM drop_chunks(tbl, older_than => cutoff);
    -- the chunk straddling the cutoff: decompress it, then delete below the cutoff
    PERFORM kapman_prepare_rewrite(tbl, '-infinity'::date, cutoff);
    EXECUTE format('DELETE FROM %I WHERE date < $1', tbl) USING cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
END $$;
