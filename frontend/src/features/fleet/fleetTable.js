// The overview's table: its columns, how each sorts, and the sort remembered in
// this browser. Rows come in the trouble-first order, and a tie in the chosen
// column keeps that order (the table's sort is stable).
import { RANK } from '../../utils/levels.js';

export const SORT_KEY = 'vigie.overview.sort';

const percent = (field) => (item) => {
  const value = item.server.latest?.[field];
  return typeof value === 'number' ? value : undefined;
};

const number = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const loadPerCore = (item) => number(item.server.latest?.load_per_core);
const fullest = (item) => number(item.server.latest?.fs_fullest?.percent);

const lastSeen = (item) => {
  const seen = item.server.latest?.recorded_at ?? item.server.last_seen;
  const t = seen ? Date.parse(seen) : NaN;
  return Number.isFinite(t) ? t : undefined;
};

/**
 * Each column: id, header, how its value is read, and its first direction on
 * a click: the worst first (highest values, worst state, longest silence,
 * most alerts); names from A. A server without a value (no load reported, no
 * filesystem) sorts last either way.
 */
export const COLUMNS = [
  { id: 'name', header: 'Name', accessorFn: (item) => item.name ?? (item.server.name || item.server.hostname || '').toLowerCase(), sortDescFirst: false, sortingFn: 'text' },
  { id: 'status', header: 'Status', accessorFn: (item) => RANK[item.health], sortDescFirst: false },
  { id: 'cpu', header: 'CPU', accessorFn: percent('cpu_percent'), sortDescFirst: true },
  { id: 'ram', header: 'RAM', accessorFn: percent('ram_percent'), sortDescFirst: true },
  { id: 'disk', header: 'Disk', accessorFn: percent('disk_percent'), sortDescFirst: true },
  { id: 'load', header: 'Load/core', accessorFn: loadPerCore, sortDescFirst: true },
  { id: 'fs', header: 'Fullest FS', accessorFn: fullest, sortDescFirst: true },
  { id: 'lastSeen', header: 'Last seen', accessorFn: lastSeen, sortDescFirst: false },
  { id: 'alerts', header: 'Alerts', accessorFn: (item) => item.alertCount ?? 0, sortDescFirst: true },
].map((column) => ({ sortUndefined: 'last', sortingFn: 'basic', ...column }));

const IDS = new Set(COLUMNS.map((c) => c.id));

/** A stored sort is [{ id, desc }] of known columns, or [] (trouble first). */
export const validSort = (value) =>
  Array.isArray(value) && value.every((s) => s && IDS.has(s.id) && typeof s.desc === 'boolean');
