-- Partitions are created ahead of a write in their own short transaction (two writers of the
-- same new month must not collide, and readers must not wait behind a whole backfill for the
-- parent's exclusive lock). A write then TRUNCATEs the partitions its window fully covers.

CREATE OR REPLACE FUNCTION kapman_ensure_month_partitions(tbl text, lo date, hi date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', lo)::date;
    created integer := 0;
    part text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('kapman_partitions:' || tbl));
    WHILE m < hi LOOP
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

-- The partitions of tbl lying wholly inside [lo, hi).
CREATE OR REPLACE FUNCTION kapman_partitions_within(tbl text, lo date, hi date)
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT part FROM (
        SELECT c.relname::text AS part,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                             'FROM \(''([0-9-]+)''\) TO \(''([0-9-]+)''\)')) AS b
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = tbl::regclass
    ) p
    WHERE b[1]::date >= lo AND b[2]::date <= hi
$$;
