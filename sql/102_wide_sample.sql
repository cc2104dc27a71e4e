-- The wide sample: load, CPU split, swap, uptime and process count per host, and
-- per-device series (filesystems, disks, interfaces, temperature sensors), the top
-- processes, and the alerts on them. The seed's columns stay as they are.
--
-- Storage, chosen by cost (bench/schema_size.py --wide and bench/fleet.py --wide
-- print the figures; the README's storage section gives them):
--  * Host scalars are nullable columns of `metrics`. A seed-only sample stores
--    NULLs, which take no room beyond the row's null bitmap.
--  * Per-device values are compact arrays in the same row, one pair per kind: the
--    devices' numbers (`fs_ids`...) and their values (`fs_values`: n x 4,
--    `disk_values`: n x 5, `if_values`: n x 3, `temp_values`: n). A device's name is stored once per server, in
--    the server's device dictionary (`servers.fs_names`...: a device's number is
--    its position there). One row per sample, as before: no index entry, no row
--    header per device; a retried sample is still one ON CONFLICT DO NOTHING.
--    A side table (one row per device and sample) would write 15 rows and 15 index
--    entries for the host of the benchmark instead of one row.
--  * The top processes (sent on some samples only) are a jsonb column of the
--    sample; the server's row remembers when the latest was seen.
--  * Rollups: every series value of a sample is a "slot" (kind, device, field,
--    packed into one integer key, vigie_series_key in sql/routines/rollups.sql);
--    a rollup row keeps, for the gauges, the keys, sums, counts and peaks, and for
--    the counters, the keys, increments, the seconds they cover and the peak rate,
--    in arrays of the same row as the seed's sums. So they are recomputed,
--    rolled up tier by tier, and expired together with the seed's values, by the
--    same statements, with the same guarantees.

ALTER TABLE metrics
    ADD COLUMN load_1              real CHECK (load_1 >= 0),
    ADD COLUMN load_5              real CHECK (load_5 >= 0),
    ADD COLUMN load_15             real CHECK (load_15 >= 0),
    ADD COLUMN cpu_count           smallint CHECK (cpu_count >= 1),
    ADD COLUMN cpu_user_percent    real CHECK (cpu_user_percent BETWEEN 0 AND 100),
    ADD COLUMN cpu_system_percent  real CHECK (cpu_system_percent BETWEEN 0 AND 100),
    ADD COLUMN cpu_iowait_percent  real CHECK (cpu_iowait_percent BETWEEN 0 AND 100),
    ADD COLUMN cpu_steal_percent   real CHECK (cpu_steal_percent BETWEEN 0 AND 100),
    ADD COLUMN swap_used_mb        real CHECK (swap_used_mb >= 0),
    ADD COLUMN swap_total_mb       real CHECK (swap_total_mb >= 0),
    ADD COLUMN swap_percent        real CHECK (swap_percent BETWEEN 0 AND 100),
    ADD COLUMN swap_in_mb          double precision CHECK (swap_in_mb >= 0),
    ADD COLUMN swap_out_mb         double precision CHECK (swap_out_mb >= 0),
    ADD COLUMN uptime_seconds      double precision CHECK (uptime_seconds >= 0),
    ADD COLUMN process_count       integer CHECK (process_count >= 0),
    -- Per device: its number in the server's dictionary, and its values.
    --   fs_values:   percent, used_gb, total_gb, inodes_percent (NULL: not reported)
    --   disk_values: read_mb, write_mb, reads, writes, busy_ms (NULL: not reported)
    --   if_values:   sent_mb, recv_mb, counted (1: part of the host total, 0: not)
    --   temp_values: celsius
    ADD COLUMN fs_ids              integer[],
    ADD COLUMN fs_values           real[],
    ADD COLUMN disk_ids            integer[],
    ADD COLUMN disk_values         double precision[],
    ADD COLUMN if_ids              integer[],
    ADD COLUMN if_values           double precision[],
    ADD COLUMN temp_ids            integer[],
    ADD COLUMN temp_values         real[],
    ADD COLUMN top_processes       jsonb,
    ADD CHECK (cardinality(fs_ids) = coalesce(array_length(fs_values, 1), 0)),
    ADD CHECK (cardinality(disk_ids) = coalesce(array_length(disk_values, 1), 0)),
    ADD CHECK (cardinality(if_ids) = coalesce(array_length(if_values, 1), 0)),
    ADD CHECK (cardinality(temp_ids) = coalesce(array_length(temp_values, 1), 0));

-- The device dictionary: a device's number is its position in these arrays, never
-- reused; a filesystem's device and type as last reported.
ALTER TABLE servers
    ADD COLUMN fs_names     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN fs_devices   text[] NOT NULL DEFAULT '{}',
    ADD COLUMN fs_types     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN disk_names   text[] NOT NULL DEFAULT '{}',
    ADD COLUMN if_names     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN temp_names   text[] NOT NULL DEFAULT '{}',
    -- When the newest sample carrying top processes was taken.
    ADD COLUMN latest_top_at timestamptz,
    -- The quiet band of the wide sample's alerts (vigie_wide_band, alerts.sql).
    ADD COLUMN wide_band    real[];

-- The series of a rollup row (see above); NULL for rows of seed-only samples.
ALTER TABLE metrics_rollup
    ADD COLUMN gauge_keys    integer[],
    ADD COLUMN gauge_sum     double precision[],
    ADD COLUMN gauge_n       integer[],
    ADD COLUMN gauge_max     real[],
    ADD COLUMN counter_keys  integer[],
    ADD COLUMN counter_inc   double precision[],
    ADD COLUMN counter_secs  double precision[],
    ADD COLUMN counter_rmax  double precision[];

-- Alerts on the wide sample. `device` names what a per-device alert is about (the
-- mount point of a filesystem or inodes alert, the sensor of a temperature alert;
-- '' for the others), so each mount has its own alert. `top_processes`: the top
-- processes at the moment it fired, kept with it after the samples expire.
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_type_check;
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_threshold_check;
ALTER TABLE alert_rules
    ADD CONSTRAINT alert_rules_type_check CHECK (type IN (
        'cpu', 'ram', 'disk', 'offline', 'load', 'swap', 'filesystem', 'inodes', 'temperature')),
    -- Percent for most; load per core (a ratio) and temperature (degrees Celsius)
    -- have their own ranges.
    ADD CONSTRAINT alert_rules_threshold_check CHECK (CASE type
        WHEN 'load' THEN threshold > 0 AND threshold <= 1000
        WHEN 'temperature' THEN threshold >= -40 AND threshold <= 150
        ELSE threshold >= 1 AND threshold <= 100 END);

ALTER TABLE alerts DROP CONSTRAINT alerts_type_check;
ALTER TABLE alerts
    ADD CONSTRAINT alerts_type_check CHECK (type IN (
        'cpu', 'ram', 'disk', 'offline', 'load', 'swap', 'filesystem', 'inodes', 'temperature')),
    ADD COLUMN device        text NOT NULL DEFAULT '',
    ADD COLUMN top_processes jsonb;
DROP INDEX alerts_active;
CREATE UNIQUE INDEX alerts_active ON alerts (server_id, type, device) WHERE resolved_at IS NULL;

-- Consecutive samples over the threshold, per wide rule and device
-- ({"filesystem:/": 2, ...}), while no alert of it fires.
ALTER TABLE alert_state ADD COLUMN wide_over jsonb NOT NULL DEFAULT '{}';
