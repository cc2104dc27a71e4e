-- A cheaper alert evaluation for the common write: nothing firing, nothing counting,
-- every new value under its threshold. bench/alerts_cost.py measured the first
-- version (sql/021) at +0.43 ms per single-sample write, +27 % of its statements:
-- it locked and rewrote the server's alert_state row on every write, to remember the
-- newest sample evaluated, and sorted every batch into arrays before looking at it.
--
-- Now:
--  * the common write is one read-only query (vigie_alerts_unchanged) over the
--    smallest and largest value of each metric in the statement: no lock, no row
--    written. It covers a quiet server, and a firing alert whose values stay between
--    its clear level and its peak;
--  * only a write that may change something builds the sorted arrays and takes the
--    state row's lock;
--  * "newest sample evaluated" is no longer stored: it is the newest sample the
--    server had before this statement, read from metrics' primary key (one index
--    probe, only on that slower path). The rule is unchanged: a sample older than
--    one already stored changes no alert (a straggler), while a backlog drained in
--    order is evaluated like live data.

ALTER TABLE alert_state DROP COLUMN evaluated_at;

-- True when new samples whose smallest and largest values are p_min and p_max
-- (cpu, ram, disk) can change nothing: no count is running, and for each metric
-- either no alert fires and every value stays under the threshold, or an alert fires
-- and every value stays between its clear level and its peak so far. PL/pgSQL rather
-- than SQL: its plan is cached for the session, where a SQL function with subqueries
-- is planned at every call.
CREATE FUNCTION vigie_alerts_unchanged(
    p_server_id integer, p_min real[], p_max real[], p_defaults jsonb)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NOT EXISTS (SELECT 1 FROM alert_state s
                        WHERE s.server_id = p_server_id AND s.over <> '{0,0,0}')
       AND NOT EXISTS (
           SELECT 1
             FROM vigie_alert_rules(p_server_id, p_defaults) r
             CROSS JOIN LATERAL (SELECT array_position(ARRAY['cpu', 'ram', 'disk'], r.type)) AS k (i)
             LEFT JOIN alerts a
                    ON a.server_id = p_server_id AND a.type = r.type AND a.resolved_at IS NULL
            WHERE r.type <> 'offline'
              AND CASE WHEN a.id IS NULL
                       THEN r.enabled AND p_max[k.i] >= r.threshold
                       ELSE NOT r.enabled OR p_max[k.i] > a.peak
                            OR p_min[k.i] < r.threshold - r.clear_margin
                  END);
END
$$;

DROP FUNCTION vigie_alerts_evaluate(integer, timestamptz[], real[], real[], jsonb);

-- Fold one server's new samples, sorted by time and all newer than what it had
-- before, into its alert state. p_values[k] = {cpu, ram, disk} of sample k.
CREATE FUNCTION vigie_alerts_evaluate(
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
                AND al.type <> 'offline'
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

CREATE OR REPLACE FUNCTION vigie_alerts_on_metrics() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_defaults jsonb := coalesce(
        nullif(current_setting('vigie.alert_defaults', true), '')::jsonb, '{}');
    v_before   timestamptz;
    v_at       timestamptz[];
    v_values   real[];
    s          record;
BEGIN
    -- Servers in id order, so two statements writing the same servers lock their
    -- states in the same order.
    FOR s IN
        SELECT n.server_id,
               ARRAY[min(n.cpu_percent), min(n.ram_percent), min(n.disk_percent)] AS low,
               ARRAY[max(n.cpu_percent), max(n.ram_percent), max(n.disk_percent)] AS high
          FROM new_samples n
         GROUP BY n.server_id
         ORDER BY n.server_id
    LOOP
        CONTINUE WHEN vigie_alerts_unchanged(s.server_id, s.low, s.high, v_defaults);

        -- The newest sample this server had before this statement: anything older
        -- arrived late, and is not evaluated. NOT IN (a hashed subplan) rather than
        -- NOT EXISTS: the latter became a nested loop over the whole batch for each
        -- of its rows (200 ms for 1000 samples, against under 1 ms).
        SELECT m.recorded_at INTO v_before
          FROM metrics m
         WHERE m.server_id = s.server_id
           AND m.recorded_at NOT IN (SELECT n.recorded_at FROM new_samples n
                                      WHERE n.server_id = s.server_id)
         ORDER BY m.recorded_at DESC
         LIMIT 1;

        SELECT array_agg(n.recorded_at ORDER BY n.recorded_at),
               array_agg(ARRAY[n.cpu_percent, n.ram_percent, n.disk_percent]
                         ORDER BY n.recorded_at)
          INTO v_at, v_values
          FROM new_samples n
         WHERE n.server_id = s.server_id
           AND n.recorded_at > coalesce(v_before, '-infinity');
        IF v_at IS NOT NULL THEN
            PERFORM vigie_alerts_evaluate(s.server_id, v_at, v_values, v_defaults);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
