// Units and times as a person reads them. In Vigie MB and GB are binary
// (the collector reports MiB and GiB), so they are labelled MiB and GiB here.
import { format, formatDistanceStrict, isSameDay, isSameYear } from 'date-fns';

const DASH = '—';

function isNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

/** 45.2 -> "45.2%". One decimal: enough to see a value move, not noise. */
export function formatPercent(value) {
  if (!isNumber(value)) return DASH;
  return `${value.toFixed(1)}%`;
}

function trimmed(value, decimals) {
  // 2.0 -> "2", 2.50 -> "2.5": trailing zeros carry no information.
  return Number(value.toFixed(decimals)).toString();
}

/** Three significant figures at most, never more than two decimals. */
function sensible(value) {
  const abs = Math.abs(value);
  if (abs >= 100) return trimmed(value, 0);
  if (abs >= 10) return trimmed(value, 1);
  return trimmed(value, 2);
}

/** A size given in MiB: "512 MiB", "6.62 GiB", "1.5 TiB". */
export function formatMiB(mib) {
  if (!isNumber(mib)) return DASH;
  if (Math.abs(mib) >= 1024 * 1024) return `${sensible(mib / (1024 * 1024))} TiB`;
  if (Math.abs(mib) >= 1024) return `${sensible(mib / 1024)} GiB`;
  return `${sensible(mib)} MiB`;
}

/** A size given in GiB: "110.6 GiB" -> "111 GiB", 2048 -> "2 TiB". */
export function formatGiB(gib) {
  if (!isNumber(gib)) return DASH;
  return formatMiB(gib * 1024);
}

/** "6.62 GiB / 9.77 GiB" */
export function formatUsedTotal(used, total, format = formatMiB) {
  if (!isNumber(used) || !isNumber(total)) return DASH;
  return `${format(used)} / ${format(total)}`;
}

/** A throughput given in MiB/s: "0 B/s", "12.3 KiB/s", "4.56 MiB/s". */
export function formatRate(mibPerSecond) {
  if (!isNumber(mibPerSecond)) return DASH;
  const bytes = mibPerSecond * 1024 * 1024;
  if (bytes < 0.5) return '0 B/s';
  if (bytes < 1024) return `${trimmed(bytes, 0)} B/s`;
  if (bytes < 1024 * 1024) return `${sensible(bytes / 1024)} KiB/s`;
  if (bytes < 1024 ** 3) return `${sensible(mibPerSecond)} MiB/s`;
  return `${sensible(mibPerSecond / 1024)} GiB/s`;
}

/**
 * One unit for a whole throughput axis, from its largest value in MiB/s:
 * { factor, label } so that `value * factor` is in `label` and ticks fall on
 * round numbers of that unit (41 / 82 / 123 KiB/s would not).
 */
export function rateUnit(maxMiBPerSecond) {
  const bytes = (isNumber(maxMiBPerSecond) ? maxMiBPerSecond : 0) * 1024 * 1024;
  if (bytes < 1024) return { factor: 1024 * 1024, label: 'B/s' };
  if (bytes < 1024 * 1024) return { factor: 1024, label: 'KiB/s' };
  if (bytes < 1024 ** 3) return { factor: 1, label: 'MiB/s' };
  return { factor: 1 / 1024, label: 'GiB/s' };
}

export function toDate(value) {
  if (value == null) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "just now", "42 s ago", "2 min ago", "3 h ago", "5 days ago". */
export function formatAgo(value, now = Date.now()) {
  const date = toDate(value);
  if (!date) return 'never';
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${formatDistanceStrict(date, now, { roundingMethod: 'floor' })} ago`;
}

/** A moment in the viewer's time zone, as short as the context allows. */
export function formatMoment(value, now = Date.now()) {
  const date = toDate(value);
  if (!date) return DASH;
  if (isSameDay(date, now)) return format(date, 'HH:mm:ss');
  if (isSameYear(date, now)) return format(date, 'd MMM HH:mm');
  return format(date, 'd MMM yyyy HH:mm');
}

/** Full date and time with the zone's offset, for tooltips and titles. */
export function formatFull(value) {
  const date = toDate(value);
  if (!date) return DASH;
  return format(date, 'yyyy-MM-dd HH:mm:ss xxx');
}

/** Axis ticks: the time of day for short spans, the date for long ones. */
export function tickFormatter(spanMs) {
  if (spanMs <= 36 * 3600 * 1000) return (t) => format(t, 'HH:mm');
  if (spanMs <= 8 * 86400 * 1000) return (t) => format(t, 'EEE HH:mm');
  return (t) => format(t, 'd MMM');
}

/** The viewer's time zone name, e.g. "Europe/Paris". */
export function timeZoneName() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
  } catch {
    return 'local time';
  }
}

/** "5s", "1m", "1h" (the API's bucket labels) -> milliseconds. */
export function parseInterval(label) {
  const match = /^(\d+)([smhd])$/.exec(label || '');
  if (!match) return null;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2]];
  return Number(match[1]) * unit;
}

/** 300000 -> "5 min", 3600000 -> "1 h". */
export function formatDuration(ms) {
  if (!isNumber(ms)) return DASH;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${trimmed(s / 60, 1)} min`;
  if (s < 86400) return `${trimmed(s / 3600, 1)} h`;
  return `${trimmed(s / 86400, 1)} d`;
}

/** "1 point", "288 points": a count with its noun, singular for one. */
export function formatCount(count, noun) {
  return `${count.toLocaleString('en-US')} ${noun}${count === 1 ? '' : 's'}`;
}
