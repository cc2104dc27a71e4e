-- What the realtime relay needs besides NOTIFY: the triggers that log each status
-- change, and each server registered or removed, with its transaction id (each
-- write is logged by vigie_ingest itself; the tables are in sql/100 and sql/104),
-- and the offline sweep. See realtime/catchup.py for how the
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

-- Servers coming and going, logged for the catch-up (sql/104_server_events.sql):
-- whatever inserts or deletes them (registration, vigie_delete_server, by hand).
-- One statement inserts them all, whatever the number of rows. An INSERT … ON
-- CONFLICT DO UPDATE lists only the rows it inserted here: a host registering
-- again is not a new server.
CREATE OR REPLACE FUNCTION vigie_record_server_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO server_events (server_id, event)
        SELECT id, 'registered' FROM added ORDER BY id;
    ELSE
        INSERT INTO server_events (server_id, event)
        SELECT id, 'removed' FROM removed ORDER BY id;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER servers_registered
    AFTER INSERT ON servers
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION vigie_record_server_event();

CREATE OR REPLACE TRIGGER servers_removed
    AFTER DELETE ON servers
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION vigie_record_server_event();

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
