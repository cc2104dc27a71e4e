// Active alerts across all servers, on every page; each opens its server.
import { useFleet } from '../hooks/useFleet.jsx';
import { useNow } from '../hooks/useNow.js';
import { useLinkHandler } from '../hooks/useRoute.js';
import { formatAgo, formatFull, formatPercent } from '../utils/formatters.js';

const TYPE_LABEL = { cpu: 'CPU', ram: 'Memory', disk: 'Disk', offline: 'Offline' };

/** "CPU 95.2% (threshold 90%)", "Offline". */
export function alertText(alert) {
  const label = TYPE_LABEL[alert.type] ?? alert.type;
  if (alert.type === 'offline') return 'Offline: no data received';
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
  const names = new Map(servers.map((s) => [s.id, s.name || s.hostname]));
  // The oldest first: the longest-standing problem is the first one to read.
  const alerts = [...active].sort((a, b) => new Date(a.started_at) - new Date(b.started_at));

  return (
    <div aria-live="polite" data-testid="alert-banner" data-count={alerts.length}>
      {alerts.length ? (
        <section aria-label="Active alerts" className="border-b border-red-700 bg-red-600 text-white dark:border-red-900 dark:bg-red-800">
          <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-2 px-4 py-2 text-sm">
            <strong className="mr-1">
              {alerts.length} active alert{alerts.length > 1 ? 's' : ''}
            </strong>
            {alerts.map((alert) => (
              <a
                key={`${alert.server_id}:${alert.type}`}
                href={`/servers/${alert.server_id}`}
                onClick={link}
                data-alert-type={alert.type}
                data-server-id={alert.server_id}
                title={`since ${formatFull(alert.started_at)}`}
                className="rounded-full bg-white/15 px-3 py-1 hover:bg-white/25 focus-visible:outline-white"
              >
                <span className="font-semibold">{names.get(alert.server_id) ?? `server ${alert.server_id}`}</span>
                {' · '}
                {alertText(alert)}
                <span className="opacity-80"> · for {formatAgo(alert.started_at, now).replace(' ago', '').replace('just now', 'a moment')}</span>
              </a>
            ))}
          </div>
        </section>
      ) : null}
    </div>
  );
}
