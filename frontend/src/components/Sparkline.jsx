// A tiny CPU line for an overview card: plain SVG, because dozens of cards each
// mounting a full chart would make the overview slow.
import { memo } from 'react';

function Sparkline({ points, from, to, label, latest = null }) {
  let usable = (points ?? []).filter((p) => typeof p.v === 'number' && p.t >= from);
  // The trend is still loading (or the history is unavailable): the server's
  // current value is a point of it already.
  if (usable.length === 0 && latest && typeof latest.v === 'number' && latest.t >= from) usable = [latest];
  if (usable.length === 0) {
    return (
      <div className="flex h-8 items-center text-xs text-slate-400 dark:text-slate-500" aria-label={label} data-points="0">
        no data in the last 30 minutes
      </div>
    );
  }
  const span = Math.max(to - from, 1);
  const x = (p) => (((p.t - from) / span) * 100).toFixed(2);
  const y = (p) => (30 - (p.v / 100) * 28).toFixed(2);
  const last = usable.at(-1);
  return (
    <svg
      viewBox="0 0 100 31"
      preserveAspectRatio="none"
      className="h-8 w-full text-sky-500 dark:text-sky-400"
      role="img"
      aria-label={`${label}: ${usable.length} point${usable.length > 1 ? 's' : ''}, latest ${last.v.toFixed(1)}%`}
      data-points={usable.length}
    >
      <line x1="0" x2="100" y1="30" y2="30" className="stroke-slate-200 dark:stroke-slate-700" strokeWidth="1" vectorEffect="non-scaling-stroke" />
      {usable.length > 1 ? (
        <polyline
          points={usable.map((p) => `${x(p)},${y(p)}`).join(' ')}
          fill="none"
          stroke="currentColor"
          strokeWidth="1.5"
          vectorEffect="non-scaling-stroke"
          strokeLinejoin="round"
        />
      ) : (
        <line x1={Math.max(Number(x(last)) - 2, 0)} x2={x(last)} y1={y(last)} y2={y(last)} stroke="currentColor" strokeWidth="3" strokeLinecap="round" vectorEffect="non-scaling-stroke" />
      )}
    </svg>
  );
}

export default memo(Sparkline);
