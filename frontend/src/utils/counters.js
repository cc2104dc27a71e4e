// Throughput from cumulative counters (the network's MiB sent and received).
// The rule lives here once for the dashboard; the API applies the same one, and
// both sides are tested on the cases of counterCases.json.

/**
 * The rate between two readings of a cumulative counter, each [t (seconds),
 * value]: delta / seconds. A counter that went down was reset (a reboot) and
 * restarted from zero, so everything it counted since is new. No rate without a
 * previous reading or when time did not move forward.
 */
export function counterRate(previous, current) {
  if (!previous || !current) return null;
  const [t0, before] = previous;
  const [t1, now] = current;
  const seconds = t1 - t0;
  if (!(seconds > 0) || !Number.isFinite(before) || !Number.isFinite(now)) return null;
  const delta = now >= before ? now - before : now;
  return delta / seconds;
}

/** MiB/s between two raw samples for one of their counters (`network_sent_mb`, …). */
export function rateBetween(previous, current, counter) {
  if (!previous || !current) return null;
  const reading = (sample) => [Date.parse(sample.recorded_at) / 1000, sample[counter]];
  return counterRate(reading(previous), reading(current));
}
