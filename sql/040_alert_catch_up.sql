-- Alerts replayed by the relay's catch-up, like samples and status changes.
--
-- A relay that loses its LISTEN connection reads what was committed meanwhile from
-- logs written in the writers' own transactions, each row with its transaction id
-- (sql/010, realtime/feed.py). Alerts already have such a log: the webhook outbox
-- (alert_notifications, sql/020) gets one row per firing and per resolution, in the
-- transaction that announces it, holding the event it announced. Only the
-- transaction id was missing: this column, filled by its default, so the alert
-- functions are unchanged.
--
-- Why 040 and not the relay's own 010-019: migrations run in name order, and on a
-- new database a 01x file runs before sql/020 has created this table. 040 is past
-- every range in use (relay 010-019, alerts 020-029, rollups 030-039), so it takes
-- no one else's number, and it only needs 020 before it.
--
-- On an existing database, the rows already there keep a NULL xid, which the
-- catch-up never selects: they were announced before any relay could read this
-- column. (A default in the ADD COLUMN itself would rewrite the table and give them
-- all this migration's transaction id: a relay whose horizon predates it would
-- replay days of old alerts.) The default is set afterwards, so only new rows get it.
ALTER TABLE alert_notifications ADD COLUMN xid xid8;
ALTER TABLE alert_notifications ALTER COLUMN xid SET DEFAULT pg_current_xact_id();

-- The catch-up reads the transactions at or after a snapshot's xmin.
CREATE INDEX alert_notifications_xid ON alert_notifications (xid);
