-- Rollups kept current in the ingest transaction (the tables are in sql/100).
--
-- Why in the ingest transaction (a statement-level trigger), rather than a periodic
-- job: the rollups are never stale, so a chart needs no seam between rolled-up and
-- raw data; a late sample (a collector draining its backlog) updates the buckets it
-- falls in, in the same transaction as the sample; and nothing has to be scheduled
-- for charts to be right. The cost is measured by bench/rollups.py (ingest before
-- and after): a live sample recomputes one minute (≤ 12 samples), its 5 minutes
-- (≤ 5 minute rows) and its hour (≤ 12 rows of 5 minutes), through primary keys.

-- A cumulative counter's increment since the sample before: a counter that went
-- down was reset (a reboot, an interface reset) and restarted from zero; NULL with
-- no sample before. The rule is written once for the database (rollups, history,
-- the latest sample, the relay's events) and once for the dashboard
-- (frontend/src), both tested on the cases of frontend/src/utils/counterCases.json.
CREATE OR REPLACE FUNCTION vigie_counter_increment(p_current float8, p_previous float8)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_current < p_previous THEN p_current ELSE p_current - p_previous END
$$;

-- Per second, over p_seconds between the two samples; NULL for the first sample, or
-- when no time passed between them.
CREATE OR REPLACE FUNCTION vigie_counter_rate(p_current float8, p_previous float8,
                                              p_seconds float8)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_seconds > 0
                THEN round((vigie_counter_increment(p_current, p_previous) / p_seconds)::numeric,
                           6)::float8 END
$$;

-- A stored sample's throughput since the sample its server stored before it (the
-- latest sample's, the relay's events).
CREATE OR REPLACE FUNCTION vigie_sample_rates(p_server_id integer, p_at timestamptz,
                                              p_sent float8, p_recv float8)
RETURNS TABLE (network_sent_mb_s float8, network_recv_mb_s float8)
LANGUAGE sql STABLE AS $$
    SELECT vigie_counter_rate(p_sent, p.network_sent_mb, p.seconds),
           vigie_counter_rate(p_recv, p.network_recv_mb, p.seconds)
      FROM (SELECT) AS one
      LEFT JOIN LATERAL (
            SELECT m.network_sent_mb, m.network_recv_mb,
                   extract(epoch FROM p_at - m.recorded_at)::float8 AS seconds
              FROM metrics m
             WHERE m.server_id = p_server_id AND m.recorded_at < p_at
             ORDER BY m.recorded_at DESC LIMIT 1) p ON true
$$;

-- Buckets are aligned like the history API's: on 2000-01-01 00:00 UTC.
CREATE OR REPLACE FUNCTION vigie_bucket(p_seconds integer, p_at timestamptz)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin(make_interval(secs => p_seconds), p_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')
$$;

-- The oldest time a tier still holds, from its cutoff: raw samples at or after the
-- cutoff, rollup rows whose bucket ends after it (-infinity: nothing expired).
CREATE OR REPLACE FUNCTION vigie_kept_from(p_seconds integer, p_cutoff timestamptz)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_cutoff IS NULL THEN '-infinity'
                WHEN p_seconds = 0 THEN p_cutoff
                ELSE vigie_bucket(p_seconds, p_cutoff) END
$$;

-- Whether a sample carries any of the wide sample's values (sql/102).
CREATE OR REPLACE FUNCTION vigie_is_wide(m metrics) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT num_nonnulls(m.load_1, m.load_5, m.load_15, m.cpu_count, m.cpu_user_percent,
                        m.cpu_system_percent, m.cpu_iowait_percent, m.cpu_steal_percent,
                        m.swap_used_mb, m.swap_total_mb, m.swap_percent, m.swap_in_mb,
                        m.swap_out_mb, m.uptime_seconds, m.process_count, m.fs_ids,
                        m.disk_ids, m.if_ids, m.temp_ids) > 0
$$;

-- Recomputes the given minutes of the given servers from the raw samples, replacing
-- their rows. Each sample's counter increment is taken from the sample before it,
-- which for the first sample of a minute lies in an earlier minute: the raw sample
-- before the minute, or, if that one has expired, the previous minute row's last
-- counters.
CREATE OR REPLACE FUNCTION vigie_rollup_minutes(p_servers integer[], p_buckets timestamptz[])
RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    -- Recomputed whole: the old rows go first.
    DELETE FROM metrics_rollup r
     USING (SELECT DISTINCT * FROM unnest(p_servers, p_buckets)) AS k (server_id, bucket)
     WHERE r.server_id = k.server_id AND r.seconds = 60 AND r.bucket = k.bucket;
    WITH keys AS (
        SELECT DISTINCT k.server_id, k.bucket
          FROM unnest(p_servers, p_buckets) AS k (server_id, bucket)
    ), samples AS (
        SELECT k.server_id, k.bucket, m.recorded_at, m.network_sent_mb, m.network_recv_mb,
               m.cpu_percent, m.ram_percent, m.ram_used_mb, m.ram_total_mb, m.disk_percent,
               m.disk_used_gb, m.disk_total_gb, true AS in_bucket,
               vigie_is_wide(m::metrics) AS wide
          FROM keys k
         CROSS JOIN LATERAL (
               SELECT * FROM metrics m
                WHERE m.server_id = k.server_id
                  AND m.recorded_at >= k.bucket
                  AND m.recorded_at < k.bucket + interval '1 minute'
               OFFSET 0) m
        UNION ALL
        SELECT k.server_id, k.bucket, p.recorded_at, p.network_sent_mb, p.network_recv_mb,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, false
          FROM keys k
         CROSS JOIN LATERAL (
               SELECT x.* FROM (
                   (SELECT m.recorded_at, m.network_sent_mb, m.network_recv_mb
                      FROM metrics m
                     WHERE m.server_id = k.server_id AND m.recorded_at < k.bucket
                     ORDER BY m.recorded_at DESC LIMIT 1)
                   UNION ALL
                   (SELECT r.last_at, r.network_sent_mb_last, r.network_recv_mb_last
                      FROM metrics_rollup r
                     WHERE r.server_id = k.server_id AND r.seconds = 60 AND r.bucket < k.bucket
                     ORDER BY r.bucket DESC LIMIT 1)
               ) x ORDER BY x.recorded_at DESC LIMIT 1) p
    ), steps AS (
        SELECT s.*,
               extract(epoch FROM s.recorded_at - lag(s.recorded_at) OVER w)::float8 AS dt,
               vigie_counter_increment(s.network_sent_mb, lag(s.network_sent_mb) OVER w) AS inc_sent,
               vigie_counter_increment(s.network_recv_mb, lag(s.network_recv_mb) OVER w) AS inc_recv
          FROM samples s
        WINDOW w AS (PARTITION BY s.server_id, s.bucket ORDER BY s.recorded_at)
    ), increments AS (
        SELECT st.*
          FROM steps st WHERE in_bucket
    )
    INSERT INTO metrics_rollup AS r (
        server_id, seconds, bucket, samples, last_at,
        cpu_percent_sum, cpu_percent_max, ram_percent_sum, ram_percent_max, ram_used_mb_sum,
        ram_total_mb_max, disk_percent_sum, disk_percent_max, disk_used_gb_sum,
        disk_total_gb_max, network_seconds, network_sent_mb_inc, network_recv_mb_inc,
        network_sent_mb_s_max, network_recv_mb_s_max, network_sent_mb_last,
        network_recv_mb_last, gauge_keys, gauge_sum, gauge_n, gauge_max, counter_keys,
        counter_inc, counter_secs, counter_rmax)
    SELECT c.server_id, c.seconds, c.bucket, c.samples, c.last_at, c.cpu_sum, c.cpu_max,
           c.ram_sum, c.ram_max, c.ram_used_sum, c.ram_total_max, c.disk_sum, c.disk_max,
           c.disk_used_sum, c.disk_total_max, c.net_seconds, c.sent_inc, c.recv_inc,
           c.sent_max, c.recv_max, c.sent_last, c.recv_last, sr.*
      FROM (SELECT server_id, 60, bucket, count(*), max(recorded_at),
                   sum(cpu_percent::float8), max(cpu_percent), sum(ram_percent::float8),
                   max(ram_percent), sum(ram_used_mb::float8), max(ram_total_mb),
                   sum(disk_percent::float8), max(disk_percent), sum(disk_used_gb::float8),
                   max(disk_total_gb),
                   coalesce(sum(dt) FILTER (WHERE inc_sent IS NOT NULL), 0),
                   coalesce(sum(inc_sent), 0), coalesce(sum(inc_recv), 0),
                   max(inc_sent / dt), max(inc_recv / dt),
                   (array_agg(network_sent_mb ORDER BY recorded_at DESC))[1],
                   (array_agg(network_recv_mb ORDER BY recorded_at DESC))[1],
                   bool_or(wide) AS wide
              FROM increments
             GROUP BY server_id, bucket)
           c (server_id, seconds, bucket, samples, last_at, cpu_sum, cpu_max, ram_sum, ram_max,
              ram_used_sum, ram_total_max, disk_sum, disk_max, disk_used_sum, disk_total_max,
              net_seconds, sent_inc, recv_inc, sent_max, recv_max, sent_last, recv_last, wide)
      -- The series, for minutes with a wide sample only.
      LEFT JOIN LATERAL vigie_series_rollup(c.server_id, 0, c.bucket,
                                            c.bucket + interval '1 minute') sr ON c.wide;
END
$$;

-- Recomputes the given buckets (of width p_seconds) of the given servers from the
-- rows of the finer tier p_source.
CREATE OR REPLACE FUNCTION vigie_rollup_from(p_seconds integer, p_source integer, p_servers integer[],
                                  p_buckets timestamptz[])
RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    -- Recomputed whole: the old rows go first.
    DELETE FROM metrics_rollup r
     USING (SELECT DISTINCT * FROM unnest(p_servers, p_buckets)) AS k (server_id, bucket)
     WHERE r.server_id = k.server_id AND r.seconds = p_seconds AND r.bucket = k.bucket;
    WITH keys AS (
        SELECT DISTINCT k.server_id, k.bucket
          FROM unnest(p_servers, p_buckets) AS k (server_id, bucket)
    )
    INSERT INTO metrics_rollup AS r (
        server_id, seconds, bucket, samples, last_at,
        cpu_percent_sum, cpu_percent_max, ram_percent_sum, ram_percent_max, ram_used_mb_sum,
        ram_total_mb_max, disk_percent_sum, disk_percent_max, disk_used_gb_sum,
        disk_total_gb_max, network_seconds, network_sent_mb_inc, network_recv_mb_inc,
        network_sent_mb_s_max, network_recv_mb_s_max, network_sent_mb_last,
        network_recv_mb_last, gauge_keys, gauge_sum, gauge_n, gauge_max, counter_keys,
        counter_inc, counter_secs, counter_rmax)
    SELECT c.server_id, c.seconds, c.bucket, c.samples, c.last_at, c.cpu_sum, c.cpu_max,
           c.ram_sum, c.ram_max, c.ram_used_sum, c.ram_total_max, c.disk_sum, c.disk_max,
           c.disk_used_sum, c.disk_total_max, c.net_seconds, c.sent_inc, c.recv_inc,
           c.sent_max, c.recv_max, c.sent_last, c.recv_last, sr.*
      FROM (
    SELECT k.server_id, p_seconds, k.bucket, sum(m.samples), max(m.last_at),
           sum(m.cpu_percent_sum), max(m.cpu_percent_max), sum(m.ram_percent_sum),
           max(m.ram_percent_max), sum(m.ram_used_mb_sum), max(m.ram_total_mb_max),
           sum(m.disk_percent_sum), max(m.disk_percent_max), sum(m.disk_used_gb_sum),
           max(m.disk_total_gb_max), sum(m.network_seconds), sum(m.network_sent_mb_inc),
           sum(m.network_recv_mb_inc), max(m.network_sent_mb_s_max),
           max(m.network_recv_mb_s_max),
           (array_agg(m.network_sent_mb_last ORDER BY m.last_at DESC))[1],
           (array_agg(m.network_recv_mb_last ORDER BY m.last_at DESC))[1],
           bool_or(m.gauge_keys IS NOT NULL OR m.counter_keys IS NOT NULL)
      FROM keys k
     CROSS JOIN LATERAL (
           SELECT * FROM metrics_rollup m
            WHERE m.server_id = k.server_id AND m.seconds = p_source
              AND m.bucket >= k.bucket
              AND m.bucket < k.bucket + make_interval(secs => p_seconds)
           OFFSET 0) m
     GROUP BY k.server_id, k.bucket)
           c (server_id, seconds, bucket, samples, last_at, cpu_sum, cpu_max, ram_sum, ram_max,
              ram_used_sum, ram_total_max, disk_sum, disk_max, disk_used_sum, disk_total_max,
              net_seconds, sent_inc, recv_inc, sent_max, recv_max, sent_last, recv_last, wide)
      -- The series, for buckets with a wide sample only.
      LEFT JOIN LATERAL vigie_series_rollup(
            c.server_id, p_source, c.bucket, c.bucket + make_interval(secs => p_seconds)) sr
        ON c.wide;
END
$$;

-- Adds samples to the buckets (of width p_seconds, from p_from on) they fall in,
-- without reading the other samples of those buckets. Counter increments are taken
-- between the given samples, the first one of each server from its seed (the
-- sample before it) when one is given. Exact when the samples come after every
-- stored one (the seed being the newest stored): the common write, a sample just
-- taken. Also used for buckets whose finer data has expired and cannot be
-- recomputed: sums, counts and peaks stay exact there.
CREATE OR REPLACE FUNCTION vigie_rollup_add(p_seconds integer, p_samples metrics[],
                                 p_seeds metrics[] DEFAULT '{}',
                                 p_from timestamptz DEFAULT '-infinity')
RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    WITH samples AS (
        SELECT s.*, vigie_bucket(p_seconds, s.recorded_at) AS bucket, true AS new
          FROM unnest(p_samples) s
        UNION ALL
        SELECT s.*, NULL, false FROM unnest(p_seeds) s
    ), steps AS (
        SELECT s.*,
               extract(epoch FROM s.recorded_at - lag(s.recorded_at) OVER w)::float8 AS dt,
               vigie_counter_increment(s.network_sent_mb, lag(s.network_sent_mb) OVER w) AS inc_sent,
               vigie_counter_increment(s.network_recv_mb, lag(s.network_recv_mb) OVER w) AS inc_recv
          FROM samples s
        WINDOW w AS (PARTITION BY s.server_id ORDER BY s.recorded_at)
    ), increments AS (
        SELECT st.*
          FROM steps st WHERE new AND bucket >= p_from
    )
    INSERT INTO metrics_rollup AS r (
        server_id, seconds, bucket, samples, last_at,
        cpu_percent_sum, cpu_percent_max, ram_percent_sum, ram_percent_max, ram_used_mb_sum,
        ram_total_mb_max, disk_percent_sum, disk_percent_max, disk_used_gb_sum,
        disk_total_gb_max, network_seconds, network_sent_mb_inc, network_recv_mb_inc,
        network_sent_mb_s_max, network_recv_mb_s_max, network_sent_mb_last,
        network_recv_mb_last)
    SELECT server_id, p_seconds, bucket, count(*), max(recorded_at),
           sum(cpu_percent::float8), max(cpu_percent), sum(ram_percent::float8),
           max(ram_percent), sum(ram_used_mb::float8), max(ram_total_mb),
           sum(disk_percent::float8), max(disk_percent), sum(disk_used_gb::float8),
           max(disk_total_gb),
           coalesce(sum(dt) FILTER (WHERE inc_sent IS NOT NULL), 0),
           coalesce(sum(inc_sent), 0), coalesce(sum(inc_recv), 0),
           max(inc_sent / dt), max(inc_recv / dt),
           (array_agg(network_sent_mb ORDER BY recorded_at DESC))[1],
           (array_agg(network_recv_mb ORDER BY recorded_at DESC))[1]
      FROM increments
     GROUP BY server_id, bucket
    ON CONFLICT (server_id, seconds, bucket) DO UPDATE SET
        samples = r.samples + EXCLUDED.samples,
        cpu_percent_sum = r.cpu_percent_sum + EXCLUDED.cpu_percent_sum,
        cpu_percent_max = greatest(r.cpu_percent_max, EXCLUDED.cpu_percent_max),
        ram_percent_sum = r.ram_percent_sum + EXCLUDED.ram_percent_sum,
        ram_percent_max = greatest(r.ram_percent_max, EXCLUDED.ram_percent_max),
        ram_used_mb_sum = r.ram_used_mb_sum + EXCLUDED.ram_used_mb_sum,
        ram_total_mb_max = greatest(r.ram_total_mb_max, EXCLUDED.ram_total_mb_max),
        disk_percent_sum = r.disk_percent_sum + EXCLUDED.disk_percent_sum,
        disk_percent_max = greatest(r.disk_percent_max, EXCLUDED.disk_percent_max),
        disk_used_gb_sum = r.disk_used_gb_sum + EXCLUDED.disk_used_gb_sum,
        disk_total_gb_max = greatest(r.disk_total_gb_max, EXCLUDED.disk_total_gb_max),
        network_seconds = r.network_seconds + EXCLUDED.network_seconds,
        network_sent_mb_inc = r.network_sent_mb_inc + EXCLUDED.network_sent_mb_inc,
        network_recv_mb_inc = r.network_recv_mb_inc + EXCLUDED.network_recv_mb_inc,
        network_sent_mb_s_max = greatest(r.network_sent_mb_s_max, EXCLUDED.network_sent_mb_s_max),
        network_recv_mb_s_max = greatest(r.network_recv_mb_s_max, EXCLUDED.network_recv_mb_s_max),
        last_at = greatest(r.last_at, EXCLUDED.last_at),
        network_sent_mb_last = CASE WHEN EXCLUDED.last_at > r.last_at
                                    THEN EXCLUDED.network_sent_mb_last
                                    ELSE r.network_sent_mb_last END,
        network_recv_mb_last = CASE WHEN EXCLUDED.last_at > r.last_at
                                    THEN EXCLUDED.network_recv_mb_last
                                    ELSE r.network_recv_mb_last END;
END
$$;

-- Recomputes every server's rollup rows for [p_from, p_to), widened to whole hours,
-- from the raw samples, an hour at a time, with the functions the roll-ups use. For
-- samples loaded without vigie_ingest (COPY, a restore): raw samples must still be
-- kept for the whole range. Returns the number of minute rows written.
CREATE OR REPLACE FUNCTION vigie_rebuild_rollups(p_from timestamptz, p_to timestamptz)
RETURNS bigint LANGUAGE plpgsql
SET work_mem = '256MB' AS $$
DECLARE
    v_hour    timestamptz := vigie_bucket(3600, p_from);
    v_minutes bigint := 0;
    v_servers integer[];
    v_buckets timestamptz[];
    v_tier    record;
BEGIN
    IF v_hour < (SELECT cutoff FROM metrics_tiers WHERE seconds = 0) THEN
        RAISE EXCEPTION 'raw samples before % have expired: rollups cannot be rebuilt from them',
            (SELECT cutoff FROM metrics_tiers WHERE seconds = 0)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WHILE v_hour < p_to LOOP
        -- The hour's minutes are recomputed whole: rows of minutes left with no
        -- sample go too.
        DELETE FROM metrics_rollup
         WHERE seconds = 60 AND bucket >= v_hour AND bucket < v_hour + interval '1 hour';
        SELECT array_agg(k.server_id), array_agg(k.bucket) INTO v_servers, v_buckets
          FROM (SELECT DISTINCT m.server_id, vigie_bucket(60, m.recorded_at) AS bucket
                  FROM metrics m
                 WHERE m.recorded_at >= v_hour
                   AND m.recorded_at < v_hour + interval '1 hour') k;
        IF v_servers IS NOT NULL THEN
            PERFORM vigie_rollup_minutes(v_servers, v_buckets);
            v_minutes := v_minutes + cardinality(v_servers);
        END IF;
        -- Then each coarser tier from the one below it.
        FOR v_tier IN SELECT seconds, lag(seconds) OVER (ORDER BY seconds) AS source
                        FROM metrics_tiers WHERE seconds > 0 ORDER BY seconds OFFSET 1 LOOP
            DELETE FROM metrics_rollup
             WHERE seconds = v_tier.seconds AND bucket >= vigie_bucket(v_tier.seconds, v_hour)
               AND bucket < v_hour + interval '1 hour';
            PERFORM vigie_rollup_from(v_tier.seconds, v_tier.source, array_agg(k.server_id),
                                      array_agg(k.bucket))
               FROM (SELECT DISTINCT server_id, vigie_bucket(v_tier.seconds, bucket) AS bucket
                       FROM metrics_rollup
                      WHERE seconds = v_tier.source AND bucket >= v_hour
                        AND bucket < v_hour + interval '1 hour') k
             HAVING count(*) > 0;
        END LOOP;
        v_hour := v_hour + interval '1 hour';
    END LOOP;
    -- The newest samples, should the load have brought newer ones; and nothing is
    -- left to roll up.
    UPDATE servers s
       SET latest_at = n.recorded_at, latest_sent = n.network_sent_mb,
           latest_recv = n.network_recv_mb, latest_cpu = n.cpu_percent,
           latest_ram = n.ram_percent, latest_disk = n.disk_percent,
           latest_load = n.load_1 / n.cpu_count
      FROM servers s2
     CROSS JOIN LATERAL (
           SELECT m.recorded_at, m.network_sent_mb, m.network_recv_mb, m.cpu_percent,
                  m.ram_percent, m.disk_percent, m.load_1, m.cpu_count
             FROM metrics m WHERE m.server_id = s2.id
            ORDER BY m.recorded_at DESC LIMIT 1) n
     WHERE s.id = s2.id AND n.recorded_at > coalesce(s.latest_at, '-infinity');
    UPDATE servers SET rollup_from = NULL
     WHERE rollup_from >= vigie_bucket(3600, p_from) AND rollup_from < p_to;
    RETURN v_minutes;
END
$$;

-- Retention (retention.sql) and the roll-ups agree through this lock: the writes
-- that read the raw horizon and the roll-ups hold it shared, and moving a cutoff
-- takes it exclusively, so once a cutoff has moved, every sample written before it
-- was committed and everything later sees the new cutoff.
CREATE OR REPLACE FUNCTION vigie_retention_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 7263540190326001::bigint $$;

-- Samples stored already older than the raw horizon (a very late backfill, called
-- by vigie_ingest): added to the rollups as they are, since the finer data of their
-- buckets has expired and cannot be recomputed (sums, counts and peaks stay exact);
-- and noted, for the next maintenance run to remove them (retention.sql).
CREATE OR REPLACE FUNCTION vigie_rollup_late(p_samples metrics[])
RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_tier record;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(vigie_retention_lock_key());
    FOR v_tier IN SELECT t.seconds, vigie_kept_from(t.seconds, t.cutoff) AS kept
                    FROM metrics_tiers t WHERE t.seconds > 0 ORDER BY t.seconds LOOP
        -- Into the tiers that still keep the sample's bucket.
        PERFORM vigie_rollup_add(v_tier.seconds, array_agg(s))
           FROM unnest(p_samples) s
          WHERE vigie_bucket(v_tier.seconds, s.recorded_at) >= v_tier.kept
         HAVING count(*) > 0;
        -- And their series (a wide sample's), merged into the row's: a gauge's sum,
        -- count and peak; a counter's increment from the sample stored just before
        -- it, as for the seed's network counters.
        WITH late AS (
            SELECT x.s, vigie_bucket(v_tier.seconds, (x.s).recorded_at) AS bucket,
                   coalesce(x.prev, (SELECT p FROM metrics p
                                      WHERE p.server_id = (x.s).server_id
                                        AND p.recorded_at < (x.s).recorded_at
                                      ORDER BY p.recorded_at DESC LIMIT 1)) AS prev
              FROM (SELECT s, lag(s) OVER (PARTITION BY s.server_id ORDER BY s.recorded_at)
                           AS prev
                      FROM unnest(p_samples) s) x
             WHERE vigie_bucket(v_tier.seconds, (x.s).recorded_at) >= v_tier.kept
               AND vigie_is_wide(x.s)
        ), parts AS (
            SELECT (l.s).server_id AS server_id, l.bucket, st.key, st.counter,
                   CASE WHEN NOT st.counter THEN st.value END AS g_sum,
                   CASE WHEN NOT st.counter THEN 1 END AS g_n,
                   CASE WHEN NOT st.counter THEN st.value END AS g_max,
                   st.inc AS c_inc, CASE WHEN st.inc IS NOT NULL THEN st.dt END AS c_secs,
                   st.inc / nullif(st.dt, 0) AS c_rmax
              FROM late l CROSS JOIN LATERAL vigie_series_steps(l.s, l.prev) st
        )
        UPDATE metrics_rollup r
           SET (gauge_keys, gauge_sum, gauge_n, gauge_max,
                counter_keys, counter_inc, counter_secs, counter_rmax) = (
               SELECT array_agg(k.key ORDER BY k.key) FILTER (WHERE NOT k.counter),
                      array_agg(k.g_sum ORDER BY k.key) FILTER (WHERE NOT k.counter),
                      array_agg(k.g_n ORDER BY k.key) FILTER (WHERE NOT k.counter),
                      array_agg(k.g_max::real ORDER BY k.key) FILTER (WHERE NOT k.counter),
                      array_agg(k.key ORDER BY k.key) FILTER (WHERE k.counter),
                      array_agg(k.c_inc ORDER BY k.key) FILTER (WHERE k.counter),
                      array_agg(k.c_secs ORDER BY k.key) FILTER (WHERE k.counter),
                      array_agg(k.c_rmax ORDER BY k.key) FILTER (WHERE k.counter)
                 FROM (SELECT q.key, q.counter, sum(q.g_sum) AS g_sum,
                              sum(q.g_n)::integer AS g_n, max(q.g_max) AS g_max,
                              coalesce(sum(q.c_inc), 0) AS c_inc,
                              coalesce(sum(q.c_secs), 0) AS c_secs, max(q.c_rmax) AS c_rmax
                         FROM (SELECT u.key, u.counter, u.g_sum, u.g_n, u.g_max, u.c_inc,
                                      u.c_secs, u.c_rmax
                                 FROM vigie_series_unpack(r) u
                               UNION ALL
                               SELECT n.key, n.counter, n.g_sum, n.g_n, n.g_max, n.c_inc,
                                      n.c_secs, n.c_rmax
                                 FROM parts n
                                WHERE n.server_id = r.server_id AND n.bucket = r.bucket) q
                        GROUP BY q.key, q.counter) k)
         WHERE r.seconds = v_tier.seconds
           AND (r.server_id, r.bucket) IN (SELECT p.server_id, p.bucket FROM parts p);
    END LOOP;
    INSERT INTO metrics_expired (server_id, recorded_at)
    SELECT s.server_id, s.recorded_at FROM unnest(p_samples) s;
END
$$;

-- Brings the rollups up to date for the servers written to since the last run
-- (their `rollup_from` is set): the minutes of every sample from there on are
-- recomputed from the raw samples, then the 5-minute and hour rows from the tier
-- below, in set-based statements, in one transaction. A server written to while
-- this ran stays marked (its `writes` moved) and is done again next time, so a
-- sample is never left out; recomputing replaces rows, so a run that dies counts
-- nothing twice. One run at a time (an advisory lock); the relay calls it every
-- VIGIE_ROLLUP_SECONDS, `vigie maintain` and vigie_maintain() too. Returns how many
-- servers it brought up to date.
CREATE OR REPLACE FUNCTION vigie_rollup_pending(p_servers integer DEFAULT 5000)
RETURNS integer LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_ids     integer[];
    v_from    timestamptz[];
    v_writes  bigint[];
    v_widths  integer[];
    v_kept    timestamptz[];
    v_servers integer[];
    v_buckets timestamptz[];
    v_done    integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7263541, 0) THEN
        RETURN 0;  -- another run is at it
    END IF;
    SELECT array_agg(d.id ORDER BY d.id), array_agg(d.rollup_from ORDER BY d.id),
           array_agg(d.writes ORDER BY d.id)
      INTO v_ids, v_from, v_writes
      FROM (SELECT id, rollup_from, writes FROM servers WHERE rollup_from IS NOT NULL
             ORDER BY id LIMIT p_servers) d;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(vigie_retention_lock_key());
    SELECT array_agg(seconds ORDER BY seconds) FILTER (WHERE seconds > 0),
           array_agg(vigie_kept_from(seconds, cutoff) ORDER BY seconds)
      INTO v_widths, v_kept
      FROM metrics_tiers;

    -- The minutes that hold a sample from each server's rollup_from on, where the
    -- raw samples are still kept.
    SELECT array_agg(k.server_id), array_agg(k.bucket) INTO v_servers, v_buckets
      FROM (SELECT DISTINCT d.id AS server_id, vigie_bucket(60, m.recorded_at) AS bucket
              FROM unnest(v_ids, v_from) AS d (id, from_at)
             CROSS JOIN LATERAL (
                   SELECT m.recorded_at FROM metrics m
                    WHERE m.server_id = d.id
                      AND m.recorded_at >= greatest(vigie_bucket(60, d.from_at), v_kept[1])
                   OFFSET 0) m) k;
    IF v_servers IS NOT NULL THEN
        PERFORM vigie_rollup_minutes(v_servers, v_buckets);
        -- Each coarser tier from the one below, for the buckets it changed.
        FOR i IN 2 .. array_length(v_widths, 1) LOOP
            SELECT array_agg(t.server_id), array_agg(t.bucket) INTO v_servers, v_buckets
              FROM (SELECT DISTINCT x.server_id, vigie_bucket(v_widths[i], x.bucket) AS bucket
                      FROM unnest(v_servers, v_buckets) AS x (server_id, bucket)) t
             WHERE t.bucket >= v_kept[i] AND t.bucket >= v_kept[i + 1];
            EXIT WHEN v_servers IS NULL;
            PERFORM vigie_rollup_from(v_widths[i], v_widths[i - 1], v_servers, v_buckets);
        END LOOP;
    END IF;

    -- Server rows are locked in id order, as every transaction that locks several
    -- (a group of writes, the offline sweep) does: none waits on another in a cycle.
    PERFORM 1 FROM servers WHERE id = ANY (v_ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE servers s SET rollup_from = NULL
      FROM unnest(v_ids, v_writes) AS d (id, writes)
     WHERE s.id = d.id AND s.writes = d.writes;
    GET DIAGNOSTICS v_done = ROW_COUNT;
    RETURN v_done;
END
$$;

-- The wide sample's series (sql/102_wide_sample.sql). Every value of a sample is a
-- slot with an integer key: kind * 2^27 + device * 32 + field, where kind is
-- 0 (host), 1 (filesystems), 2 (disks), 3 (interfaces), 4 (temperatures), device
-- its number in the server's dictionary (0 for the host) and field its position
-- among the kind's values (vigie/wire.py: HOST_FIELDS, DEVICE_LISTS), from 1.
CREATE OR REPLACE FUNCTION vigie_series_key(p_kind integer, p_device integer, p_field integer)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_kind * 134217728 + p_device * 32 + p_field
$$;

-- A sample's series values; `counter` for cumulative counters (their rate is what
-- a chart shows), the others are gauges (averaged, with their peak).
CREATE OR REPLACE FUNCTION vigie_series_values(m metrics)
RETURNS TABLE (key integer, counter boolean, value float8)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN QUERY
        SELECT h.field::integer, h.field IN (12, 13), h.v
          FROM unnest(ARRAY[m.load_1, m.load_5, m.load_15, m.cpu_count, m.cpu_user_percent,
                            m.cpu_system_percent, m.cpu_iowait_percent, m.cpu_steal_percent,
                            m.swap_used_mb, m.swap_total_mb, m.swap_percent, m.swap_in_mb,
                            m.swap_out_mb, m.uptime_seconds, m.process_count]::float8[])
               WITH ORDINALITY AS h (v, field)
         WHERE h.v IS NOT NULL
        UNION ALL
        SELECT vigie_series_key(1, m.fs_ids[i], j), false, m.fs_values[i][j]::float8
          FROM generate_subscripts(m.fs_ids, 1) i, generate_series(1, 4) j
         WHERE m.fs_values[i][j] IS NOT NULL
        UNION ALL
        SELECT vigie_series_key(2, m.disk_ids[i], j), true, m.disk_values[i][j]
          FROM generate_subscripts(m.disk_ids, 1) i, generate_series(1, 5) j
         WHERE m.disk_values[i][j] IS NOT NULL
        UNION ALL
        SELECT vigie_series_key(3, m.if_ids[i], j), true, m.if_values[i][j]
          FROM generate_subscripts(m.if_ids, 1) i, generate_series(1, 2) j
        UNION ALL
        SELECT vigie_series_key(4, m.temp_ids[i], 1), false, m.temp_values[i]::float8
          FROM generate_subscripts(m.temp_ids, 1) i;
END
$$;

-- A sample's series values with, for a counter, its increment from the sample its
-- server stored before it (p_prev) and the seconds between them: NULL when p_prev
-- does not have that counter (a device's counter is taken from the sample just
-- before, never from an older one, so any stretch of samples computes the same
-- increments as the minutes it spans).
CREATE OR REPLACE FUNCTION vigie_series_steps(p_cur metrics, p_prev metrics)
RETURNS TABLE (key integer, counter boolean, value float8, inc float8, dt float8)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN QUERY
        SELECT c.key, c.counter, c.value,
               vigie_counter_increment(c.value, p.value),
               CASE WHEN p.value IS NOT NULL
                    THEN extract(epoch FROM p_cur.recorded_at - p_prev.recorded_at)::float8 END
          FROM vigie_series_values(p_cur) c
          LEFT JOIN vigie_series_values(p_prev) p ON c.counter AND p.key = c.key;
END
$$;

-- A stored sample's counter rates since the sample before it (the latest sample,
-- the relay's events): the keys and the rates (per second), in the same order.
CREATE OR REPLACE FUNCTION vigie_series_rates(p_cur metrics)
RETURNS TABLE (rate_keys integer[], rates float8[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
        SELECT array_agg(st.key ORDER BY st.key),
               array_agg(round((st.inc / st.dt)::numeric, 6)::float8 ORDER BY st.key)
          FROM (SELECT p FROM metrics p
                 WHERE p.server_id = p_cur.server_id AND p.recorded_at < p_cur.recorded_at
                 ORDER BY p.recorded_at DESC LIMIT 1) prev (m)
         CROSS JOIN LATERAL vigie_series_steps(p_cur, prev.m) st
         WHERE st.counter AND st.dt > 0;
END
$$;

-- The series of a server's samples recorded in [p_start, p_end), as partial rows:
-- one per sample and slot, with a gauge's sum, count and peak, or a counter's
-- increment, the seconds it covers and its rate. Counters step from the sample
-- before each (the first one's from the sample before p_start). The minute rollups
-- and history's raw pieces both read this: a chart is the same rolled up or not.
CREATE OR REPLACE FUNCTION vigie_series_partials(p_server_id integer, p_start timestamptz,
                                                 p_end timestamptz)
RETURNS TABLE (t timestamptz, key integer, counter boolean, g_sum float8, g_n integer,
               g_max float8, c_inc float8, c_secs float8, c_rmax float8)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
        SELECT x.at, st.key, st.counter,
               CASE WHEN NOT st.counter THEN st.value END,
               CASE WHEN NOT st.counter THEN 1 END,
               CASE WHEN NOT st.counter THEN st.value END,
               st.inc, CASE WHEN st.inc IS NOT NULL THEN st.dt END, st.inc / nullif(st.dt, 0)
          FROM (SELECT s.m, s.in_piece, (s.m).recorded_at AS at,
                       lag(s.m) OVER (ORDER BY (s.m).recorded_at) AS prev
                  FROM ((SELECT p AS m, false AS in_piece FROM metrics p
                          WHERE p.server_id = p_server_id AND p.recorded_at < p_start
                          ORDER BY p.recorded_at DESC LIMIT 1)
                        UNION ALL
                        (SELECT c, true FROM metrics c
                          WHERE c.server_id = p_server_id AND c.recorded_at >= p_start
                            AND c.recorded_at < p_end)) s) x
         CROSS JOIN LATERAL vigie_series_steps(x.m, x.prev) st
         WHERE x.in_piece;
END
$$;

-- A rollup tier's series as partial rows (bucket for t), for re-aggregation.
CREATE OR REPLACE FUNCTION vigie_series_unpack(r metrics_rollup)
RETURNS TABLE (t timestamptz, key integer, counter boolean, g_sum float8, g_n integer,
               g_max float8, c_inc float8, c_secs float8, c_rmax float8)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN QUERY
        SELECT r.bucket, g.key, false, g.s, g.n, g.x::float8, NULL::float8, NULL::float8, NULL::float8
          FROM unnest(r.gauge_keys, r.gauge_sum, r.gauge_n, r.gauge_max) AS g (key, s, n, x)
        UNION ALL
        SELECT r.bucket, c.key, true, NULL, NULL, NULL, c.i, c.s, c.x
          FROM unnest(r.counter_keys, r.counter_inc, r.counter_secs, r.counter_rmax)
               AS c (key, i, s, x);
END
$$;

-- The series columns of one server's rollup row for [p_start, p_end): from the raw
-- samples (p_source 0) or from the rows of the finer tier p_source.
CREATE OR REPLACE FUNCTION vigie_series_rollup(p_server_id integer, p_source integer,
                                               p_start timestamptz, p_end timestamptz)
RETURNS TABLE (gauge_keys integer[], gauge_sum float8[], gauge_n integer[], gauge_max real[],
               counter_keys integer[], counter_inc float8[], counter_secs float8[],
               counter_rmax float8[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
        SELECT array_agg(k.key ORDER BY k.key) FILTER (WHERE NOT k.counter),
               array_agg(k.g_sum ORDER BY k.key) FILTER (WHERE NOT k.counter),
               array_agg(k.g_n ORDER BY k.key) FILTER (WHERE NOT k.counter),
               array_agg(k.g_max::real ORDER BY k.key) FILTER (WHERE NOT k.counter),
               array_agg(k.key ORDER BY k.key) FILTER (WHERE k.counter),
               array_agg(k.c_inc ORDER BY k.key) FILTER (WHERE k.counter),
               array_agg(k.c_secs ORDER BY k.key) FILTER (WHERE k.counter),
               array_agg(k.c_rmax ORDER BY k.key) FILTER (WHERE k.counter)
          FROM (SELECT p.key, p.counter, sum(p.g_sum) AS g_sum, sum(p.g_n)::integer AS g_n,
                       max(p.g_max) AS g_max, coalesce(sum(p.c_inc), 0) AS c_inc,
                       coalesce(sum(p.c_secs), 0) AS c_secs, max(p.c_rmax) AS c_rmax
                  FROM (SELECT * FROM vigie_series_partials(p_server_id, p_start, p_end)
                         WHERE p_source = 0
                        UNION ALL
                        SELECT u.* FROM metrics_rollup r
                         CROSS JOIN LATERAL vigie_series_unpack(r) u
                         WHERE p_source > 0 AND r.server_id = p_server_id AND r.seconds = p_source
                           AND r.bucket >= p_start AND r.bucket < p_end) p
                 GROUP BY p.key, p.counter) k;
END
$$;
