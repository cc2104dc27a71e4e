// The overview's cards: one per server, worst first. Only the rows on screen
// (and a few beyond) are in the page, so a fleet of thousands scrolls as
// smoothly as a dozen.
import { useWindowVirtualizer } from '@tanstack/react-virtual';
import { memo, useEffect, useMemo, useRef } from 'react';
import { useColumns } from '../hooks/useColumns.js';
import { useLinkHandler } from '../hooks/useRoute.js';
import { useScrollMargin } from '../hooks/useScrollMargin.js';
import { formatPercent } from '../utils/formatters.js';
import { LEVEL_BAR, LEVEL_TEXT, isStale, levelOf } from '../utils/levels.js';
import { SilenceNote } from '../features/ops/Silence.jsx';
import { gridRows, moveInGrid } from '../features/fleet/grouping.js';
import SectionHeader from '../features/fleet/SectionHeader.jsx';
import { formatFullPercent, formatLoadPerCore, loadPerCoreLevel } from '../features/fleet/overview.js';
import Sparkline from './Sparkline.jsx';
import { HEALTH_EDGE, HealthBadge, Presence } from './StatusBits.jsx';

const SPARK_MS = 30 * 60_000;
const ROW_ESTIMATE_PX = 232;
const GAP_PX = 16;

function Gauge({ label, metric, value, stale }) {
  const level = stale ? 'stale' : levelOf(metric, value);
  const width = typeof value === 'number' ? Math.min(Math.max(value, 0), 100) : 0;
  return (
    <div className="min-w-0" data-metric={metric} data-level={level}>
      <div className="flex items-baseline justify-between gap-1 text-xs">
        <span className="text-slate-500 dark:text-slate-400">{label}</span>
        <span className={`font-semibold tabular-nums ${LEVEL_TEXT[level]}`}>{formatPercent(value)}</span>
      </div>
      <div className="mt-1 h-1.5 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800" aria-hidden="true">
        <div className={`h-full rounded-full ${LEVEL_BAR[level]}`} style={{ width: `${width}%` }} />
      </div>
    </div>
  );
}

/** Load per core and the fullest filesystem, one line: "load 0.42/core · /var 91%"
 * ("load —" for a server that reports no load). */
function LoadAndFullest({ latest, stale }) {
  const load = latest?.load_per_core;
  const fs = latest?.fs_fullest;
  const loadLevel = stale ? 'stale' : loadPerCoreLevel(load);
  const fsLevel = stale ? 'stale' : levelOf('disk', fs?.percent);
  return (
    <div className="mt-2 flex items-baseline justify-between gap-3 text-xs">
      <span
        className="shrink-0 text-slate-500 dark:text-slate-400"
        data-metric="load"
        data-level={loadLevel}
        title="1-minute load average per CPU: over 1, more work is waiting than there are CPUs"
      >
        load <span className={`font-semibold tabular-nums ${LEVEL_TEXT[loadLevel]}`}>{formatLoadPerCore(load)}</span>
        {load == null ? '' : '/core'}
      </span>
      <span
        className="flex min-w-0 items-baseline gap-1 text-slate-500 dark:text-slate-400"
        data-metric="fs"
        data-level={fsLevel}
        data-mount={fs?.mount}
        title={fs ? `The fullest filesystem: ${fs.mount}, ${formatPercent(fs.percent)} used` : 'No filesystem reported'}
      >
        <span className="truncate">{fs ? fs.mount : 'fullest fs'}</span>
        <span className={`shrink-0 font-semibold tabular-nums ${LEVEL_TEXT[fsLevel]}`}>{formatFullPercent(fs?.percent)}</span>
      </span>
    </div>
  );
}

const ServerCard = memo(function ServerCard({ server, health, alertCount, spark, now, index, total }) {
  const link = useLinkHandler();
  const latest = server.latest;
  const stale = !latest || !server.is_active || isStale(latest.recorded_at, server.interval_seconds, now);
  const name = server.name || server.hostname;
  const current = latest ? { t: Date.parse(latest.recorded_at), v: latest.cpu_percent } : null;
  return (
    <div role="listitem" aria-setsize={total} aria-posinset={index + 1} className="min-w-0">
      <a
        href={`/servers/${server.id}`}
        onClick={link}
        data-server-id={server.id}
        data-health={health}
        data-card-index={index}
        className={`group block h-full rounded-xl border border-l-4 border-slate-200 bg-white p-4 shadow-sm transition hover:border-slate-300 hover:shadow-md focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 dark:border-slate-800 dark:bg-slate-900 dark:hover:border-slate-700 ${HEALTH_EDGE[health]}`}
      >
        <div className="flex items-start justify-between gap-2">
          <div className="min-w-0">
            <h3 className="truncate font-semibold group-hover:underline">{name}</h3>
            <p className="truncate text-xs text-slate-500 dark:text-slate-400">
              {[server.hostname !== name ? server.hostname : null, server.ip_address, server.os_type]
                .filter(Boolean)
                .join(' · ') || '\u00a0'}
            </p>
          </div>
          <HealthBadge health={health} />
        </div>
        <p className="mt-1 text-xs text-slate-600 dark:text-slate-300">
          <Presence server={server} now={now} />
          {latest && stale ? <span className="ml-1 font-medium">· values are stale</span> : null}
        </p>
        <SilenceNote silence={server.silence} now={now} compact />
        <div className="mt-3 grid grid-cols-3 gap-3">
          <Gauge label="CPU" metric="cpu" value={latest?.cpu_percent} stale={stale} />
          <Gauge label="RAM" metric="ram" value={latest?.ram_percent} stale={stale} />
          <Gauge label="Disk" metric="disk" value={latest?.disk_percent} stale={stale} />
        </div>
        <LoadAndFullest latest={latest} stale={stale} />
        <div className="mt-3">
          <Sparkline points={spark} latest={current} from={now - SPARK_MS} to={now} label="CPU over the last 30 minutes" />
        </div>
        {alertCount > 0 ? (
          <p className="mt-2 text-xs font-semibold text-red-700 dark:text-red-400">
            {alertCount} active alert{alertCount > 1 ? 's' : ''}
          </p>
        ) : null}
      </a>
    </div>
  );
});

const MOVE_KEYS = new Set(['ArrowRight', 'ArrowLeft', 'ArrowDown', 'ArrowUp', 'Home', 'End']);

/** Focus `selector` once it is in the page: a virtualized list renders it a
 * frame or two after it is scrolled to. */
export function focusWhenShown(container, selector, tries = 10) {
  const element = container?.querySelector(selector);
  if (element) {
    element.focus({ preventScroll: false });
    return;
  }
  if (tries > 0) requestAnimationFrame(() => focusWhenShown(container, selector, tries - 1));
}

const HEADER_ESTIMATE_PX = 44;

/**
 * `items`: { server, health, alertCount? } in the order shown; or `sections`
 * (groupByTag of them: the overview grouped by tag), each with a header row.
 * `onVisible(ids)` hears which servers are on screen (for their trends).
 */
export default function ServerList({ items, sections, alerts = [], sparks = {}, now, onVisible }) {
  const cols = useColumns();
  const ref = useRef(null);
  const scrollMargin = useScrollMargin(ref);
  const rows = useMemo(
    () => (sections ? gridRows(sections, cols) : gridRows([{ key: 'all', entries: items }], cols, { headers: false })),
    [sections, items, cols],
  );
  const lastCards = rows.findLast((r) => r.kind === 'cards');
  const total = lastCards ? lastCards.first + lastCards.entries.length : 0;
  const virtualizer = useWindowVirtualizer({
    count: rows.length,
    estimateSize: (i) => (rows[i].kind === 'header' ? HEADER_ESTIMATE_PX : ROW_ESTIMATE_PX + GAP_PX),
    getItemKey: (i) => rows[i].key,
    overscan: 3,
    scrollMargin,
    initialRect: typeof window !== 'undefined' ? { width: window.innerWidth, height: window.innerHeight } : undefined,
  });
  const virtualRows = virtualizer.getVirtualItems();

  const visible = useRef(onVisible);
  visible.current = onVisible;
  const shownIds = [
    ...new Set(virtualRows.flatMap((v) => (rows[v.index]?.kind === 'cards' ? rows[v.index].entries.map(({ server }) => server.id) : []))),
  ].join(',');
  useEffect(() => {
    if (shownIds) visible.current?.(shownIds.split(',').map(Number));
  }, [shownIds]);

  // Arrow keys move between cards as they are laid out (up and down across a
  // section's header); Home and End go to the first and the last, scrolled into
  // the page first when they are not in it.
  const onKeyDown = (event) => {
    if (!MOVE_KEYS.has(event.key)) return;
    const from = Number(event.target.closest?.('[data-card-index]')?.dataset.cardIndex);
    if (!Number.isInteger(from)) return;
    event.preventDefault();
    const to = moveInGrid(rows, from, event.key);
    if (to === from) return;
    const row = rows.findIndex((r) => r.kind === 'cards' && to >= r.first && to < r.first + r.entries.length);
    virtualizer.scrollToIndex(row, { align: 'auto' });
    focusWhenShown(ref.current, `[data-card-index="${to}"]`);
  };

  const countOf = (server, alertCount) =>
    alertCount ?? alerts.filter((a) => a.server_id === server.id && a.state !== 'resolved').length;

  return (
    <div
      ref={ref}
      role="list"
      aria-label={sections ? 'Servers by tag, most urgent first in each' : 'Servers, most urgent first'}
      onKeyDown={onKeyDown}
      className="relative"
      style={{ height: virtualizer.getTotalSize() }}
    >
      {virtualRows.map((virtual) => {
        const row = rows[virtual.index];
        return (
          <div
            key={virtual.key}
            data-index={virtual.index}
            ref={virtualizer.measureElement}
            role="none"
            className="absolute left-0 top-0 w-full"
            style={{ transform: `translateY(${virtual.start - scrollMargin}px)`, paddingBottom: row.kind === 'header' ? 8 : GAP_PX }}
          >
            {row.kind === 'header' ? (
              <SectionHeader section={row.section} className="border-b border-slate-200 pb-1 pt-3 dark:border-slate-800" />
            ) : (
              <div className="grid grid-cols-1 gap-4 sm:grid-cols-2 xl:grid-cols-3" role="none">
                {row.entries.map(({ server, health, alertCount }, i) => (
                  <ServerCard
                    key={server.id}
                    server={server}
                    health={health}
                    alertCount={countOf(server, alertCount)}
                    spark={sparks[server.id]}
                    now={now}
                    index={row.first + i}
                    total={total}
                  />
                ))}
              </div>
            )}
          </div>
        );
      })}
    </div>
  );
}
