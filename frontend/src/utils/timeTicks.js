// Round-time ticks for a chart's time axis, in the viewer's time zone.

const TICK_STEPS = [
  60_000, 2 * 60_000, 5 * 60_000, 10 * 60_000, 15 * 60_000, 30 * 60_000, 3_600_000,
  2 * 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, 86_400_000,
  2 * 86_400_000, 7 * 86_400_000,
];

/**
 * Round-time ticks between `from` and `to` (at most about `count`), aligned in
 * the viewer's time zone: whole minutes, hours, local midnights.
 */
export function timeTicks(from, to, count = 6) {
  const span = to - from;
  if (!(span > 0)) return [];
  const step = TICK_STEPS.find((s) => span / s <= count) ?? TICK_STEPS.at(-1);
  // Align the first tick on a round local time, then step in wall-clock units
  // so ticks stay round across daylight-saving changes.
  const t = new Date(from);
  if (step >= 86_400_000) t.setHours(0, 0, 0, 0);
  else if (step >= 3_600_000) {
    const hours = step / 3_600_000;
    t.setHours(Math.floor(t.getHours() / hours) * hours, 0, 0, 0);
  } else {
    const minutes = step / 60_000;
    t.setMinutes(Math.floor(t.getMinutes() / minutes) * minutes, 0, 0);
  }
  const ticks = [];
  while (t.getTime() <= to && ticks.length < 100) {
    if (t.getTime() >= from) ticks.push(t.getTime());
    if (step >= 86_400_000) t.setDate(t.getDate() + step / 86_400_000);
    else if (step >= 3_600_000) t.setHours(t.getHours() + step / 3_600_000);
    else t.setMinutes(t.getMinutes() + step / 60_000);
  }
  return ticks;
}

