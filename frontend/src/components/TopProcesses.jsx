// The busiest processes: by CPU and by memory, as the collector last saw them
// (live) or at the moment an alert fired.
import { formatAgo, formatFull, formatMiB, formatPercent } from '../utils/formatters.js';

function ProcessTable({ title, processes, highlight }) {
  return (
    <div className="min-w-0 flex-1">
      <h3 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400">{title}</h3>
      {processes?.length ? (
        <table className="w-full text-sm tabular-nums">
          <thead className="sr-only">
            <tr>
              <th>Process</th>
              <th>User</th>
              <th>CPU</th>
              <th>Memory</th>
            </tr>
          </thead>
          <tbody>
            {processes.map((p) => (
              <tr key={`${p.pid}-${p.name}`} className="border-t border-slate-100 dark:border-slate-800" data-testid="top-process" data-pid={p.pid}>
                {/* The name takes the room the figures leave (w-full) and is cut
                    only past it (max-w-0 lets it shrink): max-w-0 alone gives
                    the column no share of the table's width, the name its first
                    letter. */}
                <td className="w-full max-w-0 truncate py-1 pr-2" title={`${p.name} (pid ${p.pid})`} data-testid="process-name">
                  <span className="font-medium">{p.name}</span> <span className="text-xs text-slate-500 dark:text-slate-400">{p.pid}</span>
                </td>
                <td className="hidden max-w-32 truncate py-1 pr-2 text-slate-500 sm:table-cell dark:text-slate-400">{p.user ?? '—'}</td>
                <td className={`whitespace-nowrap py-1 pr-2 text-right ${highlight === 'cpu' ? 'font-semibold' : ''}`}>{formatPercent(p.cpu_percent)}</td>
                <td className={`whitespace-nowrap py-1 text-right ${highlight === 'memory' ? 'font-semibold' : ''}`}>{formatMiB(p.rss_mb)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="text-sm text-slate-500 dark:text-slate-400">None reported.</p>
      )}
    </div>
  );
}

/** `top` is { cpu: [...], memory: [...] }; `at` when it was taken. */
export function TopProcessesTables({ top }) {
  return (
    <div className="flex flex-col gap-4 sm:flex-row">
      <ProcessTable title="By CPU" processes={top.cpu} highlight="cpu" />
      <ProcessTable title="By memory" processes={top.memory} highlight="memory" />
    </div>
  );
}

export default function TopProcesses({ top, at, now }) {
  if (!top) return null;
  return (
    <section aria-labelledby="top-processes-title" className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="top-processes">
      <div className="mb-3 flex flex-wrap items-baseline justify-between gap-2">
        <h2 id="top-processes-title" className="font-medium">
          Top processes
        </h2>
        {at ? (
          <span className="text-xs text-slate-500 dark:text-slate-400" title={formatFull(at)}>
            seen {formatAgo(at, now)}
          </span>
        ) : null}
      </div>
      <TopProcessesTables top={top} />
    </section>
  );
}
