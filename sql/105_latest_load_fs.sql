-- What the overview shows of the wide sample, kept in the server's row beside its
-- latest CPU, RAM and disk (one row per server read by the list; the same values
-- in the NOTIFY the relay coalesces into `fleet-update`):
--   latest_load     the newest sample's 1-minute load average per logical CPU
--                   (NULL when it did not report load);
--   latest_fs_id    the fullest filesystem of the newest sample that reported
--                   filesystems, by its number in the server's dictionary
--                   (servers.fs_names), and latest_fs_percent its use.
ALTER TABLE servers
    ADD COLUMN latest_load       real,
    ADD COLUMN latest_fs_id      integer,
    ADD COLUMN latest_fs_percent real;

-- Servers that already sent wide samples: from their newest one.
UPDATE servers s
   SET latest_load = n.load_1 / n.cpu_count
  FROM metrics n
 WHERE n.server_id = s.id AND n.recorded_at = s.latest_at AND n.cpu_count > 0;
