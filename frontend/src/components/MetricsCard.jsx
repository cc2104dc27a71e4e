// One number that matters, coloured by level, with what it is made of.
import { formatPercent } from '../utils/formatters.js';
import { LEVEL_BAR, LEVEL_TEXT, levelOf } from '../utils/levels.js';

export default function MetricsCard({ title, value, level = 'unknown', detail, percent, stale, staleNote, children }) {
  const shownLevel = stale ? 'stale' : level;
  const width = typeof percent === 'number' ? Math.min(Math.max(percent, 0), 100) : null;
  return (
    <section
      className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
      aria-label={title}
      data-level={shownLevel}
      data-stale={stale ? 'true' : 'false'}
    >
      <div className="flex items-center justify-between gap-2">
        <h2 className="text-sm font-medium text-slate-600 dark:text-slate-300">{title}</h2>
        {stale ? (
          <span className="rounded bg-slate-100 px-1.5 py-0.5 text-[11px] font-medium uppercase tracking-wide text-slate-600 dark:bg-slate-800 dark:text-slate-300">
            stale
          </span>
        ) : null}
      </div>
      <p className={`mt-1 text-2xl font-semibold sm:text-3xl tabular-nums ${LEVEL_TEXT[shownLevel]}`} data-testid="metric-value">
        {value}
      </p>
      {detail ? <p className="mt-1 text-sm tabular-nums text-slate-600 dark:text-slate-300">{detail}</p> : null}
      {children}
      {width != null ? (
        <div className="mt-3 h-2 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800" aria-hidden="true">
          <div className={`h-full rounded-full ${LEVEL_BAR[shownLevel]}`} style={{ width: `${width}%` }} />
        </div>
      ) : null}
      {stale && staleNote ? <p className="mt-2 text-xs text-slate-500 dark:text-slate-400">{staleNote}</p> : null}
    </section>
  );
}

// A share of a resource: the number, its level and the bar all come from one reading.
export function PercentCard({ metric, percent, ...card }) {
  return <MetricsCard value={formatPercent(percent)} level={levelOf(metric, percent)} percent={percent} {...card} />;
}
