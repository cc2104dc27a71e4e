-- What the realtime relay needs besides NOTIFY: the trigger that logs each status
-- change with its transaction id (each write is logged by vigie_ingest itself; the
-- tables are in sql/100), and the offline sweep. See realtime/catchup.py for how the
-- relay reads them.

CREATE OR REPLACE FUNCTION vigie_record_status_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO server_status_changes (server_id, is_active, last_seen)
    VALUES (NEW.id, NEW.is_active, NEW.last_seen);
    RETURN NULL;
END
$$;

-- Both ways: vigie_ingest sets is_active (back online), vigie_sweep_offline clears it.
CREATE OR REPLACE TRIGGER servers_status_change
    AFTER UPDATE OF is_active ON servers
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION vigie_record_status_change();

-- Offline detection, run every few seconds by every relay instance.
--
-- A server is offline when it has sent nothing for p_intervals of its own
-- interval_seconds. One UPDATE flips it, stores the transition (trigger above) and
-- announces it, in one transaction. `WHERE s.is_active` lets the database decide
-- who wins when several relays sweep at once: the row lock makes the others
-- re-check the row, find it inactive, and skip it. vigie_ingest takes the same row
-- lock, so a sample arriving during the sweep either keeps the server active or
-- comes after the transition and announces it back online.
--
-- Payload: {"kind": "status", "server_id", "is_active": false, "last_seen"}.
CREATE OR REPLACE FUNCTION vigie_sweep_offline(p_intervals double precision)
RETURNS TABLE (server_id integer, last_seen timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    -- The rows are locked in id order, as every transaction that locks several
    -- does (a group of writes, the roll-up): none waits on another in a cycle.
    -- The lock re-checks the condition on the row's newest version.
    FOR server_id, last_seen IN
        WITH due AS (
            SELECT d.id FROM servers d
             WHERE d.is_active
               AND d.last_seen < now() - make_interval(secs => p_intervals * d.interval_seconds)
             ORDER BY d.id
               FOR NO KEY UPDATE)
        UPDATE servers s SET is_active = false
          FROM due
         WHERE s.id = due.id
        RETURNING s.id, s.last_seen
    LOOP
        PERFORM pg_notify('vigie_events', json_build_object(
            'kind', 'status', 'server_id', server_id, 'is_active', false,
            'last_seen', last_seen)::text);
        RETURN NEXT;
    END LOOP;
END
$$;
