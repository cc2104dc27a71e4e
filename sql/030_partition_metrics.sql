-- Raw samples in daily partitions.
--
-- Why: with a fleet, raw samples are by far the largest table (1,000 servers at 5 s
-- write 17 M rows a day). Expiring them with DELETE means millions of row deletions
-- a day, then vacuuming them out of a table and an index that span every day kept.
-- With one partition per day, a day that has aged out is dropped whole: no dead
-- rows, no vacuum, no bloat. Queries are unchanged: the key (server_id,
-- recorded_at) already contains the partition key, so ON CONFLICT keeps working.
--
-- A DEFAULT partition takes any sample outside the partitions that exist (a very
-- old backfill, or days ahead if maintenance has not run): ingest never fails for
-- lack of a partition. Maintenance (sql/032) creates the coming days' partitions
-- ahead of time, so normally the default partition stays empty.

-- Partition helpers, shared by the raw table and the rollup tiers (sql/031).
-- Bounds are computed in UTC, whatever the session's TimeZone.
CREATE FUNCTION vigie_partition_start(p_unit text, p_at timestamptz)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc(p_unit, p_at, 'UTC')
$$;

CREATE FUNCTION vigie_partition_end(p_unit text, p_at timestamptz)
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
CREATE FUNCTION vigie_create_partitions(
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
CREATE FUNCTION vigie_partitions(p_table text)
RETURNS TABLE (partition regclass, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT c.oid::regclass,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = p_table::regclass
     ORDER BY 2 NULLS LAST
$$;

-- Swap the plain table for a partitioned one with the same columns, constraints and
-- key. Existing samples are copied into it (a new installation has none).
ALTER TABLE metrics RENAME TO metrics_unpartitioned;
ALTER INDEX metrics_pkey RENAME TO metrics_unpartitioned_pkey;
ALTER SEQUENCE metrics_id_seq RENAME TO metrics_unpartitioned_id_seq;

CREATE TABLE metrics (
    id               bigint GENERATED ALWAYS AS IDENTITY,
    recorded_at      timestamptz      NOT NULL,
    network_sent_mb  double precision NOT NULL CHECK (network_sent_mb >= 0),
    network_recv_mb  double precision NOT NULL CHECK (network_recv_mb >= 0),
    server_id        integer NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    cpu_percent      real    NOT NULL CHECK (cpu_percent  BETWEEN 0 AND 100),
    ram_percent      real    NOT NULL CHECK (ram_percent  BETWEEN 0 AND 100),
    ram_used_mb      real    NOT NULL CHECK (ram_used_mb  >= 0),
    ram_total_mb     real    NOT NULL CHECK (ram_total_mb >= 0),
    disk_percent     real    NOT NULL CHECK (disk_percent BETWEEN 0 AND 100),
    disk_used_gb     real    NOT NULL CHECK (disk_used_gb >= 0),
    disk_total_gb    real    NOT NULL CHECK (disk_total_gb >= 0),
    PRIMARY KEY (server_id, recorded_at)
) PARTITION BY RANGE (recorded_at);

CREATE TABLE metrics_default PARTITION OF metrics DEFAULT;

-- Partitions for the days that hold samples (the last eight at most: older ones
-- are past the default retention and go to the default partition), today, and
-- the next three days.
DO $$
BEGIN
    PERFORM vigie_create_partitions(
        'metrics', 'day',
        (SELECT greatest(now() - interval '8 days', least(now(), coalesce(min(recorded_at), now())))
           FROM metrics_unpartitioned),
        now() + interval '3 days');
    -- Ids continue where the old table stopped.
    PERFORM setval(pg_get_serial_sequence('metrics', 'id'), max(id))
       FROM metrics_unpartitioned HAVING max(id) > 0;
END
$$;

INSERT INTO metrics (id, recorded_at, network_sent_mb, network_recv_mb, server_id, cpu_percent,
                     ram_percent, ram_used_mb, ram_total_mb, disk_percent, disk_used_gb,
                     disk_total_gb)
OVERRIDING SYSTEM VALUE
SELECT id, recorded_at, network_sent_mb, network_recv_mb, server_id, cpu_percent, ram_percent,
       ram_used_mb, ram_total_mb, disk_percent, disk_used_gb, disk_total_gb
  FROM metrics_unpartitioned;


-- Triggers that earlier migrations put on metrics follow it to the new table
-- (views would not: dropping the old table then fails, and this migration with it,
-- rather than leaving a view reading a table nothing writes to).
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger
              WHERE tgrelid = 'metrics_unpartitioned'::regclass AND NOT tgisinternal LOOP
        EXECUTE regexp_replace(t.def, ' ON (public\.)?metrics_unpartitioned ', ' ON metrics ');
    END LOOP;
END
$$;

DROP TABLE metrics_unpartitioned;

-- The new table's constraints were named while the old ones existed (..._check1):
-- give them back their plain names.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
              WHERE conrelid = 'metrics'::regclass AND conname ~ '_(check|fkey)1$' LOOP
        EXECUTE format('ALTER TABLE metrics RENAME CONSTRAINT %I TO %I',
                       c.conname, left(c.conname, -1));
    END LOOP;
END
$$;

ANALYZE metrics;

-- vigie_ingest (sql/002), unchanged but for how it finds an already stored sample,
-- and with its plans made once per connection. Over partitions, its join on
-- metrics was planned at every call (custom plans always look cheaper than a
-- generic one that lists every partition), and, the number of samples of a call
-- being unknown to the planner (it guesses 100), could become a hash join that
-- reads every stored sample of the server. A LATERAL lookup with LIMIT 1 is one
-- primary-key probe per sample, in the one partition that can hold it.
CREATE OR REPLACE FUNCTION vigie_ingest(p_server_id integer, p_samples jsonb)
RETURNS TABLE (inserted integer, duplicates integer, ids bigint[], online boolean)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_was_active boolean;
    v_total      integer;
    v_first      timestamptz;
    v_last       timestamptz;
BEGIN
    -- The row lock orders this server's writes with the offline sweep, so a status
    -- change is seen, and announced, by exactly one transaction.
    SELECT s.is_active INTO v_was_active
      FROM servers s WHERE s.id = p_server_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'server % does not exist', p_server_id USING ERRCODE = 'P0002';
    END IF;

    -- A repeated (server_id, recorded_at) stores nothing and reports the stored id:
    -- a collector retrying after a lost acknowledgement creates no duplicate.
    WITH input AS (
        SELECT i.*, i.ordinality AS position
          FROM ROWS FROM (jsonb_populate_recordset(NULL::metrics, p_samples))
               WITH ORDINALITY AS i
    ), ins AS (
        INSERT INTO metrics AS m (
            server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb, ram_total_mb,
            disk_percent, disk_used_gb, disk_total_gb, network_sent_mb, network_recv_mb)
        SELECT p_server_id, i.recorded_at, i.cpu_percent, i.ram_percent, i.ram_used_mb,
               i.ram_total_mb, i.disk_percent, i.disk_used_gb, i.disk_total_gb,
               i.network_sent_mb, i.network_recv_mb
          FROM input i
        ON CONFLICT (server_id, recorded_at) DO NOTHING
        RETURNING m.id, m.recorded_at
    ), matched AS (
        SELECT i.position, i.recorded_at, coalesce(ins.id, old.id) AS id,
               ins.id IS NOT NULL AS new
          FROM input i
          LEFT JOIN ins ON ins.recorded_at = i.recorded_at
          LEFT JOIN LATERAL (
                SELECT m.id FROM metrics m
                 WHERE m.server_id = p_server_id AND m.recorded_at = i.recorded_at
                 LIMIT 1) old ON true
    )
    SELECT count(DISTINCT matched.id) FILTER (WHERE new), count(*),
           array_agg(matched.id ORDER BY position),
           min(matched.recorded_at) FILTER (WHERE new),
           max(matched.recorded_at) FILTER (WHERE new)
      INTO inserted, v_total, ids, v_first, v_last
      FROM matched;

    duplicates := v_total - inserted;
    online := NOT v_was_active;

    UPDATE servers SET last_seen = now(), is_active = true WHERE servers.id = p_server_id;

    IF inserted > 0 OR online THEN
        PERFORM pg_notify('vigie_events', json_build_object(
            'kind', 'metrics', 'server_id', p_server_id, 'count', inserted,
            'first', v_first, 'last', v_last, 'online', online, 'last_seen', now())::text);
    END IF;
    RETURN NEXT;
END
$$;
