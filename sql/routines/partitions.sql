-- Partition helpers, shared by the raw samples (daily partitions) and the rollup
-- tiers (weekly and monthly). Bounds are computed in UTC, whatever the session's
-- TimeZone.

CREATE OR REPLACE FUNCTION vigie_partition_start(p_unit text, p_at timestamptz)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc(p_unit, p_at, 'UTC')
$$;

CREATE OR REPLACE FUNCTION vigie_partition_end(p_unit text, p_at timestamptz)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT ((date_trunc(p_unit, p_at, 'UTC') AT TIME ZONE 'UTC')
            + ('1 ' || p_unit)::interval) AT TIME ZONE 'UTC'
$$;

-- Creates the partitions of `p_table` (range-partitioned by time, one partition per
-- `p_unit`: day, week or month) that cover [p_from, p_to] and do not exist yet.
-- Returns how many it created. A partition that cannot be created now (a lock not
-- obtained within lock_timeout, or rows for its range already in the default
-- partition) is skipped with a notice: the default partition keeps taking those
-- rows, and the next run tries again.
CREATE OR REPLACE FUNCTION vigie_create_partitions(
    p_table text, p_unit text, p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_start   timestamptz := vigie_partition_start(p_unit, p_from);
    v_end     timestamptz;
    v_name    text;
    v_created integer := 0;
BEGIN
    WHILE v_start <= p_to LOOP
        v_end := vigie_partition_end(p_unit, v_start);
        v_name := format('%s_p%s', p_table, to_char(v_start AT TIME ZONE 'UTC', 'YYYYMMDD'));
        IF to_regclass(v_name) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               v_name, p_table, v_start, v_end);
                v_created := v_created + 1;
            EXCEPTION WHEN lock_not_available OR check_violation THEN
                RAISE NOTICE 'partition % not created now: %', v_name, SQLERRM;
            END;
        END IF;
        v_start := v_end;
    END LOOP;
    RETURN v_created;
END
$$;

-- The time range of each partition of a range-partitioned table, oldest first
-- (the default partition has NULL bounds).
CREATE OR REPLACE FUNCTION vigie_partitions(p_table text)
RETURNS TABLE (partition regclass, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT c.oid::regclass,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = p_table::regclass
     ORDER BY 2 NULLS LAST
$$;
