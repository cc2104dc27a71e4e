-- Servers registered and removed, logged with the transaction that did it, for the
-- relay's catch-up (realtime/catchup.py).
--
-- A registration and a removal are announced by NOTIFY, which is not durable: a
-- relay that was not listening when one committed never hears of it, and its
-- dashboards would keep showing a removed server (or miss a new one). The catch-up
-- reads what it missed from logs with transaction ids (metric_writes,
-- server_status_changes, sql/100_schema.sql); this is the log of servers coming and
-- going, read beside them. No foreign key: a removed server's row is gone, its
-- record must stay. Only the recent past matters, so relays prune it with
-- metric_writes (VIGIE_RELAY_LOG_RETENTION).
--
-- Rows are written by triggers on `servers` (sql/routines/realtime.sql), so every
-- way a server comes or goes is logged, in that transaction.
CREATE TABLE server_events (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid       xid8        NOT NULL DEFAULT pg_current_xact_id(),
    at        timestamptz NOT NULL DEFAULT now(),
    server_id integer     NOT NULL,
    event     text        NOT NULL CHECK (event IN ('registered', 'removed'))
);
-- The catch-up reads the transactions at or after a snapshot's xmin; pruning
-- deletes before an old one.
CREATE INDEX server_events_xid ON server_events (xid);
