// The samples and buckets the utils tests build their series from: one reading
// every `second` after T0, with counters that grow so rates have a known value.
export const T0 = new Date('2026-02-04T10:00:00Z').getTime();
export const at = (s) => new Date(T0 + s * 1000).toISOString();

export function sample(second, extra = {}) {
  return {
    server_id: 1,
    recorded_at: at(second),
    cpu_percent: 50,
    ram_percent: 40,
    ram_used_mb: 4000,
    ram_total_mb: 10000,
    disk_percent: 30,
    disk_used_gb: 60,
    disk_total_gb: 200,
    network_sent_mb: 100 + second,
    network_recv_mb: 200 + 2 * second,
    ...extra,
  };
}

export const bucket = (second, extra = {}) => ({
  recorded_at: at(second),
  cpu_percent: 40,
  cpu_percent_max: 70,
  ...extra,
});
