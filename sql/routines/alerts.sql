-- Alert evaluation in the write path, and the offline alert.
--
-- The write path (vigie_ingest, ingest.sql) evaluates the samples it stored, and
-- only those: a retried sample, dropped by ON CONFLICT DO NOTHING, is never counted
-- twice. It happens in the same transaction, so alert state and data can never
-- disagree and nothing needs a scheduler. A trigger on `servers.is_active` turns the
-- offline transitions (stored by the relay's sweep, undone by the next sample) into
-- the `offline` alert.
--
-- Rules, per server and type (cpu, ram, disk):
--  * fire after `for_samples` consecutive samples at or over `threshold`;
--  * resolve on the first sample below `threshold - clear_margin` (hysteresis: a value
--    hovering between the two neither resolves nor fires again).
-- The defaults come from the functions' configuration, passed by the API to
-- vigie_ingest (JSON: {"cpu", "ram", "disk", "for_samples", "clear_margin"}); a
-- rule or default missing there is the built-in 90 / 3 / 5.
--
-- Time only moves forward. Samples are evaluated in recorded_at order; a sample
-- older than one its server already stored (a straggler) is stored but changes no
-- alert: counting it would splice it into a sequence it was not part of. A backlog
-- drained late (old samples, in order, newer than what was stored) is evaluated like
-- live data, and its alerts carry the samples' times.
--
-- The common write costs a few comparisons: the server's row, which the write
-- locks and updates anyway, keeps the band of values that change no alert
-- (vigie_alert_band). Only a write with a value outside it evaluates in full, sorts
-- its samples and takes the state row's lock, then stores the band anew.
--
-- Each firing and each resolution is announced once, in the same transaction: one
-- NOTIFY on `vigie_events` ({"kind": "alert", ...}) and one row in the webhook outbox.

-- The rules in force for a server: its overrides over the defaults.
CREATE OR REPLACE FUNCTION vigie_alert_rules(p_server_id integer, p_defaults jsonb)
RETURNS TABLE (type text, threshold real, for_samples integer, clear_margin real,
               enabled boolean)
LANGUAGE sql STABLE AS $$
    SELECT t.kind,
           CASE WHEN t.kind <> 'offline'
                THEN coalesce(r.threshold, (p_defaults ->> t.kind)::real, 90) END,
           CASE WHEN t.kind <> 'offline'
                THEN coalesce(r.for_samples, (p_defaults ->> 'for_samples')::integer, 3) END,
           CASE WHEN t.kind <> 'offline'
                THEN coalesce(r.clear_margin, (p_defaults ->> 'clear_margin')::real, 5) END,
           coalesce(r.enabled, true)
      FROM unnest(ARRAY['cpu', 'ram', 'disk', 'offline']) WITH ORDINALITY AS t (kind, position)
      LEFT JOIN alert_rules r ON r.server_id = p_server_id AND r.type = t.kind
     ORDER BY t.position
$$;

-- One NOTIFY and one outbox row for an alert that just fired or resolved. The event
-- has the shape of the alerts API, plus "kind"; the outbox adds the server's names
-- for the message text.
CREATE OR REPLACE FUNCTION vigie_alert_announce(a alerts) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_event json := json_build_object(
        'kind', 'alert', 'id', a.id, 'server_id', a.server_id, 'type', a.type,
        'state', CASE WHEN a.resolved_at IS NULL THEN 'firing' ELSE 'resolved' END,
        'value', a.value, 'threshold', a.threshold, 'peak', a.peak,
        'started_at', a.started_at, 'resolved_at', a.resolved_at,
        'resolved_value', a.resolved_value, 'device', nullif(a.device, ''),
        'top_processes', a.top_processes);
BEGIN
    PERFORM pg_notify('vigie_events', v_event::text);
    INSERT INTO alert_notifications (alert_id, state, payload)
    SELECT a.id, v_event ->> 'state',
           (v_event::jsonb - 'kind')
           || jsonb_build_object('server_name', s.name, 'hostname', s.hostname)
      FROM servers s WHERE s.id = a.server_id;
END
$$;

-- Where a sample changes no alert, per metric (cpu, ram, disk): the band the write
-- path checks before evaluating (vigie_ingest), kept in the server's row. Nine
-- values: [1..3] below which a value is quiet (the threshold; infinity for a rule
-- turned off), [4..6] up to which it is quiet (the peak of a firing alert), [7..9]
-- from which it is quiet (a firing alert's clear level). NULL when any sample may
-- change something: a count running towards a threshold, a firing alert whose rule
-- is off. A value v of a metric t is quiet when v >= band[6 + t] (or there is none)
-- and v < band[t] or v <= band[3 + t].
CREATE OR REPLACE FUNCTION vigie_alert_band(p_server_id integer, p_defaults jsonb)
RETURNS real[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_band real[] := array_fill(NULL::real, ARRAY[9]);
    r      record;
    i      integer;
BEGIN
    IF EXISTS (SELECT 1 FROM alert_state s
                WHERE s.server_id = p_server_id AND s.over <> '{0,0,0}') THEN
        RETURN NULL;
    END IF;
    FOR r IN SELECT x.type, x.threshold, x.clear_margin, x.enabled, a.id, a.peak
               FROM vigie_alert_rules(p_server_id, p_defaults) x
               LEFT JOIN alerts a
                      ON a.server_id = p_server_id AND a.type = x.type AND a.resolved_at IS NULL
              WHERE x.type <> 'offline'
    LOOP
        i := array_position(ARRAY['cpu', 'ram', 'disk'], r.type);
        IF r.id IS NOT NULL THEN
            IF NOT r.enabled THEN
                RETURN NULL;
            END IF;
            v_band[3 + i] := r.peak;
            v_band[6 + i] := r.threshold - r.clear_margin;
        ELSIF r.enabled THEN
            v_band[i] := r.threshold;
        ELSE
            v_band[i] := 'Infinity';
        END IF;
    END LOOP;
    RETURN v_band;
END
$$;

-- Whether values of metric p_t (1 cpu, 2 ram, 3 disk) whose lowest is p_low and
-- highest p_high lie in the band (vigie_alert_band), so that they change no alert
-- of that metric. A NULL band is never quiet. SQL of one expression, and so are
-- the two below: inlined where they are called (vigie_ingest, vigie_ingest_live).
CREATE OR REPLACE FUNCTION vigie_metric_quiet(p_band real[], p_t integer, p_low real,
                                              p_high real)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p_low >= coalesce(p_band[6 + p_t], '-Infinity')
                    AND (coalesce(p_high < p_band[p_t], false)
                         OR coalesce(p_high <= p_band[3 + p_t], false)), false)
$$;

-- The same for the three metrics, their lowest and highest values as arrays.
CREATE OR REPLACE FUNCTION vigie_alert_quiet(p_band real[], p_low real[], p_high real[])
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT vigie_metric_quiet(p_band, 1, p_low[1], p_high[1])
       AND vigie_metric_quiet(p_band, 2, p_low[2], p_high[2])
       AND vigie_metric_quiet(p_band, 3, p_low[3], p_high[3])
$$;

-- One sample's values.
CREATE OR REPLACE FUNCTION vigie_sample_quiet(p_band real[], p_cpu real, p_ram real,
                                              p_disk real)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT vigie_metric_quiet(p_band, 1, p_cpu, p_cpu)
       AND vigie_metric_quiet(p_band, 2, p_ram, p_ram)
       AND vigie_metric_quiet(p_band, 3, p_disk, p_disk)
$$;

-- New samples of a server that may change an alert: those newer than every
-- sample it had before (p_before) are evaluated in time order; older ones arrived
-- late and change nothing (counting them would splice them into a sequence they
-- were not part of). Returns the band to keep for the next samples.
CREATE OR REPLACE FUNCTION vigie_alerts_fold(
    p_server_id integer, p_at timestamptz[], p_values real[], p_before timestamptz,
    p_defaults jsonb)
RETURNS real[]
LANGUAGE plpgsql AS $$
DECLARE
    v_at     timestamptz[];
    v_values real[];
BEGIN
    SELECT array_agg(p_at[k] ORDER BY p_at[k]),
           array_agg(ARRAY[p_values[k][1], p_values[k][2], p_values[k][3]] ORDER BY p_at[k])
      INTO v_at, v_values
      FROM generate_subscripts(p_at, 1) AS k
     WHERE p_at[k] > coalesce(p_before, '-infinity');
    IF v_at IS NOT NULL THEN
        PERFORM vigie_alerts_evaluate(p_server_id, v_at, v_values, p_defaults);
    END IF;
    RETURN vigie_alert_band(p_server_id, p_defaults);
END
$$;

-- Fold one server's new samples, sorted by time and all newer than what it had
-- before, into its alert state. p_values[k] = {cpu, ram, disk} of sample k.
CREATE OR REPLACE FUNCTION vigie_alerts_evaluate(
    p_server_id integer, p_at timestamptz[], p_values real[], p_defaults jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    kinds        CONSTANT text[] := ARRAY['cpu', 'ram', 'disk'];
    v_over       smallint[];
    v_threshold  real[];
    v_for        integer[];
    v_margin     real[];
    v_enabled    boolean[];
    v_active     bigint[]  := '{NULL,NULL,NULL}';
    v_peak       real[]    := '{NULL,NULL,NULL}';
    v_peak_moved boolean[] := '{f,f,f}';
    v_value      real;
    a            alerts;
    r            record;
BEGIN
    SELECT s.over INTO v_over FROM alert_state s WHERE s.server_id = p_server_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO alert_state (server_id) VALUES (p_server_id)
        ON CONFLICT (server_id) DO NOTHING;
        SELECT s.over INTO v_over FROM alert_state s WHERE s.server_id = p_server_id FOR UPDATE;
    END IF;

    SELECT array_agg(x.threshold ORDER BY array_position(kinds, x.type)),
           array_agg(x.for_samples ORDER BY array_position(kinds, x.type)),
           array_agg(x.clear_margin ORDER BY array_position(kinds, x.type)),
           array_agg(x.enabled ORDER BY array_position(kinds, x.type))
      INTO v_threshold, v_for, v_margin, v_enabled
      FROM vigie_alert_rules(p_server_id, p_defaults) x
     WHERE x.type <> 'offline';

    FOR r IN SELECT al.id, al.type, al.peak FROM alerts al
              WHERE al.server_id = p_server_id AND al.resolved_at IS NULL
                AND al.type = ANY (kinds)
    LOOP
        v_active[array_position(kinds, r.type)] := r.id;
        v_peak[array_position(kinds, r.type)] := r.peak;
    END LOOP;

    FOR k IN 1 .. array_length(p_at, 1) LOOP
        FOR t IN 1 .. 3 LOOP
            v_value := p_values[k][t];
            IF v_active[t] IS NOT NULL THEN
                IF NOT v_enabled[t] OR v_value < v_threshold[t] - v_margin[t] THEN
                    UPDATE alerts
                       SET resolved_at = p_at[k], resolved_value = v_value, peak = v_peak[t]
                     WHERE id = v_active[t]
                    RETURNING * INTO a;
                    PERFORM vigie_alert_announce(a);
                    v_active[t] := NULL;
                    v_peak_moved[t] := false;
                ELSIF v_value > v_peak[t] THEN
                    v_peak[t] := v_value;
                    v_peak_moved[t] := true;
                END IF;
            ELSIF v_enabled[t] AND v_value >= v_threshold[t] THEN
                v_over[t] := v_over[t] + 1;
                IF v_over[t] >= v_for[t] THEN
                    INSERT INTO alerts (server_id, type, threshold, value, peak, started_at)
                    VALUES (p_server_id, kinds[t], v_threshold[t], v_value, v_value, p_at[k])
                    RETURNING * INTO a;
                    PERFORM vigie_alert_announce(a);
                    v_active[t] := a.id;
                    v_peak[t] := v_value;
                    v_over[t] := 0;
                END IF;
            ELSE
                v_over[t] := 0;
            END IF;
        END LOOP;
    END LOOP;

    FOR t IN 1 .. 3 LOOP
        IF v_active[t] IS NOT NULL AND v_peak_moved[t] THEN
            UPDATE alerts SET peak = v_peak[t] WHERE id = v_active[t];
        END IF;
    END LOOP;
    UPDATE alert_state SET over = v_over
     WHERE server_id = p_server_id AND over IS DISTINCT FROM v_over;
END
$$;

-- Offline is an alert of its own: it fires when the server is marked inactive and
-- resolves when a sample marks it active again. Its metric alerts stay as they are:
-- what was wrong when it went silent is still the last thing known.
CREATE OR REPLACE FUNCTION vigie_alerts_on_status() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    a alerts;
BEGIN
    IF NEW.is_active THEN
        UPDATE alerts SET resolved_at = greatest(now(), started_at)
         WHERE server_id = NEW.id AND type = 'offline' AND resolved_at IS NULL
        RETURNING * INTO a;
    ELSIF (SELECT x.enabled FROM vigie_alert_rules(NEW.id, '{}') x WHERE x.type = 'offline') THEN
        INSERT INTO alerts (server_id, type, value, started_at)
        VALUES (NEW.id, 'offline',
                coalesce(round(extract(epoch FROM now() - NEW.last_seen), 1), 0), now())
        ON CONFLICT (server_id, type, device) WHERE resolved_at IS NULL DO NOTHING
        RETURNING * INTO a;
    END IF;
    IF a.id IS NOT NULL THEN
        PERFORM vigie_alert_announce(a);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER servers_offline_alert
    AFTER UPDATE OF is_active ON servers
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION vigie_alerts_on_status();

-- After a server's rules change: counts restart, and an alert whose rule is now
-- disabled resolves at once (announced like any resolution).
CREATE OR REPLACE FUNCTION vigie_alerts_rules_changed(p_server_id integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    a alerts;
BEGIN
    UPDATE alert_state SET over = '{0,0,0}', wide_over = '{}' WHERE server_id = p_server_id;
    -- The next sample evaluates in full, and computes the band anew.
    UPDATE servers SET alert_band = NULL, wide_band = NULL WHERE id = p_server_id;
    FOR a IN
        UPDATE alerts al SET resolved_at = greatest(now(), al.started_at)
          FROM alert_rules r
         WHERE al.server_id = p_server_id AND al.resolved_at IS NULL
           AND r.server_id = al.server_id AND r.type = al.type AND NOT r.enabled
        RETURNING al.*
    LOOP
        PERFORM vigie_alert_announce(a);
    END LOOP;
END
$$;

-- The wide sample's alerts (sql/102_wide_sample.sql): load per core (load_1 /
-- cpu_count), swap percent, each filesystem's percent and inodes percent (each
-- mount its own alert), each sensor's temperature (each sensor its own alert).
-- Same rules as cpu, ram and disk: `for_samples` consecutive samples at or over
-- the threshold fire, a sample below threshold - clear_margin resolves, only samples
-- newer than every one stored before count. The defaults are the configuration's
-- when it sets them (p_defaults: "load", "swap", "filesystem", "inodes",
-- "temperature", "load_clear_margin"), else built in: a load of 2 per core (clear
-- 0.25 below), 80 % of swap, 90 % of a filesystem or its inodes, 85 °C.
CREATE OR REPLACE FUNCTION vigie_wide_types() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['load', 'swap', 'filesystem', 'inodes', 'temperature'] $$;

CREATE OR REPLACE FUNCTION vigie_wide_alert_rules(p_server_id integer, p_defaults jsonb)
RETURNS TABLE (type text, threshold real, for_samples integer, clear_margin real,
               enabled boolean)
LANGUAGE sql STABLE AS $$
    SELECT t.kind,
           coalesce(r.threshold, (p_defaults ->> t.kind)::real, t.threshold),
           coalesce(r.for_samples, (p_defaults ->> 'for_samples')::integer, 3),
           coalesce(r.clear_margin,
                    CASE WHEN t.kind = 'load' THEN (p_defaults ->> 'load_clear_margin')::real
                         ELSE (p_defaults ->> 'clear_margin')::real END,
                    t.margin),
           coalesce(r.enabled, true)
      FROM unnest(vigie_wide_types(), ARRAY[2, 80, 90, 90, 85]::real[],
                  ARRAY[0.25, 5, 5, 5, 5]::real[]) WITH ORDINALITY
           AS t (kind, threshold, margin, position)
      LEFT JOIN alert_rules r ON r.server_id = p_server_id AND r.type = t.kind
     ORDER BY t.position
$$;

-- A sample's values the wide rules watch: (type number in vigie_wide_types(), the
-- device's number in the server's dictionary or 0, value).
CREATE OR REPLACE FUNCTION vigie_wide_alert_values(m metrics)
RETURNS TABLE (type integer, device integer, value real)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF m.load_1 IS NOT NULL AND m.cpu_count > 0 THEN
        RETURN QUERY SELECT 1, 0, (m.load_1 / m.cpu_count)::real;
    END IF;
    IF m.swap_percent IS NOT NULL THEN
        RETURN QUERY SELECT 2, 0, m.swap_percent::real;
    END IF;
    RETURN QUERY
        SELECT 3, m.fs_ids[i], m.fs_values[i][1] FROM generate_subscripts(m.fs_ids, 1) i
        UNION ALL
        SELECT 4, m.fs_ids[i], m.fs_values[i][4] FROM generate_subscripts(m.fs_ids, 1) i
         WHERE m.fs_values[i][4] IS NOT NULL
        UNION ALL
        SELECT 5, m.temp_ids[i], m.temp_values[i] FROM generate_subscripts(m.temp_ids, 1) i;
END
$$;

-- The band of the wide rules: per type, the threshold under which a value changes
-- nothing (infinity for a rule turned off); NULL when any value may change
-- something (an alert of these types firing, a count running).
CREATE OR REPLACE FUNCTION vigie_wide_band(p_server_id integer, p_defaults jsonb)
RETURNS real[] LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM alert_state st
                                  WHERE st.server_id = p_server_id AND st.wide_over <> '{}')
                 AND NOT EXISTS (SELECT 1 FROM alerts a
                                  WHERE a.server_id = p_server_id AND a.resolved_at IS NULL
                                    AND a.type = ANY (vigie_wide_types()))
           THEN (SELECT array_agg(CASE WHEN r.enabled THEN r.threshold ELSE 'Infinity' END)
                   FROM vigie_wide_alert_rules(p_server_id, p_defaults) r) END
$$;

-- Whether the samples p_rows change no wide alert: every value under its band.
CREATE OR REPLACE FUNCTION vigie_wide_quiet(p_band real[], p_same_defaults boolean,
                                            p_rows metrics[])
RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    m metrics;
BEGIN
    IF p_band IS NULL OR NOT coalesce(p_same_defaults, false) THEN
        RETURN false;
    END IF;
    FOREACH m IN ARRAY p_rows LOOP
        IF EXISTS (SELECT 1 FROM vigie_wide_alert_values(m) v WHERE v.value >= p_band[v.type])
        THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$$;

-- The top processes of the moment a sample was taken: the newest sent at or
-- before it, within ten minutes.
CREATE OR REPLACE FUNCTION vigie_top_processes_at(p_server_id integer, p_at timestamptz)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT m.top_processes || jsonb_build_object('recorded_at', m.recorded_at)
      FROM metrics m
     WHERE m.server_id = p_server_id AND m.recorded_at <= p_at
       AND m.recorded_at > p_at - interval '10 minutes' AND m.top_processes IS NOT NULL
     ORDER BY m.recorded_at DESC LIMIT 1
$$;

-- Fold a server's new samples (p_rows, any order) into its wide alerts; those not
-- newer than p_before change nothing. p_fs and p_temp: the server's dictionary of
-- mounts and sensors. Returns the band to keep.
CREATE OR REPLACE FUNCTION vigie_wide_alerts_fold(
    p_server_id integer, p_rows metrics[], p_before timestamptz, p_defaults jsonb,
    p_fs text[], p_temp text[])
RETURNS real[]
LANGUAGE plpgsql AS $$
DECLARE
    types     CONSTANT text[] := vigie_wide_types();
    v_over    jsonb;
    v_rules   record;
    v_thr     real[];
    v_for     integer[];
    v_margin  real[];
    v_enabled boolean[];
    v_active  jsonb := '{}';   -- "type:device" -> [id, peak]
    v_key     text;
    v_name    text;
    a         alerts;
    r         record;
BEGIN
    SELECT st.wide_over INTO v_over FROM alert_state st
     WHERE st.server_id = p_server_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO alert_state (server_id) VALUES (p_server_id)
        ON CONFLICT (server_id) DO NOTHING;
        SELECT st.wide_over INTO v_over FROM alert_state st
         WHERE st.server_id = p_server_id FOR UPDATE;
    END IF;
    SELECT array_agg(x.threshold), array_agg(x.for_samples), array_agg(x.clear_margin),
           array_agg(x.enabled)
      INTO v_thr, v_for, v_margin, v_enabled
      FROM vigie_wide_alert_rules(p_server_id, p_defaults) x;
    FOR r IN SELECT al.id, al.type, al.device, al.peak FROM alerts al
              WHERE al.server_id = p_server_id AND al.resolved_at IS NULL
                AND al.type = ANY (types)
    LOOP
        v_active := v_active || jsonb_build_object(r.type || ':' || r.device,
                                                   jsonb_build_array(r.id, r.peak));
    END LOOP;

    FOR r IN SELECT m.recorded_at AS at, v.type, v.device, v.value
               FROM unnest(p_rows) m
              CROSS JOIN LATERAL vigie_wide_alert_values(m) v
              WHERE m.recorded_at > coalesce(p_before, '-infinity')
              ORDER BY m.recorded_at, v.type, v.device
    LOOP
        v_name := CASE r.type WHEN 3 THEN p_fs[r.device] WHEN 4 THEN p_fs[r.device]
                              WHEN 5 THEN p_temp[r.device] ELSE '' END;
        v_key := types[r.type] || ':' || v_name;
        IF v_active ? v_key THEN
            IF NOT v_enabled[r.type] OR r.value < v_thr[r.type] - v_margin[r.type] THEN
                UPDATE alerts
                   SET resolved_at = r.at, resolved_value = r.value,
                       peak = greatest(peak, (v_active -> v_key ->> 1)::real)
                 WHERE id = (v_active -> v_key ->> 0)::bigint
                RETURNING * INTO a;
                PERFORM vigie_alert_announce(a);
                v_active := v_active - v_key;
            ELSIF r.value > (v_active -> v_key ->> 1)::real THEN
                v_active := jsonb_set(v_active, ARRAY[v_key, '1'], to_jsonb(r.value));
            END IF;
        ELSIF v_enabled[r.type] AND r.value >= v_thr[r.type] THEN
            v_over := jsonb_set(v_over, ARRAY[v_key],
                                to_jsonb(coalesce((v_over ->> v_key)::integer, 0) + 1));
            IF (v_over ->> v_key)::integer >= v_for[r.type] THEN
                INSERT INTO alerts (server_id, type, device, threshold, value, peak, started_at,
                                    top_processes)
                VALUES (p_server_id, types[r.type], v_name, v_thr[r.type], r.value, r.value,
                        r.at, vigie_top_processes_at(p_server_id, r.at))
                RETURNING * INTO a;
                PERFORM vigie_alert_announce(a);
                v_active := v_active || jsonb_build_object(v_key, jsonb_build_array(a.id, r.value));
                v_over := v_over - v_key;
            END IF;
        ELSE
            v_over := v_over - v_key;
        END IF;
    END LOOP;

    -- Peaks of the alerts still firing.
    UPDATE alerts al SET peak = (v_active -> (al.type || ':' || al.device) ->> 1)::real
     WHERE al.server_id = p_server_id AND al.resolved_at IS NULL AND al.type = ANY (types)
       AND v_active ? (al.type || ':' || al.device)
       AND al.peak < (v_active -> (al.type || ':' || al.device) ->> 1)::real;
    UPDATE alert_state SET wide_over = v_over
     WHERE server_id = p_server_id AND wide_over IS DISTINCT FROM v_over;
    RETURN vigie_wide_band(p_server_id, p_defaults);
END
$$;
