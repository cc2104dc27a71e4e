// The top of the overview: how many servers are in each state, and the few
// worst by CPU, RAM and disk, each opening its page.
import { memo } from 'react';
import { useLinkHandler } from '../../hooks/useRoute.js';
import { formatPercent } from '../../utils/formatters.js';
import { LEVEL_TEXT, levelOf } from '../../utils/levels.js';
import { WORST_METRICS } from './overview.js';

const TILES = [
  ['critical', 'critical', 'text-red-700 dark:text-red-400'],
  ['warning', 'warning', 'text-amber-700 dark:text-amber-300'],
  ['offline', 'offline', 'text-slate-700 dark:text-slate-200'],
  ['stale', 'silent', 'text-slate-600 dark:text-slate-300'],
  ['nodata', 'waiting for data', 'text-sky-700 dark:text-sky-300'],
  ['ok', 'healthy', 'text-emerald-700 dark:text-emerald-400'],
];
// Always shown, even at zero: "0 critical" is news too.
const ALWAYS = new Set(['critical', 'warning', 'offline', 'ok']);

function FleetSummary({ summary }) {
  const link = useLinkHandler();
  const { total, counts, worst } = summary;
  const trouble = counts.critical + counts.offline + counts.stale + counts.warning;
  return (
    <div className="mb-4 grid gap-3 lg:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
      <div data-testid="summary" aria-label="Servers by state" role="group">
        <p className="sr-only">
          {total} server{total === 1 ? '' : 's'}
          {trouble === 0 ? ', nothing needs attention' : ''}
        </p>
        <ul className="grid grid-cols-3 gap-2 sm:flex sm:flex-wrap">
          {TILES.filter(([key]) => ALWAYS.has(key) || counts[key] > 0).map(([key, label, cls]) => (
            <li
              key={key}
              data-count-of={key}
              data-count={counts[key]}
              className="rounded-lg border border-slate-200 bg-white px-3 py-2 sm:min-w-24 dark:border-slate-800 dark:bg-slate-900"
            >
              <span className={`block text-xl font-semibold tabular-nums ${counts[key] ? cls : 'text-slate-400 dark:text-slate-500'}`}>
                {counts[key]}
              </span>
              <span className="text-xs text-slate-600 dark:text-slate-300">{label}</span>
            </li>
          ))}
        </ul>
      </div>
      <div className="grid grid-cols-1 gap-2 sm:grid-cols-3" aria-label="Highest values now" role="group">
        {WORST_METRICS.map(([key, , label]) => (
          <section
            key={key}
            aria-label={`Highest ${label}`}
            className="rounded-lg border border-slate-200 bg-white px-3 py-2 dark:border-slate-800 dark:bg-slate-900"
          >
            <h2 className="text-xs font-medium text-slate-500 dark:text-slate-400">Highest {label}</h2>
            {worst[key].length ? (
              <ol className="mt-1 space-y-0.5 text-sm">
                {worst[key].map(({ server, value }) => (
                  <li key={server.id} className="flex items-baseline justify-between gap-2">
                    <a
                      href={`/servers/${server.id}`}
                      onClick={link}
                      data-worst={key}
                      data-worst-id={server.id}
                      className="truncate text-sky-800 hover:underline focus-visible:underline dark:text-sky-300"
                    >
                      {server.name || server.hostname}
                    </a>
                    <span className={`tabular-nums font-semibold ${LEVEL_TEXT[levelOf(key, value)]}`}>
                      {formatPercent(value)}
                    </span>
                  </li>
                ))}
              </ol>
            ) : (
              <p className="mt-1 text-sm text-slate-400 dark:text-slate-500">no current values</p>
            )}
          </section>
        ))}
      </div>
    </div>
  );
}

export default memo(FleetSummary);
