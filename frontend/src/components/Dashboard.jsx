// The overview: every server, trouble first, live.
import { useMemo, useState } from 'react';
import { useFleet } from '../features/fleet/useFleet.jsx';
import { useNow } from '../hooks/useNow.js';
import { sortByTrouble } from '../utils/levels.js';
import EmptyState from './EmptyState.jsx';
import ServerList from './ServerList.jsx';

// The filter box appears once the list no longer fits at a glance.
export const FILTER_FROM = 6;

function Summary({ items }) {
  const count = (h) => items.filter((i) => i.health === h).length;
  const trouble = count('critical') + count('offline') + count('stale') + count('warning');
  const parts = [
    [count('critical'), 'critical', 'text-red-700 dark:text-red-400'],
    [count('offline'), 'offline', 'text-slate-700 dark:text-slate-200'],
    [count('stale'), 'silent', 'text-slate-700 dark:text-slate-200'],
    [count('warning'), 'warning', 'text-amber-700 dark:text-amber-300'],
    [count('nodata'), 'waiting for data', 'text-sky-700 dark:text-sky-300'],
    [count('ok'), 'healthy', 'text-emerald-700 dark:text-emerald-400'],
  ].filter(([n]) => n > 0);
  return (
    <p className="text-sm text-slate-600 dark:text-slate-300" data-testid="summary">
      <span className="font-medium">
        {items.length} server{items.length > 1 ? 's' : ''}
      </span>
      {parts.map(([n, label, cls]) => (
        <span key={label}>
          {' · '}
          <span className={`font-semibold ${cls}`}>
            {n} {label}
          </span>
        </span>
      ))}
      {trouble === 0 ? ' · nothing needs attention' : ''}
    </p>
  );
}

function matches(server, text) {
  const needle = text.trim().toLowerCase();
  if (!needle) return true;
  return [server.name, server.hostname, server.ip_address, server.os_type]
    .filter(Boolean)
    .some((v) => v.toLowerCase().includes(needle));
}

export default function Dashboard() {
  const { servers, error, activeAlerts, sparks } = useFleet();
  const now = useNow(5000);
  const [filter, setFilter] = useState('');
  const sorted = useMemo(() => sortByTrouble(servers ?? [], activeAlerts, now), [servers, activeAlerts, now]);

  if (servers === null) {
    return error ? (
      <p role="alert" className="rounded-lg bg-red-50 p-4 text-red-800 dark:bg-red-500/10 dark:text-red-300">
        The server list could not be loaded: {error.message}
      </p>
    ) : (
      <p className="text-slate-500" aria-busy="true">
        Loading servers…
      </p>
    );
  }
  if (servers.length === 0) return <EmptyState />;

  const shown = sorted.filter(({ server }) => matches(server, filter));
  return (
    <section aria-labelledby="overview-title">
      <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
        <div>
          <h1 id="overview-title" className="text-xl font-semibold">
            Servers
          </h1>
          <Summary items={sorted} />
        </div>
        {servers.length >= FILTER_FROM ? (
          <label className="w-full sm:w-72">
            <span className="sr-only">Filter servers</span>
            <input
              type="search"
              value={filter}
              onChange={(e) => setFilter(e.target.value)}
              placeholder="Filter by name, host, IP or OS"
              className="w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm dark:border-slate-700 dark:bg-slate-900"
            />
          </label>
        ) : null}
      </div>
      {error ? (
        <p role="status" className="mb-3 text-sm text-amber-700 dark:text-amber-300">
          Could not refresh the list ({error.message}); showing the last known values.
        </p>
      ) : null}
      {shown.length ? (
        <ServerList items={shown} alerts={activeAlerts} sparks={sparks} now={now} />
      ) : (
        <p className="text-slate-500">No server matches “{filter}”.</p>
      )}
    </section>
  );
}
