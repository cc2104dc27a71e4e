// The overview's cards: one per server, worst first.
import { useLinkHandler } from '../hooks/useRoute.js';
import { formatPercent } from '../utils/formatters.js';
import { LEVEL_BAR, LEVEL_TEXT, isStale, levelOf } from '../utils/levels.js';
import Sparkline from './Sparkline.jsx';
import { HEALTH_EDGE, HealthBadge, Presence } from './StatusBits.jsx';

const SPARK_MS = 30 * 60_000;

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

function ServerCard({ server, health, alertCount, spark, now }) {
  const link = useLinkHandler();
  const latest = server.latest;
  const stale = !latest || !server.is_active || isStale(latest.recorded_at, server.interval_seconds, now);
  const name = server.name || server.hostname;
  return (
    <li>
      <a
        href={`/servers/${server.id}`}
        onClick={link}
        data-server-id={server.id}
        data-health={health}
        className={`group block h-full rounded-xl border border-l-4 border-slate-200 bg-white p-4 shadow-sm transition hover:border-slate-300 hover:shadow-md dark:border-slate-800 dark:bg-slate-900 dark:hover:border-slate-700 ${HEALTH_EDGE[health]}`}
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
        <div className="mt-3 grid grid-cols-3 gap-3">
          <Gauge label="CPU" metric="cpu" value={latest?.cpu_percent} stale={stale} />
          <Gauge label="RAM" metric="ram" value={latest?.ram_percent} stale={stale} />
          <Gauge label="Disk" metric="disk" value={latest?.disk_percent} stale={stale} />
        </div>
        <div className="mt-3">
          <Sparkline points={spark} from={now - SPARK_MS} to={now} label="CPU over the last 30 minutes" />
        </div>
        {alertCount > 0 ? (
          <p className="mt-2 text-xs font-semibold text-red-700 dark:text-red-400">
            {alertCount} active alert{alertCount > 1 ? 's' : ''}
          </p>
        ) : null}
      </a>
    </li>
  );
}

export default function ServerList({ items, alerts, sparks, now }) {
  return (
    <ul className="grid grid-cols-1 gap-4 sm:grid-cols-2 xl:grid-cols-3" aria-label="Servers, most urgent first">
      {items.map(({ server, health }) => (
        <ServerCard
          key={server.id}
          server={server}
          health={health}
          alertCount={alerts.filter((a) => a.server_id === server.id).length}
          spark={sparks[server.id]}
          now={now}
        />
      ))}
    </ul>
  );
}
