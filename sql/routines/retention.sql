-- Retention and partition upkeep: one procedure, `CALL vigie_maintain()`, run every
-- minute by the relay (one instance at a time, through a claim), by `vigie
-- maintain`, or by pg_cron on Supabase:
--     SELECT cron.schedule('vigie-maintain', '* * * * *', 'CALL vigie_maintain()');
--
-- Why a procedure: it commits between its steps, so moving the cutoffs (which waits
-- for in-flight inserts, see vigie_retention_lock_key) is a transaction of its own,
-- and deletions go in small transactions that never hold locks long.
--
-- Retention is exact: after a run, each tier holds nothing older than its horizon
-- (raw samples: recorded_at < now() - keep; a rollup bucket: when it ends at or
-- before that) and everything newer. Most of the expired data goes by dropping
-- whole partitions; only the partition the horizon falls in has rows deleted, a
-- run's worth of them at a time, by primary key, in batches of servers.

-- How long each tier is kept (NULL: forever). A finer tier may not be kept longer
-- than a coarser one: the rollups are recomputed from the finer tier, which must
-- still hold what they cover.
CREATE OR REPLACE FUNCTION vigie_set_retention(raw interval, minute interval, five_minutes interval,
                                    hour interval)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_keep interval[] := ARRAY[raw, minute, five_minutes, hour];
    v_name text[] := ARRAY['raw samples', 'minute rollups', '5-minute rollups', 'hour rollups'];
BEGIN
    IF raw < interval '1 hour' THEN
        RAISE EXCEPTION 'raw samples must be kept at least an hour'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. 3 LOOP
        IF v_keep[i] IS NULL AND v_keep[i + 1] IS NOT NULL OR v_keep[i] > v_keep[i + 1] THEN
            RAISE EXCEPTION '% cannot be kept longer than %', v_name[i], v_name[i + 1]
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    UPDATE metrics_tiers t SET keep = v.keep
      FROM (VALUES (0, raw), (60, minute), (300, five_minutes), (3600, hour))
           AS v (seconds, keep)
     WHERE t.seconds = v.seconds AND t.keep IS DISTINCT FROM v.keep;
END
$$;

-- The partitions the coming days need, for every tier: three of its partitions ahead.
CREATE OR REPLACE FUNCTION vigie_create_coming_partitions() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_created integer := 0;
    v_tier    record;
BEGIN
    PERFORM set_config('lock_timeout', '2s', true);
    FOR v_tier IN SELECT relation, partition_unit FROM metrics_tiers ORDER BY seconds LOOP
        v_created := v_created + vigie_create_partitions(
            v_tier.relation, v_tier.partition_unit, now(),
            now() + ('3 ' || v_tier.partition_unit)::interval);
    END LOOP;
    RETURN v_created;
END
$$;

-- Drops the partitions of a tier that hold only expired rows, and stops
-- autovacuum on the one the horizon falls in: its deleted rows go when it is
-- dropped, within a partition's width, so vacuuming them is wasted work.
CREATE OR REPLACE FUNCTION vigie_drop_expired_partitions(p_tier text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_tier    metrics_tiers;
    v_before  timestamptz;
    v_part    record;
    v_dropped integer := 0;
BEGIN
    SELECT * INTO v_tier FROM metrics_tiers WHERE name = p_tier;
    v_before := vigie_kept_from(v_tier.seconds, v_tier.cutoff);
    PERFORM set_config('lock_timeout', '2s', true);
    FOR v_part IN SELECT * FROM vigie_partitions(v_tier.relation)
                   WHERE upper_bound IS NOT NULL AND lower_bound < v_before LOOP
        BEGIN
            IF v_part.upper_bound <= v_before THEN
                EXECUTE format('DROP TABLE %s', v_part.partition);
                v_dropped := v_dropped + 1;
            ELSE
                EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = false)',
                               v_part.partition);
            END IF;
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'partition % not dropped now: %', v_part.partition, SQLERRM;
        END;
    END LOOP;
    RETURN v_dropped;
END
$$;

-- Deletes a tier's expired rows from [p_from, p_before) for some servers, by
-- primary key. Returns the number of rows deleted.
CREATE OR REPLACE FUNCTION vigie_expire_rows(p_tier text, p_servers integer[], p_from timestamptz,
                                  p_before timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_tier    metrics_tiers;
    v_deleted bigint;
BEGIN
    SELECT * INTO v_tier FROM metrics_tiers WHERE name = p_tier;
    EXECUTE format('DELETE FROM %I WHERE server_id = ANY ($1) AND %I >= $2 AND %I < $3',
                   v_tier.relation,
                   CASE WHEN v_tier.seconds = 0 THEN 'recorded_at' ELSE 'bucket' END,
                   CASE WHEN v_tier.seconds = 0 THEN 'recorded_at' ELSE 'bucket' END)
      USING p_servers, p_from, p_before;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END
$$;

-- Raw samples that arrived already expired (see vigie_rollup_late).
CREATE OR REPLACE FUNCTION vigie_expire_late_samples() RETURNS bigint
LANGUAGE sql AS $$
    WITH late AS (
        DELETE FROM metrics_expired RETURNING server_id, recorded_at
    ), gone AS (
        DELETE FROM metrics m USING late
         WHERE m.server_id = late.server_id AND m.recorded_at = late.recorded_at
           AND m.recorded_at < (SELECT cutoff FROM metrics_tiers WHERE seconds = 0)
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;

CREATE OR REPLACE PROCEDURE vigie_maintain(
    INOUT report jsonb DEFAULT NULL,
    min_interval interval DEFAULT interval '30 seconds',
    servers_per_batch integer DEFAULT 200)
LANGUAGE plpgsql AS $$
DECLARE
    v_claimed  boolean;
    v_created  integer;
    v_tier     record;
    v_before   timestamptz;
    v_from     timestamptz;
    v_servers  integer[];
    v_dropped  integer;
    v_deleted  bigint;
    v_tiers    jsonb := '{}';
BEGIN
    -- One run at a time, and not more often than min_interval, however many
    -- relays (or cron jobs) call this.
    UPDATE metrics_maintenance
       SET started_at = now(), lease_until = now() + interval '15 minutes'
     WHERE (lease_until IS NULL OR lease_until < now())
       AND (started_at IS NULL OR started_at <= now() - min_interval)
    RETURNING true INTO v_claimed;
    IF v_claimed IS NULL THEN
        report := jsonb_build_object('ran', false);
        RETURN;
    END IF;
    COMMIT;

    v_created := vigie_create_coming_partitions();
    COMMIT;

    -- The rollups of what was written since the relay last brought them up to date.
    PERFORM vigie_rollup_pending();
    COMMIT;

    -- Move the cutoffs. Waiting for the exclusive lock lets the inserts in flight
    -- finish (they hold it shared); inserts that start meanwhile wait, for as long
    -- as the in-flight ones take to commit.
    BEGIN
        PERFORM set_config('lock_timeout', '5s', true);
        PERFORM pg_advisory_xact_lock(vigie_retention_lock_key());
        UPDATE metrics_tiers SET cutoff = greatest(cutoff, now() - keep) WHERE keep IS NOT NULL;
    EXCEPTION WHEN lock_not_available THEN
        RAISE NOTICE 'retention cutoffs not moved now: %', SQLERRM;
    END;
    COMMIT;

    FOR v_tier IN SELECT name, seconds, cutoff, expired_through FROM metrics_tiers
                   WHERE cutoff IS NOT NULL ORDER BY seconds LOOP
        v_before := vigie_kept_from(v_tier.seconds, v_tier.cutoff);
        v_dropped := vigie_drop_expired_partitions(v_tier.name);
        COMMIT;
        v_deleted := 0;
        IF v_tier.expired_through IS NULL OR v_tier.expired_through < v_before THEN
            v_from := coalesce(v_tier.expired_through, '-infinity');
            FOR v_servers IN
                SELECT array_agg(id) FROM (
                    SELECT id, (row_number() OVER (ORDER BY id) - 1) / servers_per_batch AS g
                      FROM servers) s
                 GROUP BY g ORDER BY g
            LOOP
                v_deleted := v_deleted + vigie_expire_rows(v_tier.name, v_servers, v_from,
                                                           v_before);
                COMMIT;
            END LOOP;
        END IF;
        IF v_tier.seconds = 0 THEN
            v_deleted := v_deleted + vigie_expire_late_samples();
        END IF;
        UPDATE metrics_tiers SET expired_through = v_before WHERE name = v_tier.name;
        COMMIT;
        v_tiers := v_tiers || jsonb_build_object(v_tier.name, jsonb_build_object(
            'cutoff', v_tier.cutoff, 'partitions_dropped', v_dropped,
            'rows_deleted', v_deleted));
    END LOOP;

    report := jsonb_build_object('ran', true, 'partitions_created', v_created,
                                 'tiers', v_tiers);
    UPDATE metrics_maintenance
       SET finished_at = now(), lease_until = NULL, last_report = report;
    COMMIT;
END
$$;

-- What each tier costs: rows (PostgreSQL's estimate, exact after ANALYZE) and
-- bytes on disk (table, indexes and TOAST) over all its partitions.
CREATE OR REPLACE FUNCTION vigie_history_stats()
RETURNS TABLE (name text, seconds integer, keep interval, cutoff timestamptz,
               partitions integer, rows bigint, bytes bigint)
LANGUAGE sql STABLE AS $$
    SELECT t.name, t.seconds, t.keep, t.cutoff,
           count(p.relid) FILTER (WHERE p.isleaf)::integer,
           coalesce(sum(CASE WHEN c.reltuples >= 0 THEN c.reltuples
                             ELSE coalesce(s.n_live_tup, 0) END) FILTER (WHERE p.isleaf),
                    0)::bigint,
           coalesce(sum(pg_total_relation_size(p.relid)) FILTER (WHERE p.isleaf), 0)::bigint
      FROM metrics_tiers t
      CROSS JOIN LATERAL pg_partition_tree(t.relation::regclass) p
      JOIN pg_class c ON c.oid = p.relid
      LEFT JOIN pg_stat_user_tables s ON s.relid = p.relid
     GROUP BY t.name, t.seconds, t.keep, t.cutoff
     ORDER BY t.seconds
$$;
