// The overview as a compact table: one row per server, sortable by each column
// (the choice remembered), only the rows on screen in the page.
import { flexRender, getCoreRowModel, getSortedRowModel, useReactTable } from '@tanstack/react-table';
import { useWindowVirtualizer } from '@tanstack/react-virtual';
import { useMemo, useRef } from 'react';
import { focusWhenShown } from '../../components/ServerList.jsx';
import { HealthBadge } from '../../components/StatusBits.jsx';
import { useLinkHandler } from '../../hooks/useRoute.js';
import { useScrollMargin } from '../../hooks/useScrollMargin.js';
import { useStoredState } from '../../hooks/useStoredState.js';
import { formatAgo, formatFull, formatPercent } from '../../utils/formatters.js';
import { LEVEL_TEXT, isStale, levelOf } from '../../utils/levels.js';
import { COLUMNS, SORT_KEY, validSort } from './fleetTable.js';
import { groupByTag } from './grouping.js';
import SectionHeader from './SectionHeader.jsx';
import { formatFullPercent, formatLoadPerCore, loadPerCoreLevel } from './overview.js';

const ROW_PX = 41;

const staleOf = ({ server, now }) =>
  !server.latest || !server.is_active || isStale(server.latest.recorded_at, server.interval_seconds, now);

function Percent({ item, metric, field }) {
  const value = item.server.latest?.[field];
  return (
    <span className={`tabular-nums ${LEVEL_TEXT[staleOf(item) ? 'stale' : levelOf(metric, value)]}`} data-metric={metric}>
      {formatPercent(value)}
    </span>
  );
}

function LoadPerCore({ item }) {
  const value = item.server.latest?.load_per_core;
  const level = staleOf(item) ? 'stale' : loadPerCoreLevel(value);
  return (
    <span className={`tabular-nums ${LEVEL_TEXT[level]}`} data-metric="load" data-level={level}>
      {formatLoadPerCore(value)}
    </span>
  );
}

function Fullest({ item }) {
  const fs = item.server.latest?.fs_fullest;
  if (!fs) return <span className="text-slate-400 dark:text-slate-500" data-metric="fs">—</span>;
  const level = staleOf(item) ? 'stale' : levelOf('disk', fs.percent);
  return (
    <span className="flex items-baseline justify-end gap-1" data-metric="fs" data-level={level} title={`${fs.mount}: ${formatPercent(fs.percent)} used`}>
      <span className="min-w-0 truncate text-slate-500 dark:text-slate-400">{fs.mount}</span>
      <span className={`shrink-0 tabular-nums ${LEVEL_TEXT[level]}`}>{formatFullPercent(fs.percent)}</span>
    </span>
  );
}

function NameCell({ item, index }) {
  const link = useLinkHandler();
  const { server } = item;
  return (
    <a
      href={`/servers/${server.id}`}
      onClick={link}
      data-row-index={index}
      data-row-server-id={server.id}
      className="block truncate font-medium text-sky-800 hover:underline focus-visible:underline dark:text-sky-300"
    >
      {server.name || server.hostname}
    </a>
  );
}

const CELLS = {
  name: (item, index) => <NameCell item={item} index={index} />,
  status: (item) => <HealthBadge health={item.health} />,
  cpu: (item) => <Percent item={item} metric="cpu" field="cpu_percent" />,
  ram: (item) => <Percent item={item} metric="ram" field="ram_percent" />,
  disk: (item) => <Percent item={item} metric="disk" field="disk_percent" />,
  load: (item) => <LoadPerCore item={item} />,
  fs: (item) => <Fullest item={item} />,
  lastSeen: (item) => {
    const seen = item.server.latest?.recorded_at ?? item.server.last_seen;
    return seen ? (
      <span title={formatFull(seen)} className="whitespace-nowrap">
        {formatAgo(seen, item.now)}
      </span>
    ) : (
      <span className="text-slate-400">never</span>
    );
  },
  alerts: (item) =>
    item.alertCount ? (
      <span className="font-semibold text-red-700 dark:text-red-400">{item.alertCount}</span>
    ) : (
      <span className="text-slate-400 dark:text-slate-500">0</span>
    ),
};

const columns = COLUMNS;
const ARIA_SORT = { asc: 'ascending', desc: 'descending' };
const NUMERIC = new Set(['cpu', 'ram', 'disk', 'load', 'fs', 'alerts']);

function useFleetTable(items, sorting, setSorting) {
  return useReactTable({
    data: items,
    columns,
    state: { sorting },
    onSortingChange: setSorting,
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
    getRowId: (item) => String(item.server.id),
    enableMultiSort: false,
    enableSortingRemoval: true,
  });
}

/** The table's rows in the order drawn: one per server, or (grouped by tag) a
 * header row per section before its servers, each server in every section of
 * its tags. `pos` numbers the server rows for the keyboard. */
function displayRows(rows, grouped) {
  if (!grouped) return rows.map((row, pos) => ({ kind: 'row', key: row.id, row, pos }));
  const out = [];
  let pos = 0;
  for (const section of groupByTag(rows, (row) => row.original)) {
    out.push({ kind: 'header', key: `h:${section.key}`, section });
    for (const row of section.entries) out.push({ kind: 'row', key: `${section.key}:${row.id}`, row, pos: pos++ });
  }
  return out;
}

/** `items`: { server, health, alertCount } in trouble-first order; `now` for
 * "3 s ago" and staleness; `grouped`: a section per tag, each in the table's
 * order. */
export default function FleetTable({ items, now, grouped = false }) {
  const [sorting, setSorting] = useStoredState(SORT_KEY, [], validSort);
  const table = useFleetTable(items, sorting, setSorting);
  const sortedRows = table.getRowModel().rows;
  const rows = useMemo(() => displayRows(sortedRows, grouped), [sortedRows, grouped]);
  const serverRows = useMemo(() => rows.filter((r) => r.kind === 'row'), [rows]);
  const ref = useRef(null);
  const body = useRef(null);
  const scrollMargin = useScrollMargin(body);
  const virtualizer = useWindowVirtualizer({
    count: rows.length,
    estimateSize: () => ROW_PX,
    getItemKey: (i) => rows[i].key,
    overscan: 10,
    scrollMargin,
    initialRect: typeof window !== 'undefined' ? { width: window.innerWidth, height: window.innerHeight } : undefined,
  });
  const virtualRows = virtualizer.getVirtualItems();
  const before = virtualRows.length ? virtualRows[0].start - scrollMargin : 0;
  const after = virtualRows.length ? virtualizer.getTotalSize() - (virtualRows.at(-1).end - scrollMargin) : 0;

  // Up and down move between server rows (their name links), over section
  // headers; Home and End to the ends.
  const onKeyDown = (event) => {
    const from = Number(event.target.closest?.('[data-row-index]')?.dataset.rowIndex);
    if (!Number.isInteger(from)) return;
    const last = serverRows.length - 1;
    const moves = { ArrowDown: from + 1, ArrowUp: from - 1, Home: 0, End: last };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const to = Math.min(Math.max(moves[event.key], 0), last);
    virtualizer.scrollToIndex(rows.indexOf(serverRows[to]), { align: 'auto' });
    focusWhenShown(ref.current, `[data-row-index="${to}"]`);
  };

  const sorted = sorting[0];
  return (
    <div className="overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
      <table
        ref={ref}
        className="w-full min-w-[52rem] table-fixed text-sm"
        aria-label="Servers"
        aria-rowcount={rows.length + 1}
        data-testid="fleet-table"
        data-sort={sorted ? `${sorted.id}:${sorted.desc ? 'desc' : 'asc'}` : 'trouble'}
        onKeyDown={onKeyDown}
      >
        <colgroup>
          <col className="w-[21%]" />
          <col className="w-[14%]" />
          <col className="w-[8%]" />
          <col className="w-[8%]" />
          <col className="w-[8%]" />
          <col className="w-[9%]" />
          <col className="w-[13%]" />
          <col className="w-[12%]" />
          <col className="w-[7%]" />
        </colgroup>
        <thead className="border-b border-slate-200 text-left text-xs text-slate-500 dark:border-slate-800 dark:text-slate-400">
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {group.headers.map((header) => {
                const dir = header.column.getIsSorted();
                return (
                  <th
                    key={header.id}
                    scope="col"
                    aria-sort={ARIA_SORT[dir] ?? 'none'}
                    className={`px-3 py-2 font-medium ${NUMERIC.has(header.id) ? 'text-right' : ''}`}
                  >
                    <button
                      type="button"
                      onClick={header.column.getToggleSortingHandler()}
                      className="inline-flex items-center gap-1 rounded hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-sky-600 dark:hover:text-slate-100"
                      title={dir ? 'Sorted; click to change' : 'Sort by this column'}
                    >
                      {flexRender(header.column.columnDef.header, header.getContext())}
                      <span aria-hidden="true">{dir === 'asc' ? '▲' : dir === 'desc' ? '▼' : ''}</span>
                    </button>
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody ref={body}>
          {before > 0 ? (
            <tr aria-hidden="true">
              <td colSpan={columns.length} style={{ height: before }} />
            </tr>
          ) : null}
          {virtualRows.map((virtual) => {
            const shown = rows[virtual.index];
            if (shown.kind === 'header') {
              return (
                <tr key={shown.key} aria-rowindex={virtual.index + 2} className="border-b border-slate-200 bg-slate-50 dark:border-slate-800 dark:bg-slate-800/40" style={{ height: ROW_PX }}>
                  <th colSpan={columns.length} scope="colgroup" className="px-3 py-2 text-left">
                    <SectionHeader section={shown.section} as="span" />
                  </th>
                </tr>
              );
            }
            const { row, pos } = shown;
            return (
              <tr
                key={shown.key}
                aria-rowindex={virtual.index + 2}
                data-health={row.original.health}
                className="border-b border-slate-100 last:border-0 hover:bg-slate-50 dark:border-slate-800/70 dark:hover:bg-slate-800/40"
                style={{ height: ROW_PX }}
              >
                {row.getVisibleCells().map((cell) => (
                  <td key={cell.id} className={`truncate px-3 py-2 ${NUMERIC.has(cell.column.id) ? 'text-right' : ''}`}>
                    {CELLS[cell.column.id]({ ...row.original, now }, pos)}
                  </td>
                ))}
              </tr>
            );
          })}
          {after > 0 ? (
            <tr aria-hidden="true">
              <td colSpan={columns.length} style={{ height: after }} />
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}
