// What the overview shows of the fleet, as plain functions: the summary's
// counts and worst servers, the search, how load and filesystems read.
import { formatLoad, loadLevel } from '../../utils/host.js';

const COUNTED = ['critical', 'warning', 'offline', 'stale', 'nodata', 'ok'];
export const WORST_METRICS = [
  ['cpu', 'cpu_percent', 'CPU'],
  ['ram', 'ram_percent', 'RAM'],
  ['disk', 'disk_percent', 'Disk'],
];
// Values of a server that is offline or silent are not the present: they do
// not make it one of the worst.
const CURRENT = new Set(['critical', 'warning', 'ok']);

/**
 * `items` as sortByTrouble gives them. Returns { total, counts: { critical,
 * warning, offline, stale, nodata, ok }, worst: { cpu: [{ server, value }],
 * ram, disk } } with the `top` highest current values of each metric.
 */
export function fleetSummary(items, top = 3) {
  const counts = Object.fromEntries(COUNTED.map((h) => [h, 0]));
  const worst = Object.fromEntries(WORST_METRICS.map(([key]) => [key, []]));
  for (const item of items) {
    counts[item.health] = (counts[item.health] ?? 0) + 1;
    if (!CURRENT.has(item.health)) continue;
    for (const [key, field] of WORST_METRICS) {
      const value = item.server.latest?.[field];
      if (typeof value !== 'number') continue;
      const list = worst[key];
      // A short sorted list, kept short: no sort of the whole fleet.
      if (list.length === top && value <= list[top - 1].value) continue;
      let i = list.length;
      while (i > 0 && list[i - 1].value < value) i -= 1;
      list.splice(i, 0, { server: item.server, value });
      if (list.length > top) list.pop();
    }
  }
  return { total: items.length, counts, worst };
}

/** What a search matches in a server, in lower case. */
export function searchText(server) {
  return [server.name, server.hostname, server.ip_address, server.os_type].filter(Boolean).join('\n').toLowerCase();
}

/** The items whose server matches `text` (every word of it), in their order.
 * `texts` caches searchText by server object. */
export function filterItems(items, text, texts = new WeakMap()) {
  const words = text.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return items;
  return items.filter(({ server }) => {
    let haystack = texts.get(server);
    if (haystack === undefined) {
      haystack = searchText(server);
      texts.set(server, haystack);
    }
    return words.every((w) => haystack.includes(w));
  });
}

// --- load and the fullest filesystem, as a card and a row show them ----------

/** The level of a load per core: the server page's rule (utils/host.js), on one
 * CPU: under 1 runnable task per core is ok, up to 1.5 a warning, then critical. */
export const loadPerCoreLevel = (value) => loadLevel(value, 1);

/** "0.42", "1.3", "12" (the server page's load format), or "—". */
export const formatLoadPerCore = formatLoad;

/** A filesystem's use in whole percents, never rounded up to full: "91%". */
export function formatFullPercent(percent) {
  return typeof percent === 'number' && Number.isFinite(percent) ? `${Math.floor(percent)}%` : '—';
}
