-- What a sample's and a server's values may be, said by their types rather than
-- by CHECK constraints on the tables.
--
-- The database refuses what the API's validation should have refused either way
-- (SQLSTATE 23514). The difference is the cost: PostgreSQL reads a table's CHECK
-- constraints from their stored form and plans them again for every statement
-- that writes a row, and evaluates every one of them on every UPDATE, whatever
-- columns it sets. The write path inserts a sample and updates its server's row
-- once per request: with the wide sample's 30 checks this was a third of the
-- database's work per sample (bench/write_path.py). A domain's constraints are
-- prepared once per connection, and checked only when a value of the column is
-- written.

-- The functions that take or return a sample's row type (sql/routines) stand in
-- the way of changing its columns: they are dropped here, and every routine file
-- is applied again after the migrations (vigie migrate).
DROP FUNCTION IF EXISTS vigie_wide_alert_values(metrics);
DROP FUNCTION IF EXISTS vigie_wide_quiet(real[], boolean, metrics[]);
DROP FUNCTION IF EXISTS vigie_wide_alerts_fold(integer, metrics[], timestamptz, jsonb, text[],
                                               text[]);
DROP FUNCTION IF EXISTS vigie_is_wide(metrics);
DROP FUNCTION IF EXISTS vigie_rollup_add(integer, metrics[], metrics[], timestamptz);
DROP FUNCTION IF EXISTS vigie_rollup_late(metrics[]);
DROP FUNCTION IF EXISTS vigie_series_values(metrics);
DROP FUNCTION IF EXISTS vigie_series_steps(metrics, metrics);
DROP FUNCTION IF EXISTS vigie_series_rates(metrics);
DO $$
BEGIN
    IF to_regclass('vigie_routines') IS NOT NULL THEN
        DELETE FROM vigie_routines;
    END IF;
END
$$;

CREATE DOMAIN vigie_percent AS real CHECK (VALUE >= 0 AND VALUE <= 100);
CREATE DOMAIN vigie_amount AS real CHECK (VALUE >= 0);          -- MB, GB, a load
CREATE DOMAIN vigie_counter AS double precision CHECK (VALUE >= 0);  -- cumulative, seconds
CREATE DOMAIN vigie_cpus AS smallint CHECK (VALUE >= 1);
CREATE DOMAIN vigie_count AS integer CHECK (VALUE >= 0);

-- The CHECK constraints of both tables give way to the domains below.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
              WHERE conrelid IN ('metrics'::regclass, 'servers'::regclass)
                AND contype = 'c' LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    END LOOP;
END
$$;
-- (The per-device arrays, ids and values, are built together from the same list
-- by vigie_ingest: their lengths agree by construction.)
ALTER TABLE metrics
    ALTER cpu_percent        TYPE vigie_percent,
    ALTER ram_percent        TYPE vigie_percent,
    ALTER disk_percent       TYPE vigie_percent,
    ALTER ram_used_mb        TYPE vigie_amount,
    ALTER ram_total_mb       TYPE vigie_amount,
    ALTER disk_used_gb       TYPE vigie_amount,
    ALTER disk_total_gb      TYPE vigie_amount,
    ALTER network_sent_mb    TYPE vigie_counter,
    ALTER network_recv_mb    TYPE vigie_counter,
    ALTER load_1             TYPE vigie_amount,
    ALTER load_5             TYPE vigie_amount,
    ALTER load_15            TYPE vigie_amount,
    ALTER cpu_count          TYPE vigie_cpus,
    ALTER cpu_user_percent   TYPE vigie_percent,
    ALTER cpu_system_percent TYPE vigie_percent,
    ALTER cpu_iowait_percent TYPE vigie_percent,
    ALTER cpu_steal_percent  TYPE vigie_percent,
    ALTER swap_used_mb       TYPE vigie_amount,
    ALTER swap_total_mb      TYPE vigie_amount,
    ALTER swap_percent       TYPE vigie_percent,
    ALTER swap_in_mb         TYPE vigie_counter,
    ALTER swap_out_mb        TYPE vigie_counter,
    ALTER uptime_seconds     TYPE vigie_counter,
    ALTER process_count      TYPE vigie_count;

-- The server's row: written by every sample (last_seen, latest values), its name,
-- host, interval, token and tags only by registration and the admin.
CREATE DOMAIN vigie_name AS varchar(100) CHECK (btrim(VALUE) <> '');
CREATE DOMAIN vigie_hostname AS varchar(255) CHECK (btrim(VALUE) <> '');
CREATE DOMAIN vigie_interval AS real CHECK (VALUE > 0 AND VALUE <= 3600);
CREATE DOMAIN vigie_token_hash AS bytea CHECK (octet_length(VALUE) = 32);
-- Each tag 1-32 characters of a-z 0-9 . _ -: joined by commas they match this
-- pattern, and split at the commas they are as many as before (a tag holding a
-- comma, or a NULL, would not be). At most 16.
CREATE DOMAIN vigie_tags AS text[]
    CHECK (cardinality(VALUE) <= 16)
    CHECK (array_to_string(VALUE, ',') ~ '^([a-z0-9._-]{1,32}(,[a-z0-9._-]{1,32})*)?$'
           AND coalesce(cardinality(string_to_array(nullif(array_to_string(VALUE, ','), ''),
                                                     ',')), 0) = cardinality(VALUE));
-- The quiet band of the alerts (vigie_alerts_fold, alerts.sql): nine numbers.
CREATE DOMAIN vigie_band AS real[] CHECK (cardinality(VALUE) = 9);

ALTER TABLE servers
    ALTER name             TYPE vigie_name,
    ALTER hostname         TYPE vigie_hostname,
    ALTER interval_seconds TYPE vigie_interval,
    ALTER token_hash       TYPE vigie_token_hash,
    ALTER tags             TYPE vigie_tags,
    ALTER alert_band       TYPE vigie_band;
