-- Operating Vigie: removing a server, and what silences hold (the tables are in
-- sql/103_operations.sql).

-- Remove a server and everything stored about it, in the caller's transaction:
-- its samples, rollups, alerts and their outbox, rule overrides, status history,
-- silences and share links (by the foreign keys' ON DELETE CASCADE), and the rows
-- of the logs that have no foreign key. Announced once the transaction commits:
-- {"kind": "server", "server_id", "event": "removed"}, and logged in server_events
-- (by the trigger servers_removed, sql/routines/realtime.sql) for a relay that was
-- not listening then. False when there is no such server.
CREATE OR REPLACE FUNCTION vigie_delete_server(p_server_id integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    -- The same row lock the write path takes first: a write in flight finishes
    -- before, and one after finds no server (403, as for an unknown id).
    PERFORM 1 FROM servers WHERE id = p_server_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM metric_writes WHERE server_id = p_server_id;
    DELETE FROM metrics_expired WHERE server_id = p_server_id;
    DELETE FROM servers WHERE id = p_server_id;
    PERFORM pg_notify('vigie_events', json_build_object(
        'kind', 'server', 'server_id', p_server_id, 'event', 'removed')::text);
    RETURN true;
END
$$;

-- Until when the server's notifications are held at p_at: the latest end of the
-- silences covering it then (its own, or its tags'); NULL when none does.
CREATE OR REPLACE FUNCTION vigie_silenced_until(p_server_id integer, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT max(x.ends_at)
      FROM servers s
      JOIN silences x ON x.server_id = s.id OR x.tag = ANY (s.tags)
     WHERE s.id = p_server_id AND x.starts_at <= p_at AND x.ends_at > p_at
$$;
