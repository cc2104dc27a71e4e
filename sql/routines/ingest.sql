-- The write path of POST /api/metrics and /api/metrics/batch, in one call and one
-- round trip: the token check, the samples, the server's row, the write log, the
-- alert evaluation when a value may change an alert, and one NOTIFY.
--
-- Everything happens in the caller's transaction, so a NOTIFY is only ever
-- delivered for committed data, alerts are evaluated in step with the data the API
-- returns, and the write log the relay catches up from holds exactly the writes
-- committed. NOTIFY takes a cluster-wide lock at commit: a request sends at most
-- one, small, whatever the number of samples.
--
-- What it does not do: the rollups. The server's row records the oldest sample not
-- yet rolled up (`rollup_from`), and vigie_rollup_pending() (rollups.sql) brings
-- them up to date off this transaction; history reads that tail from the raw
-- samples (functions/history.py). bench/write_path.py measures the cost beside a
-- bare INSERT + NOTIFY.
--
-- Channel `vigie_events`, payload (JSON, well under the 8000-byte limit):
--   {"kind": "metrics", "server_id": 1, "count": 3, "first": ts, "last": ts,
--    "online": true|false, "last_seen": ts,
--    "latest": {"recorded_at", "cpu_percent", "ram_percent", "disk_percent"}}
-- `count` new samples were stored with recorded_at in [first, last]; `online` is
-- true when this write brought an inactive server back; `latest` is the server's
-- newest sample after the write (what the overview shows).

-- The samples are given as one array per column, in the same order: no JSON to
-- build on the client nor to parse here. A repeated (server_id, recorded_at)
-- stores nothing and reports the stored id: a collector retrying after a lost
-- acknowledgement creates no duplicate.
--
-- p_token_hash: the SHA-256 of the request's ingest token; an unknown server and a
-- wrong token raise the same error (SQLSTATE 28000), so ids cannot be probed. NULL
-- (SQL callers) checks nothing. p_defaults: the configured default alert rules.
CREATE OR REPLACE FUNCTION vigie_ingest(
    p_server_id integer, p_token_hash bytea, p_defaults jsonb, p_at timestamptz[],
    p_cpu real[], p_ram real[], p_ram_used real[], p_ram_total real[], p_disk real[],
    p_disk_used real[], p_disk_total real[], p_sent double precision[],
    p_recv double precision[])
RETURNS TABLE (inserted integer, duplicates integer, ids bigint[], online boolean)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    s          record;
    v_first    timestamptz;
    v_last     timestamptz;
    v_at       timestamptz[];
    v_vals     real[];
    v_low      real[];
    v_high     real[];
    v_newest   metrics;
    v_rows     metrics[];
    v_band     real[];
    v_quiet    boolean;
    v_late     metrics[];
    v_kept     timestamptz;
    v_rollup   timestamptz;
BEGIN
    -- The row lock orders this server's writes with the offline sweep and with each
    -- other, so a status change is seen, and announced, by exactly one transaction.
    SELECT srv.token_hash, srv.is_active, srv.latest_at, srv.alert_band,
           srv.alert_band_defaults
      INTO s FROM servers srv WHERE srv.id = p_server_id FOR NO KEY UPDATE;
    IF p_token_hash IS NOT NULL AND (NOT FOUND OR s.token_hash <> p_token_hash) THEN
        RAISE EXCEPTION 'not the ingest token of server %', p_server_id
            USING ERRCODE = 'invalid_authorization_specification';
    ELSIF NOT FOUND THEN
        RAISE EXCEPTION 'server % does not exist', p_server_id USING ERRCODE = 'P0002';
    END IF;
    online := NOT s.is_active;

    IF cardinality(p_at) = 1 THEN
        -- One sample (the live write): the plain statement.
        INSERT INTO metrics AS m (
            server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb, ram_total_mb,
            disk_percent, disk_used_gb, disk_total_gb, network_sent_mb, network_recv_mb)
        VALUES (p_server_id, p_at[1], p_cpu[1], p_ram[1], p_ram_used[1], p_ram_total[1],
                p_disk[1], p_disk_used[1], p_disk_total[1], p_sent[1], p_recv[1])
        ON CONFLICT (server_id, recorded_at) DO NOTHING
        RETURNING m.* INTO v_newest;
        inserted := CASE WHEN v_newest.id IS NULL THEN 0 ELSE 1 END;
        IF inserted = 1 THEN
            v_first := v_newest.recorded_at;
            v_last := v_first;
            v_at := ARRAY[v_first];
            v_low := ARRAY[v_newest.cpu_percent, v_newest.ram_percent, v_newest.disk_percent];
            v_high := v_low;
            v_vals := ARRAY[v_low];
            v_rows := ARRAY[v_newest];
            ids := ARRAY[v_newest.id];
        END IF;
    ELSE
        WITH ins AS (
            INSERT INTO metrics AS m (
                server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb, ram_total_mb,
                disk_percent, disk_used_gb, disk_total_gb, network_sent_mb, network_recv_mb)
            SELECT p_server_id, u.*
              FROM unnest(p_at, p_cpu, p_ram, p_ram_used, p_ram_total, p_disk, p_disk_used,
                          p_disk_total, p_sent, p_recv) AS u
            ON CONFLICT (server_id, recorded_at) DO NOTHING
            RETURNING m.*
        )
        SELECT count(*)::integer, min(recorded_at), max(recorded_at),
               array_agg(recorded_at ORDER BY recorded_at),
               array_agg(ARRAY[cpu_percent, ram_percent, disk_percent] ORDER BY recorded_at),
               ARRAY[min(cpu_percent), min(ram_percent), min(disk_percent)],
               ARRAY[max(cpu_percent), max(ram_percent), max(disk_percent)],
               array_agg(ins::metrics ORDER BY recorded_at DESC)
          INTO inserted, v_first, v_last, v_at, v_vals, v_low, v_high, v_rows
          FROM ins;
        v_newest := v_rows[1];  -- the rows, newest first
        IF inserted = cardinality(p_at) THEN
            -- Ids in the order of the input.
            SELECT array_agg(m.id ORDER BY u.position) INTO ids
              FROM unnest(v_rows) m
              JOIN unnest(p_at) WITH ORDINALITY AS u (at, position) ON u.at = m.recorded_at;
        END IF;
    END IF;
    duplicates := cardinality(p_at) - inserted;
    IF duplicates > 0 THEN
        -- The stored ids of the samples already there, for the answer.
        SELECT array_agg(m.id ORDER BY u.position) INTO ids
          FROM unnest(p_at) WITH ORDINALITY AS u (at, position)
         CROSS JOIN LATERAL (
               SELECT m.id FROM metrics m
                WHERE m.server_id = p_server_id AND m.recorded_at = u.at LIMIT 1) m;
    END IF;

    IF inserted = 0 THEN
        UPDATE servers SET last_seen = now(), is_active = true WHERE id = p_server_id;
        IF online THEN
            PERFORM pg_notify('vigie_events', json_build_object(
                'kind', 'metrics', 'server_id', p_server_id, 'count', 0,
                'online', true, 'last_seen', now())::text);
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;

    INSERT INTO metric_writes (server_id, count, first_at, last_at)
    VALUES (p_server_id, inserted, v_first, v_last);

    -- Alerts: nothing to evaluate when every new value lies where no alert changes.
    -- (Written out: a query per write would cost more than all the rest.)
    v_quiet := s.alert_band IS NOT NULL AND s.alert_band_defaults = p_defaults;
    FOR t IN 1 .. 3 LOOP
        EXIT WHEN NOT v_quiet;
        v_quiet := v_low[t] >= coalesce(s.alert_band[6 + t], '-Infinity')
                   AND (coalesce(v_high[t] < s.alert_band[t], false)
                        OR coalesce(v_high[t] <= s.alert_band[3 + t], false));
    END LOOP;
    IF NOT v_quiet THEN
        v_band := vigie_alerts_fold(p_server_id, v_at, v_vals, s.latest_at, p_defaults);
    END IF;

    -- Samples older than the raw horizon (a very late backfill) are added to the
    -- rollups at once, as they are: their finer data is gone, nothing can recompute
    -- them. A raw horizon is at least an hour: newer samples skip the look-up.
    v_rollup := v_first;
    IF v_first < now() - interval '1 hour' THEN
        SELECT vigie_kept_from(0, cutoff) INTO v_kept FROM metrics_tiers WHERE seconds = 0;
        IF v_first < v_kept THEN
            SELECT array_agg(r) INTO v_late FROM unnest(v_rows) r WHERE r.recorded_at < v_kept;
            PERFORM vigie_rollup_late(v_late);
            SELECT min(r.recorded_at) INTO v_rollup
              FROM unnest(v_rows) r WHERE r.recorded_at >= v_kept;
        END IF;
    END IF;

    UPDATE servers srv SET
        last_seen = now(), is_active = true, writes = srv.writes + 1,
        rollup_from = least(srv.rollup_from, v_rollup),
        alert_band = CASE WHEN v_quiet THEN srv.alert_band ELSE v_band END,
        alert_band_defaults = p_defaults,
        latest_at = greatest(srv.latest_at, v_newest.recorded_at),
        latest_sent = CASE WHEN srv.latest_at >= v_newest.recorded_at THEN srv.latest_sent
                           ELSE v_newest.network_sent_mb END,
        latest_recv = CASE WHEN srv.latest_at >= v_newest.recorded_at THEN srv.latest_recv
                           ELSE v_newest.network_recv_mb END,
        latest_cpu = CASE WHEN srv.latest_at >= v_newest.recorded_at THEN srv.latest_cpu
                          ELSE v_newest.cpu_percent END,
        latest_ram = CASE WHEN srv.latest_at >= v_newest.recorded_at THEN srv.latest_ram
                          ELSE v_newest.ram_percent END,
        latest_disk = CASE WHEN srv.latest_at >= v_newest.recorded_at THEN srv.latest_disk
                           ELSE v_newest.disk_percent END
     WHERE srv.id = p_server_id
    RETURNING srv.latest_at, srv.latest_cpu, srv.latest_ram, srv.latest_disk INTO s;

    PERFORM pg_notify('vigie_events', json_build_object(
        'kind', 'metrics', 'server_id', p_server_id, 'count', inserted,
        'first', v_first, 'last', v_last, 'online', online,
        'last_seen', now(),
        'latest', json_build_object('recorded_at', s.latest_at, 'cpu_percent', s.latest_cpu,
                                    'ram_percent', s.latest_ram,
                                    'disk_percent', s.latest_disk))::text);
    RETURN NEXT;
END
$$;

-- The same for SQL callers (scripts, tests): samples as a JSON array of objects
-- with the API's fields, no token check, the alert defaults of the transaction's
-- `vigie.alert_defaults` setting if set (else the built-in 90 / 3 / 5).
CREATE OR REPLACE FUNCTION vigie_ingest(p_server_id integer, p_samples jsonb)
RETURNS TABLE (inserted integer, duplicates integer, ids bigint[], online boolean)
LANGUAGE sql AS $$
    SELECT r.*
      FROM (SELECT array_agg(s.recorded_at ORDER BY s.ordinality) AS at,
                   array_agg(s.cpu_percent ORDER BY s.ordinality) AS cpu,
                   array_agg(s.ram_percent ORDER BY s.ordinality) AS ram,
                   array_agg(s.ram_used_mb ORDER BY s.ordinality) AS ram_used,
                   array_agg(s.ram_total_mb ORDER BY s.ordinality) AS ram_total,
                   array_agg(s.disk_percent ORDER BY s.ordinality) AS disk,
                   array_agg(s.disk_used_gb ORDER BY s.ordinality) AS disk_used,
                   array_agg(s.disk_total_gb ORDER BY s.ordinality) AS disk_total,
                   array_agg(s.network_sent_mb ORDER BY s.ordinality) AS sent,
                   array_agg(s.network_recv_mb ORDER BY s.ordinality) AS recv
              FROM ROWS FROM (jsonb_populate_recordset(NULL::metrics, p_samples))
                   WITH ORDINALITY AS s) a
     CROSS JOIN LATERAL vigie_ingest(
           p_server_id, NULL,
           coalesce(nullif(current_setting('vigie.alert_defaults', true), '')::jsonb, '{}'),
           a.at, a.cpu, a.ram, a.ram_used, a.ram_total, a.disk, a.disk_used, a.disk_total,
           a.sent, a.recv) r
$$;
