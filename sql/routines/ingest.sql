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
-- Two entry points: vigie_ingest (any samples, wide or not) and, for the live write
-- (one sample without wide fields), vigie_ingest_live, one statement for its common
-- case that leaves every other case to vigie_ingest.
--
-- Channel `vigie_events`, payload (JSON, well under the 8000-byte limit):
--   {"kind": "metrics", "server_id": 1, "count": 3, "first": ts, "last": ts,
--    "online": true|false, "last_seen": ts,
--    "latest": {"recorded_at", "cpu_percent", "ram_percent", "disk_percent",
--               "load_per_core", "fs_fullest": {"mount", "percent"} | null}}
-- `count` new samples were stored with recorded_at in [first, last]; `online` is
-- true when this write brought an inactive server back; `latest` is the server's
-- newest sample after the write (what the overview shows).

-- The wide sample's devices (sql/102_wide_sample.sql): a device is stored by its
-- number in the server's dictionary, its position in servers.fs_names (and
-- disk_names, if_names, temp_names). Numbers are never reused.

-- The dictionary p_known with the names of list p_list (key p_key) in p_wide it
-- lacks added, in the order they first appear.
--
-- This and the two helpers below are PL/pgSQL, not SQL: a SQL function whose body
-- has a FROM cannot be inlined into its caller, and PostgreSQL then parses and plans
-- its body again on every call (these calls were two fifths of a wide sample's
-- database time); PL/pgSQL keeps each statement's plan for the connection.
CREATE OR REPLACE FUNCTION vigie_new_names(p_wide jsonb[], p_list text, p_key text,
                                           p_known text[])
RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN p_known || coalesce((
        SELECT array_agg(n.name ORDER BY n.first)
          FROM (SELECT x.e ->> p_key AS name, min(w.o * 100 + x.k) AS first
                  FROM unnest(p_wide) WITH ORDINALITY AS w (j, o)
                 CROSS JOIN LATERAL jsonb_array_elements(coalesce(w.j -> p_list, '[]'))
                       WITH ORDINALITY AS x (e, k)
                 WHERE NOT (x.e ->> p_key = ANY (p_known))
                 GROUP BY 1) n), '{}');
END
$$;

CREATE OR REPLACE FUNCTION vigie_device_names(p_wide jsonb[], p_fs text[], p_disk text[],
                                              p_if text[], p_temp text[])
RETURNS TABLE (fs text[], disk text[], iface text[], temp text[])
LANGUAGE sql IMMUTABLE AS $$
    SELECT vigie_new_names(p_wide, 'filesystems', 'mount', p_fs),
           vigie_new_names(p_wide, 'disks', 'name', p_disk),
           vigie_new_names(p_wide, 'interfaces', 'name', p_if),
           vigie_new_names(p_wide, 'temperatures', 'sensor', p_temp)
$$;

-- One sample's device columns of `metrics`, from its wide fields, with the
-- server's dictionary (which holds every name of the sample).
CREATE OR REPLACE FUNCTION vigie_device_columns(p_wide jsonb, p_fs text[], p_disk text[],
                                                p_if text[], p_temp text[])
RETURNS TABLE (fs_ids integer[], fs_values real[], disk_ids integer[],
               disk_values double precision[], if_ids integer[], if_values double precision[],
               temp_ids integer[], temp_values real[])
LANGUAGE sql IMMUTABLE AS $$
    SELECT f.ids, f.vals, d.ids, d.vals, i.ids, i.vals, t.ids, t.vals
      FROM (SELECT array_agg(array_position(p_fs, e ->> 'mount') ORDER BY k) AS ids,
                   array_agg(ARRAY[(e ->> 'percent')::real, (e ->> 'used_gb')::real,
                                   (e ->> 'total_gb')::real, (e ->> 'inodes_percent')::real]
                             ORDER BY k) AS vals
              FROM jsonb_array_elements(p_wide -> 'filesystems') WITH ORDINALITY AS x (e, k)) f,
           (SELECT array_agg(array_position(p_disk, e ->> 'name') ORDER BY k) AS ids,
                   array_agg(ARRAY[(e ->> 'read_mb')::float8, (e ->> 'write_mb')::float8,
                                   (e ->> 'reads')::float8, (e ->> 'writes')::float8,
                                   (e ->> 'busy_ms')::float8] ORDER BY k) AS vals
              FROM jsonb_array_elements(p_wide -> 'disks') WITH ORDINALITY AS x (e, k)) d,
           (SELECT array_agg(array_position(p_if, e ->> 'name') ORDER BY k) AS ids,
                   array_agg(ARRAY[(e ->> 'sent_mb')::float8, (e ->> 'recv_mb')::float8,
                                   (e ->> 'counted')::boolean::integer::float8] ORDER BY k)
                   AS vals
              FROM jsonb_array_elements(p_wide -> 'interfaces') WITH ORDINALITY AS x (e, k)) i,
           (SELECT array_agg(array_position(p_temp, e ->> 'sensor') ORDER BY k) AS ids,
                   array_agg((e ->> 'celsius')::real ORDER BY k) AS vals
              FROM jsonb_array_elements(p_wide -> 'temperatures') WITH ORDINALITY AS x (e, k)) t
$$;

-- A filesystem's device or type (p_key) per mount of the dictionary: as the newest
-- sample (p_wide) reports it, else as known before.
CREATE OR REPLACE FUNCTION vigie_fs_info(p_names text[], p_old text[], p_wide jsonb,
                                         p_key text)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN (
        SELECT coalesce(array_agg(coalesce(f.e ->> p_key, p_old[n.i], '') ORDER BY n.i), '{}')
          FROM generate_subscripts(p_names, 1) AS n (i)
          LEFT JOIN LATERAL (
                SELECT e FROM jsonb_array_elements(p_wide -> 'filesystems') e
                 WHERE e ->> 'mount' = p_names[n.i] LIMIT 1) f ON true);
END
$$;

-- The fullest filesystem of a sample's (sql/102_wide_sample.sql): its number in the
-- server's dictionary and its percent used; nothing for a sample with none.
CREATE OR REPLACE FUNCTION vigie_fullest_fs(p_ids integer[], p_values real[],
                                            OUT id integer, OUT percent real)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    SELECT p_ids[k], p_values[k][1] INTO id, percent
      FROM generate_subscripts(p_ids, 1) AS k
     ORDER BY p_values[k][1] DESC NULLS LAST, k LIMIT 1;
END
$$;

-- The wide fields of a request's samples as vigie_ingest takes them: a JSON array
-- (null for a seed-only sample) made an array of jsonb, in order; NULL stays NULL.
CREATE OR REPLACE FUNCTION vigie_json_rows(p_rows jsonb)
RETURNS jsonb[] LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN ARRAY(SELECT nullif(r.e, 'null'::jsonb)
                   FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS r (e, o)
                  ORDER BY r.o);
END
$$;

-- The payload of a write's NOTIFY (the channel's format above), from what the write
-- stored and the server's row after it. One expression: inlined where it is used.
CREATE OR REPLACE FUNCTION vigie_metrics_event(
    p_server_id integer, p_count integer, p_first timestamptz, p_last timestamptz,
    p_online boolean, p_latest_at timestamptz, p_cpu real, p_ram real, p_disk real,
    p_load real, p_fs_mount text, p_fs_percent real)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'kind', 'metrics', 'server_id', p_server_id, 'count', p_count,
        'first', p_first, 'last', p_last, 'online', p_online, 'last_seen', now(),
        'latest', json_build_object(
            'recorded_at', p_latest_at, 'cpu_percent', p_cpu, 'ram_percent', p_ram,
            'disk_percent', p_disk, 'load_per_core', p_load,
            'fs_fullest', CASE WHEN p_fs_mount IS NOT NULL THEN json_build_object(
                               'mount', p_fs_mount, 'percent', p_fs_percent) END))::text
$$;

-- The samples are given as one array per column, in the same order: no JSON to
-- build on the client nor to parse here. A repeated (server_id, recorded_at)
-- stores nothing and reports the stored id: a collector retrying after a lost
-- acknowledgement creates no duplicate.
--
-- p_token_hash: the SHA-256 of the request's ingest token; an unknown server and a
-- wrong token raise the same error (SQLSTATE 28000), so ids cannot be probed. NULL
-- (SQL callers) checks nothing. p_defaults: the configured default alert rules.
-- p_wide: per sample, its wide fields as the API validated them (JSON, the wire's
-- names: vigie/wire.py), or NULL for a seed-only sample; NULL for them all.
DROP FUNCTION IF EXISTS vigie_ingest(
    integer, bytea, jsonb, timestamptz[], real[], real[], real[], real[], real[], real[],
    real[], double precision[], double precision[]);
CREATE OR REPLACE FUNCTION vigie_ingest(
    p_server_id integer, p_token_hash bytea, p_defaults jsonb, p_at timestamptz[],
    p_cpu real[], p_ram real[], p_ram_used real[], p_ram_total real[], p_disk real[],
    p_disk_used real[], p_disk_total real[], p_sent double precision[],
    p_recv double precision[], p_wide jsonb[] DEFAULT NULL)
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
    v_wide     boolean := p_wide IS NOT NULL;
    v_fs       text[];
    v_disk     text[];
    v_if       text[];
    v_temp     text[];
    v_top_at   timestamptz;
    v_fs_info  jsonb;
    v_fs_id    integer;
    v_fs_pct   real;
BEGIN
    -- The row lock orders this server's writes with the offline sweep and with each
    -- other, so a status change is seen, and announced, by exactly one transaction.
    SELECT srv.token_hash, srv.is_active, srv.latest_at, srv.alert_band,
           srv.alert_band_defaults, srv.wide_band, srv.fs_names, srv.fs_devices, srv.fs_types,
           srv.disk_names, srv.if_names, srv.temp_names
      INTO s FROM servers srv WHERE srv.id = p_server_id FOR NO KEY UPDATE;
    IF p_token_hash IS NOT NULL AND (NOT FOUND OR s.token_hash <> p_token_hash) THEN
        RAISE EXCEPTION 'not the ingest token of server %', p_server_id
            USING ERRCODE = 'invalid_authorization_specification';
    ELSIF NOT FOUND THEN
        RAISE EXCEPTION 'server % does not exist', p_server_id USING ERRCODE = 'P0002';
    END IF;
    online := NOT s.is_active;

    IF v_wide THEN
        -- New devices get the next numbers of the server's dictionary.
        SELECT * INTO v_fs, v_disk, v_if, v_temp
          FROM vigie_device_names(p_wide, s.fs_names, s.disk_names, s.if_names, s.temp_names);
        WITH ins AS (
            INSERT INTO metrics AS m (
                server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb, ram_total_mb,
                disk_percent, disk_used_gb, disk_total_gb, network_sent_mb, network_recv_mb,
                load_1, load_5, load_15, cpu_count, cpu_user_percent, cpu_system_percent,
                cpu_iowait_percent, cpu_steal_percent, swap_used_mb, swap_total_mb,
                swap_percent, swap_in_mb, swap_out_mb, uptime_seconds, process_count,
                top_processes, fs_ids, fs_values, disk_ids, disk_values, if_ids, if_values,
                temp_ids, temp_values)
            SELECT p_server_id, u.at, u.cpu, u.ram, u.ram_used, u.ram_total, u.disk,
                   u.disk_used, u.disk_total, u.sent, u.recv,
                   h.load_1, h.load_5, h.load_15, h.cpu_count, h.cpu_user_percent,
                   h.cpu_system_percent, h.cpu_iowait_percent, h.cpu_steal_percent,
                   h.swap_used_mb, h.swap_total_mb, h.swap_percent, h.swap_in_mb,
                   h.swap_out_mb, h.uptime_seconds, h.process_count, u.wide -> 'top_processes',
                   d.*
              FROM unnest(p_at, p_cpu, p_ram, p_ram_used, p_ram_total, p_disk, p_disk_used,
                          p_disk_total, p_sent, p_recv, p_wide)
                   AS u (at, cpu, ram, ram_used, ram_total, disk, disk_used, disk_total, sent,
                         recv, wide)
             CROSS JOIN LATERAL jsonb_populate_record(NULL::metrics, u.wide) h
             CROSS JOIN LATERAL vigie_device_columns(u.wide, v_fs, v_disk, v_if,
                                                     v_temp) d
            ON CONFLICT (server_id, recorded_at) DO NOTHING
            RETURNING m.*
        )
        SELECT count(*)::integer, min(recorded_at), max(recorded_at),
               array_agg(recorded_at ORDER BY recorded_at),
               array_agg(ARRAY[cpu_percent, ram_percent, disk_percent] ORDER BY recorded_at),
               ARRAY[min(cpu_percent), min(ram_percent), min(disk_percent)],
               ARRAY[max(cpu_percent), max(ram_percent), max(disk_percent)],
               array_agg(ins::metrics ORDER BY recorded_at DESC),
               max(recorded_at) FILTER (WHERE top_processes IS NOT NULL)
          INTO inserted, v_first, v_last, v_at, v_vals, v_low, v_high, v_rows, v_top_at
          FROM ins;
        v_newest := v_rows[1];
        IF inserted = cardinality(p_at) THEN
            SELECT array_agg(m.id ORDER BY u.position) INTO ids
              FROM unnest(v_rows) m
              JOIN unnest(p_at) WITH ORDINALITY AS u (at, position) ON u.at = m.recorded_at;
        END IF;
    ELSIF cardinality(p_at) = 1 THEN
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
    v_quiet := coalesce(s.alert_band_defaults = p_defaults, false)
               AND vigie_alert_quiet(s.alert_band, v_low, v_high);
    IF NOT v_quiet THEN
        v_band := vigie_alerts_fold(p_server_id, v_at, v_vals, s.latest_at, p_defaults);
    END IF;
    -- The wide sample's alerts, with their own quiet band.
    IF v_wide AND NOT vigie_wide_quiet(s.wide_band, s.alert_band_defaults = p_defaults, v_rows)
    THEN
        s.wide_band := vigie_wide_alerts_fold(p_server_id, v_rows, s.latest_at, p_defaults,
                                              v_fs, v_temp);
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

    IF v_wide AND v_newest.recorded_at > coalesce(s.latest_at, '-infinity') THEN
        v_fs_info := p_wide[array_position(p_at, v_newest.recorded_at)];
        IF v_newest.fs_ids IS NOT NULL THEN
            SELECT * INTO v_fs_id, v_fs_pct
              FROM vigie_fullest_fs(v_newest.fs_ids, v_newest.fs_values);
        END IF;
    END IF;
    -- (is_active is set apart, when it changes: its triggers, sql/routines/realtime.sql
    -- and alerts.sql, are then all an UPDATE of it costs.)
    UPDATE servers srv SET
        last_seen = now(), writes = srv.writes + 1,
        rollup_from = least(srv.rollup_from, v_rollup),
        alert_band = CASE WHEN v_quiet THEN srv.alert_band ELSE v_band END,
        alert_band_defaults = p_defaults,
        wide_band = CASE WHEN v_wide THEN s.wide_band ELSE srv.wide_band END,
        fs_names = CASE WHEN v_wide THEN v_fs ELSE srv.fs_names END,
        -- A filesystem's device and type as the newest sample reports them.
        fs_devices = CASE WHEN v_wide THEN vigie_fs_info(v_fs, srv.fs_devices, v_fs_info,
                                                         'device')
                          ELSE srv.fs_devices END,
        fs_types = CASE WHEN v_wide THEN vigie_fs_info(v_fs, srv.fs_types, v_fs_info,
                                                       'fstype')
                        ELSE srv.fs_types END,
        disk_names = CASE WHEN v_wide THEN v_disk ELSE srv.disk_names END,
        if_names = CASE WHEN v_wide THEN v_if ELSE srv.if_names END,
        temp_names = CASE WHEN v_wide THEN v_temp ELSE srv.temp_names END,
        latest_top_at = greatest(srv.latest_top_at, v_top_at),
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
                           ELSE v_newest.disk_percent END,
        latest_load = CASE WHEN srv.latest_at >= v_newest.recorded_at THEN srv.latest_load
                           ELSE v_newest.load_1 / v_newest.cpu_count END,
        -- The fullest filesystem stays that of the newest sample reporting any.
        latest_fs_id = coalesce(v_fs_id, srv.latest_fs_id),
        latest_fs_percent = CASE WHEN v_fs_id IS NULL THEN srv.latest_fs_percent
                                 ELSE v_fs_pct END
     WHERE srv.id = p_server_id
    RETURNING srv.latest_at, srv.latest_cpu, srv.latest_ram, srv.latest_disk, srv.latest_load,
              srv.fs_names[srv.latest_fs_id] AS fs_mount, srv.latest_fs_percent INTO s;
    IF online THEN
        UPDATE servers SET is_active = true WHERE id = p_server_id;
    END IF;

    PERFORM pg_notify('vigie_events', vigie_metrics_event(
        p_server_id, inserted, v_first, v_last, online, s.latest_at, s.latest_cpu,
        s.latest_ram, s.latest_disk, s.latest_load, s.fs_mount, s.latest_fs_percent));
    RETURN NEXT;
END
$$;

-- A live sample: one sample without wide fields, as POST /api/metrics receives it
-- every few seconds from each server. Its common case is one statement that does
-- what vigie_ingest does for it: the server's row locked (with the token checked),
-- the sample, the write log, the server's latest values and the NOTIFY, the same
-- rows and the same payload. Whatever is not that case is left to vigie_ingest,
-- in the same transaction, the row lock then already held: an unknown server or a
-- wrong token, a server coming back online, a value that may change an alert (out
-- of the band, vigie_sample_quiet), a sample older than an hour, a duplicate. Then
-- this statement has written nothing: it writes only once the row is locked with
-- all of that checked, and a duplicate inserts no row, so nothing follows it.
--
-- Why apart: PL/pgSQL prepares each statement and expression of a function anew in
-- every transaction, and a live sample is a transaction of its own. vigie_ingest's
-- dozen statements and expressions cost a live sample 1.6 to 1.9 times a bare
-- INSERT + NOTIFY transaction; this one statement, 1.5 to 1.8 (bench/write_path.py).
-- tests/test_ingest_live.py checks that both paths store, log, announce and
-- evaluate the same.
CREATE OR REPLACE FUNCTION vigie_ingest_live(
    p_server_id integer, p_token_hash bytea, p_defaults jsonb, p_at timestamptz,
    p_cpu real, p_ram real, p_ram_used real, p_ram_total real, p_disk real,
    p_disk_used real, p_disk_total real, p_sent double precision, p_recv double precision)
RETURNS TABLE (inserted integer, duplicates integer, ids bigint[], online boolean)
LANGUAGE plpgsql AS $$
BEGIN
    WITH s AS (
        SELECT srv.id FROM servers srv
         WHERE srv.id = p_server_id
           AND (p_token_hash IS NULL OR srv.token_hash = p_token_hash)
           AND srv.is_active
           AND srv.alert_band_defaults = p_defaults
           AND vigie_sample_quiet(srv.alert_band, p_cpu, p_ram, p_disk)
           AND p_at >= now() - interval '1 hour'
           FOR NO KEY UPDATE
    ), ins AS (
        INSERT INTO metrics AS m (
            server_id, recorded_at, cpu_percent, ram_percent, ram_used_mb, ram_total_mb,
            disk_percent, disk_used_gb, disk_total_gb, network_sent_mb, network_recv_mb)
        SELECT s.id, p_at, p_cpu, p_ram, p_ram_used, p_ram_total, p_disk, p_disk_used,
               p_disk_total, p_sent, p_recv
          FROM s
        ON CONFLICT (server_id, recorded_at) DO NOTHING
        RETURNING m.id, m.recorded_at
    ), log AS (
        INSERT INTO metric_writes (server_id, count, first_at, last_at)
        SELECT p_server_id, 1, ins.recorded_at, ins.recorded_at FROM ins
    ), up AS (
        -- vigie_ingest's update of the row, for one sample without wide fields.
        UPDATE servers srv SET
            last_seen = now(), writes = srv.writes + 1,
            rollup_from = least(srv.rollup_from, ins.recorded_at),
            latest_at = greatest(srv.latest_at, ins.recorded_at),
            latest_sent = CASE WHEN srv.latest_at >= ins.recorded_at THEN srv.latest_sent
                               ELSE p_sent END,
            latest_recv = CASE WHEN srv.latest_at >= ins.recorded_at THEN srv.latest_recv
                               ELSE p_recv END,
            latest_cpu = CASE WHEN srv.latest_at >= ins.recorded_at THEN srv.latest_cpu
                              ELSE p_cpu END,
            latest_ram = CASE WHEN srv.latest_at >= ins.recorded_at THEN srv.latest_ram
                              ELSE p_ram END,
            latest_disk = CASE WHEN srv.latest_at >= ins.recorded_at THEN srv.latest_disk
                               ELSE p_disk END,
            latest_load = CASE WHEN srv.latest_at >= ins.recorded_at THEN srv.latest_load END
          FROM ins
         WHERE srv.id = p_server_id
        RETURNING ins.id, ins.recorded_at, srv.latest_at, srv.latest_cpu, srv.latest_ram,
                  srv.latest_disk, srv.latest_load, srv.fs_names[srv.latest_fs_id] AS fs_mount,
                  srv.latest_fs_percent
    )
    SELECT 1, 0, ARRAY[up.id], false INTO inserted, duplicates, ids, online
      FROM up, pg_notify('vigie_events', vigie_metrics_event(
               p_server_id, 1, up.recorded_at, up.recorded_at, false, up.latest_at,
               up.latest_cpu, up.latest_ram, up.latest_disk, up.latest_load, up.fs_mount,
               up.latest_fs_percent));
    IF FOUND THEN
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM vigie_ingest(
        p_server_id, p_token_hash, p_defaults, ARRAY[p_at], ARRAY[p_cpu], ARRAY[p_ram],
        ARRAY[p_ram_used], ARRAY[p_ram_total], ARRAY[p_disk], ARRAY[p_disk_used],
        ARRAY[p_disk_total], ARRAY[p_sent], ARRAY[p_recv]);
END
$$;

-- The same for SQL callers (scripts, tests): samples as a JSON array of objects
-- with the API's fields, no token check, the alert defaults of the transaction's
-- `vigie.alert_defaults` setting if set (else the built-in 90 / 3 / 5).
CREATE OR REPLACE FUNCTION vigie_ingest(p_server_id integer, p_samples jsonb)
RETURNS TABLE (inserted integer, duplicates integer, ids bigint[], online boolean)
LANGUAGE sql AS $$
    SELECT r.*
      FROM (SELECT array_agg(s.recorded_at ORDER BY x.o) AS at,
                   array_agg(s.cpu_percent ORDER BY x.o) AS cpu,
                   array_agg(s.ram_percent ORDER BY x.o) AS ram,
                   array_agg(s.ram_used_mb ORDER BY x.o) AS ram_used,
                   array_agg(s.ram_total_mb ORDER BY x.o) AS ram_total,
                   array_agg(s.disk_percent ORDER BY x.o) AS disk,
                   array_agg(s.disk_used_gb ORDER BY x.o) AS disk_used,
                   array_agg(s.disk_total_gb ORDER BY x.o) AS disk_total,
                   array_agg(s.network_sent_mb ORDER BY x.o) AS sent,
                   array_agg(s.network_recv_mb ORDER BY x.o) AS recv,
                   -- The wide fields: whatever is not one of the seed's.
                   CASE WHEN bool_or(x.wide <> '{}') THEN
                        array_agg(nullif(x.wide, '{}') ORDER BY x.o) END AS wide
              FROM jsonb_array_elements(p_samples) WITH ORDINALITY AS j (e, o)
             CROSS JOIN LATERAL (
                   SELECT j.o, j.e - ARRAY['server_id', 'recorded_at', 'cpu_percent',
                                           'ram_percent', 'ram_used_mb', 'ram_total_mb',
                                           'disk_percent', 'disk_used_gb', 'disk_total_gb',
                                           'network_sent_mb', 'network_recv_mb'] AS wide) x
             CROSS JOIN LATERAL jsonb_populate_record(NULL::metrics, j.e) s) a
     CROSS JOIN LATERAL vigie_ingest(
           p_server_id, NULL,
           coalesce(nullif(current_setting('vigie.alert_defaults', true), '')::jsonb, '{}'),
           a.at, a.cpu, a.ram, a.ram_used, a.ram_total, a.disk, a.disk_used, a.disk_total,
           a.sent, a.recv, a.wide) r
$$;
