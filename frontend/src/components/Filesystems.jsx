// Every filesystem of the host, a bar each, fullest first.
import { formatGiB, formatPercent, formatUsedTotal } from '../utils/formatters.js';
import { LEVEL_BAR, LEVEL_TEXT, levelOf } from '../utils/levels.js';

export function sortFilesystems(filesystems) {
  return [...filesystems].sort((a, b) => (b.percent ?? -1) - (a.percent ?? -1) || a.mount.localeCompare(b.mount));
}

export default function Filesystems({ filesystems, stale }) {
  if (!filesystems?.length) return null;
  return (
    <section aria-labelledby="filesystems-title" className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="filesystems">
      <h2 id="filesystems-title" className="mb-3 font-medium">
        Filesystems
      </h2>
      <ul className="space-y-3">
        {sortFilesystems(filesystems).map((fs) => {
          const level = stale ? 'stale' : levelOf('disk', fs.percent);
          const inodesLevel = levelOf('disk', fs.inodes_percent);
          return (
            <li key={fs.mount} data-testid="filesystem-bar" data-mount={fs.mount} data-level={level}>
              <div className="flex flex-wrap items-baseline justify-between gap-x-3 text-sm">
                <span className="font-medium break-all">{fs.mount}</span>
                <span className={`tabular-nums font-semibold ${LEVEL_TEXT[level]}`}>{formatPercent(fs.percent)}</span>
              </div>
              <div className="mt-1 h-2 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800" aria-hidden="true">
                <div className={`h-full rounded-full ${LEVEL_BAR[level]}`} style={{ width: `${Math.min(Math.max(fs.percent ?? 0, 0), 100)}%` }} />
              </div>
              <p className="mt-1 text-xs tabular-nums text-slate-500 dark:text-slate-400">
                {formatUsedTotal(fs.used_gb, fs.total_gb, formatGiB)} · {fs.device} · {fs.fstype}
                {fs.inodes_percent != null ? (
                  <>
                    {' · inodes '}
                    <span className={inodesLevel === 'ok' ? '' : LEVEL_TEXT[inodesLevel]}>{formatPercent(fs.inodes_percent)}</span>
                  </>
                ) : null}
              </p>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
