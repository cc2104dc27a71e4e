// One server's alerts: what is firing now, and what fired recently.
import { alertText } from './AlertBanner.jsx';
import { formatAgo, formatFull, formatMoment } from '../utils/formatters.js';

export default function ServerAlerts({ alerts, server, now }) {
  if (!alerts.length) {
    return (
      <p className="text-sm text-slate-500 dark:text-slate-400" data-testid="server-alerts">
        No alert on this server recently.
      </p>
    );
  }
  return (
    <ul className="divide-y divide-slate-200 rounded-xl border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900" data-testid="server-alerts">
      {alerts.map((alert) => {
        const firing = alert.state !== 'resolved';
        return (
          <li key={alert.id ?? `${alert.type}-${alert.started_at}`} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2 text-sm" data-state={firing ? 'firing' : 'resolved'}>
            <span
              className={`rounded-full px-2 py-0.5 text-xs font-semibold ${
                firing ? 'bg-red-600 text-white' : 'bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200'
              }`}
            >
              {firing ? 'firing' : 'resolved'}
            </span>
            <span className="font-medium">{alertText(alert, firing ? server : null, now)}</span>
            <span className="text-slate-500 dark:text-slate-400" title={formatFull(alert.started_at)}>
              since {formatMoment(alert.started_at, now)}
              {alert.resolved_at ? `, resolved ${formatAgo(alert.resolved_at, now)}` : ''}
            </span>
          </li>
        );
      })}
    </ul>
  );
}
