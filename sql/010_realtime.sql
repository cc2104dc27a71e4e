-- What the realtime relay needs besides NOTIFY: catch-up after a lost LISTEN
-- connection, and stored offline/online transitions.
--
-- NOTIFY is not durable: a relay that loses its LISTEN connection misses every
-- notification committed until it listens again. `metrics.recorded_at` cannot tell
-- what was written meanwhile (it is the sample's own time: a spooled sample can be
-- hours old) and `metrics.id` has no index. So two small logs, written by triggers
-- in the writer's own transaction (vigie_ingest itself is unchanged), record each
-- write with the id of its transaction (xid8). A relay keeps a snapshot taken when
-- it knew it had received every notification before it; after reconnecting, the
-- log rows whose transaction that snapshot does not see are exactly the writes it
-- may have missed (see realtime/feed.py).
--
--  * metric_writes: one row per statement and server that stored samples, with the
--    same time range as the notification. Only the recent past matters, so relays
--    prune it (VIGIE_RELAY_LOG_RETENTION); no foreign key, it is a log.
--  * server_status_changes: every is_active transition, both ways, kept: it is the
--    availability history of each server.

CREATE TABLE metric_writes (
    xid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
    written_at timestamptz NOT NULL DEFAULT now(),
    first_at   timestamptz NOT NULL,
    last_at    timestamptz NOT NULL CHECK (last_at >= first_at),
    server_id  integer     NOT NULL,
    count      integer     NOT NULL CHECK (count > 0)
);
-- The catch-up reads the transactions at or after a snapshot's xmin; pruning
-- deletes before an old one.
CREATE INDEX metric_writes_xid ON metric_writes (xid);

CREATE FUNCTION vigie_log_metric_writes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_writes (server_id, count, first_at, last_at)
    SELECT n.server_id, count(*), min(n.recorded_at), max(n.recorded_at)
      FROM new_rows n
     GROUP BY n.server_id;
    RETURN NULL;
END
$$;

-- Statement level with a transition table: one row per request, whatever the
-- batch size; a retry that stores nothing writes nothing.
CREATE TRIGGER metrics_log_writes
    AFTER INSERT ON metrics
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION vigie_log_metric_writes();


CREATE TABLE server_status_changes (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_id  integer     NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    is_active  boolean     NOT NULL,
    -- The server's last_seen at the transition: when it was last heard from.
    last_seen  timestamptz,
    changed_at timestamptz NOT NULL DEFAULT now(),
    xid        xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX server_status_changes_server ON server_status_changes (server_id, changed_at);
CREATE INDEX server_status_changes_xid ON server_status_changes (xid);

CREATE FUNCTION vigie_record_status_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO server_status_changes (server_id, is_active, last_seen)
    VALUES (NEW.id, NEW.is_active, NEW.last_seen);
    RETURN NULL;
END
$$;

-- Both ways: vigie_ingest sets is_active (back online), vigie_sweep_offline clears it.
CREATE TRIGGER servers_status_change
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
CREATE FUNCTION vigie_sweep_offline(p_intervals double precision)
RETURNS TABLE (server_id integer, last_seen timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    FOR server_id, last_seen IN
        UPDATE servers s SET is_active = false
         WHERE s.is_active
           AND s.last_seen < now() - make_interval(secs => p_intervals * s.interval_seconds)
        RETURNING s.id, s.last_seen
    LOOP
        PERFORM pg_notify('vigie_events', json_build_object(
            'kind', 'status', 'server_id', server_id, 'is_active', false,
            'last_seen', last_seen)::text);
        RETURN NEXT;
    END LOOP;
END
$$;
