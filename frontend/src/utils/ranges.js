// Time ranges for the history: the presets, and a custom range typed by a person.

export const RANGES = [
  { key: '1h', label: '1 h', ms: 3_600_000 },
  { key: '6h', label: '6 h', ms: 6 * 3_600_000 },
  { key: '24h', label: '24 h', ms: 24 * 3_600_000 },
  { key: '7d', label: '7 d', ms: 7 * 86_400_000 },
  { key: '30d', label: '30 d', ms: 30 * 86_400_000 },
];

/** { from, to } Dates for a preset range ending now. */
export function rangeBounds(key, now = Date.now()) {
  const range = RANGES.find((r) => r.key === key);
  if (!range) throw new Error(`unknown range ${key}`);
  return { from: new Date(now - range.ms), to: new Date(now) };
}

// The widest custom range: beyond it the buckets get too coarse to read.
export const MAX_CUSTOM_MS = 366 * 86_400_000;

/**
 * Validate a custom range typed in <input type="datetime-local"> fields (local
 * time). Returns { from, to } or { error } with a sentence for the form.
 */
export function customBounds(fromText, toText, now = Date.now()) {
  const from = fromText ? new Date(fromText) : null;
  const to = toText ? new Date(toText) : new Date(now);
  if (!from || Number.isNaN(from.getTime())) return { error: 'Enter a start date and time.' };
  if (Number.isNaN(to.getTime())) return { error: 'The end is not a valid date and time.' };
  if (from.getTime() > now) return { error: 'The start is in the future.' };
  if (from >= to) return { error: 'The start must be before the end.' };
  if (to - from > MAX_CUSTOM_MS) return { error: 'Choose a range of at most one year.' };
  return { from, to: to.getTime() > now ? new Date(now) : to };
}

/** A Date as the value of a datetime-local input, in the viewer's zone. */
export function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}
