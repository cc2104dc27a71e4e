// Active alerts across all servers, on every page; each opens its server.
import { useState } from 'react';
import { useFleet } from '../features/fleet/useFleet.jsx';
import { useNow } from '../hooks/useNow.js';
import { useLinkHandler } from '../hooks/useRoute.js';
import { formatAgo, formatFull, formatPercent } from '../utils/formatters.js';

const TYPE_LABEL = { cpu: 'CPU', ram: 'Memory', disk: 'Disk', offline: 'Offline' };

// Beyond this many, the banner folds the rest behind a button: it must not push
// the page out of sight when a whole rack goes down.
export const BANNER_SHOWN = 6;

/** "CPU 95.2% (threshold 90.0%)", "Offline, last seen 5 min ago". */
export function alertText(alert, server = null, now = Date.now()) {
  const label = TYPE_LABEL[alert.type] ?? alert.type;
  if (alert.type === 'offline') {
    // The alert starts when the server is marked offline; since when it has been
    // silent is what matters.
    const seen = server?.last_seen;
    return seen ? `Offline, last seen ${formatAgo(seen, now)}` : 'Offline';
  }
  const value = typeof alert.value === 'number' ? ` ${formatPercent(alert.value)}` : '';
  const threshold = typeof alert.threshold === 'number' ? ` (threshold ${formatPercent(alert.threshold)})` : '';
  return `${label}${value}${threshold}`;
}

export default function AlertBanner() {
  const { activeAlerts, servers } = useFleet();
  const now = useNow(10_000);
  return <AlertBannerView alerts={activeAlerts} servers={servers ?? []} now={now} />;
}

export function AlertBannerView({ alerts: active, servers, now }) {
  const link = useLinkHandler();
  const [expanded, setExpanded] = useState(false);
  const byId = new Map(servers.map((s) => [s.id, s]));
  // The oldest first: the longest-standing problem is the first one to read.
  const alerts = [...active].sort((a, b) => new Date(a.started_at) - new Date(b.started_at));
  const shown = expanded ? alerts : alerts.slice(0, BANNER_SHOWN);

  return (
    <div aria-live="polite" data-testid="alert-banner" data-count={alerts.length}>
      {alerts.length ? (
        <section aria-label="Active alerts" className="border-b border-red-700 bg-red-600 text-white dark:border-red-900 dark:bg-red-800">
          <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-2 px-4 py-2 text-sm">
            <strong className="mr-1">
              {alerts.length} active alert{alerts.length > 1 ? 's' : ''}
            </strong>
            {shown.map((alert) => (
              <a
                key={`${alert.server_id}:${alert.type}`}
                href={`/servers/${alert.server_id}`}
                onClick={link}
                data-alert-type={alert.type}
                data-server-id={alert.server_id}
                title={`since ${formatFull(alert.started_at)}`}
                className="rounded-full bg-white/15 px-3 py-1 hover:bg-white/25 focus-visible:outline-white"
              >
                <span className="font-semibold">
                  {byId.get(alert.server_id)?.name || alert.server_name || `server ${alert.server_id}`}
                </span>
                {' · '}
                {alertText(alert, byId.get(alert.server_id), now)}
                <span className="opacity-80"> · for {formatAgo(alert.started_at, now).replace(' ago', '').replace('just now', 'a moment')}</span>
              </a>
            ))}
            {alerts.length > BANNER_SHOWN ? (
              <button
                type="button"
                onClick={() => setExpanded((e) => !e)}
                aria-expanded={expanded}
                className="rounded-full border border-white/40 px-3 py-1 font-medium hover:bg-white/15"
              >
                {expanded ? 'Show fewer' : `${alerts.length - BANNER_SHOWN} more`}
              </button>
            ) : null}
          </div>
        </section>
      ) : null}
    </div>
  );
}
