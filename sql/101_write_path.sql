-- The write path in one statement: what a sample's transaction writes, and nothing
-- it does not need to.
--
-- Why: a single-sample write cost 7.6 times a bare INSERT + NOTIFY transaction
-- (bench/write_path.py), most of it in three statement-level triggers on `metrics`:
-- three rollup upserts, the latest sample's upsert, the write log, and the alert
-- evaluation's read of rules and alerts. Now vigie_ingest (sql/routines/ingest.sql)
-- does, in the row of `servers` it locks and updates anyway:
--  * the latest sample (formerly metrics_latest, one more row per write);
--  * `rollup_from`, the oldest sample not yet in the rollups, and `writes`, a count
--    of the writes that stored samples: the rollups are brought up to date off the
--    ingest transaction, set-based, by vigie_rollup_pending() (sql/routines/
--    rollups.sql), which the relay calls every VIGIE_ROLLUP_SECONDS; history reads
--    the samples from `rollup_from` on from the raw table, so a chart stays exact
--    and seamless meanwhile;
--  * `alert_band`: per metric, the values that change no alert (under the
--    threshold; between the clear level and the peak of a firing alert), with the
--    defaults they were computed for. A sample inside it costs no evaluation.
-- The write log (metric_writes) is written by vigie_ingest itself, one row.

ALTER TABLE servers
    ADD COLUMN latest_at    timestamptz,
    ADD COLUMN latest_sent  double precision,
    ADD COLUMN latest_recv  double precision,
    ADD COLUMN latest_cpu   real,
    ADD COLUMN latest_ram   real,
    ADD COLUMN latest_disk  real,
    ADD COLUMN rollup_from  timestamptz,
    ADD COLUMN writes       bigint NOT NULL DEFAULT 0,
    ADD COLUMN alert_band   real[] CHECK (cardinality(alert_band) = 9),
    ADD COLUMN alert_band_defaults jsonb;

-- Every write updates its server's row: room on the page keeps the update HOT.
ALTER TABLE servers SET (fillfactor = 50);

UPDATE servers s
   SET latest_at = l.recorded_at, latest_sent = l.network_sent_mb,
       latest_recv = l.network_recv_mb, latest_cpu = l.cpu_percent,
       latest_ram = l.ram_percent, latest_disk = l.disk_percent
  FROM metrics_latest l
 WHERE l.server_id = s.id;

-- The triggers the write path replaces, and their functions.
DROP TRIGGER IF EXISTS metrics_rollup_after_insert ON metrics;
DROP TRIGGER IF EXISTS metrics_alerts ON metrics;
DROP TRIGGER IF EXISTS metrics_log_writes ON metrics;
DROP FUNCTION IF EXISTS vigie_metrics_inserted();
DROP FUNCTION IF EXISTS vigie_alerts_on_metrics();
DROP FUNCTION IF EXISTS vigie_log_metric_writes();
DROP FUNCTION IF EXISTS vigie_alerts_unchanged(integer, real[], real[], jsonb);

DROP TABLE metrics_latest;
