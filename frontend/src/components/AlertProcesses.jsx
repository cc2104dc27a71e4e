// What was running when each alert fired: the top processes stored with it.
import { alertText } from './AlertBanner.jsx';
import { formatFull, formatMoment } from '../utils/formatters.js';
import { TopProcessesTables } from './TopProcesses.jsx';

export default function AlertProcesses({ alerts, now }) {
  const withTop = (alerts ?? []).filter((a) => a.top_processes && (a.top_processes.cpu?.length || a.top_processes.memory?.length));
  if (!withTop.length) return null;
  return (
    <section aria-labelledby="alert-processes-title" className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="alert-processes">
      <h2 id="alert-processes-title" className="mb-2 font-medium">
        Top processes when alerts fired
      </h2>
      <div className="divide-y divide-slate-200 dark:divide-slate-800">
        {withTop.map((alert) => (
          <details key={alert.id ?? `${alert.type}-${alert.started_at}`} className="py-2" data-testid="alert-top-processes" open={withTop.length === 1}>
            <summary className="cursor-pointer text-sm">
              <span className="font-medium">
                {alertText(alert, null, now)}
                {alert.device ? ` on ${alert.device}` : ''}
              </span>{' '}
              <span className="text-slate-500 dark:text-slate-400" title={formatFull(alert.started_at)}>
                at {formatMoment(alert.started_at, now)}
              </span>
            </summary>
            <div className="mt-2">
              <TopProcessesTables top={alert.top_processes} />
            </div>
          </details>
        ))}
      </div>
    </section>
  );
}
