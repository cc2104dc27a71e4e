// Vigie's duration grammar (vigie.settings.parse_duration): '90s', '15m', '36h',
// '7d', '12w', '2y' (a year is 365 days) or a bare number of seconds.
const UNITS = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400, y: 365 * 86400 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*$/i;

/** `text` in milliseconds, or null when it is not a duration above zero. */
export function parseDuration(text) {
  const match = DURATION.exec(text ?? '');
  if (!match) return null;
  const ms = Number(match[1]) * UNITS[match[2].toLowerCase() || 's'] * 1000;
  return ms > 0 && Number.isFinite(ms) ? ms : null;
}

/** A <input type="datetime-local"> value (the viewer's zone) as a Date, or null. */
export function fromLocalInput(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
