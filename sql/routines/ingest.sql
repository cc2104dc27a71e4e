-- The write path of POST /api/metrics and /api/metrics/batch, in one call.
--
-- Storing the samples, marking the server seen and announcing the write happen in
-- the caller's transaction, so a NOTIFY is only ever delivered for committed data.
-- NOTIFY takes a cluster-wide lock at commit: a request sends at most one, small,
-- whatever the number of samples (a batch announces its time range, not its rows).
--
-- Channel `vigie_events`, payload (JSON, well under the 8000-byte limit):
--   {"kind": "metrics", "server_id": 1, "count": 3, "first": ts, "last": ts,
--    "online": true|false, "last_seen": ts,
--    "latest": {"recorded_at": ts, "cpu_percent": 12.5, "ram_percent": 40.1,
--               "disk_percent": 55.0}}
-- `count` new samples were stored with recorded_at in [first, last]; `online` is
-- true when this write brought an inactive server back; `latest` is the server's
-- newest stored sample (null when this write stored none): the relay's fleet view
-- needs no read of its own, and a late batch of older samples does not make it
-- show older values.
--
-- Its plans are made once per connection (force_generic_plan). Over partitions,
-- custom plans always look cheaper than a generic one that lists every partition,
-- and, the number of samples of a call being unknown to the planner (it guesses
-- 100), a join on metrics could become a hash join reading every stored sample of
-- the server. A LATERAL lookup with LIMIT 1 is one primary-key probe per sample, in
-- the one partition that can hold it.

CREATE OR REPLACE FUNCTION vigie_ingest(p_server_id integer, p_samples jsonb)
RETURNS TABLE (inserted integer, duplicates integer, ids bigint[], online boolean)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_was_active boolean;
    v_total      integer;
    v_first      timestamptz;
    v_last       timestamptz;
    v_latest     json;
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
        IF inserted > 0 THEN
            -- From this write's newest on: the partitions before it are pruned.
            SELECT json_build_object('recorded_at', m.recorded_at, 'cpu_percent', m.cpu_percent,
                                     'ram_percent', m.ram_percent, 'disk_percent', m.disk_percent)
              INTO v_latest
              FROM metrics m WHERE m.server_id = p_server_id AND m.recorded_at >= v_last
             ORDER BY m.recorded_at DESC LIMIT 1;
        END IF;
        PERFORM pg_notify('vigie_events', json_build_object(
            'kind', 'metrics', 'server_id', p_server_id, 'count', inserted,
            'first', v_first, 'last', v_last, 'online', online, 'last_seen', now(),
            'latest', v_latest)::text);
    END IF;
    RETURN NEXT;
END
$$;
