// A tiny CPU line for an overview card: plain SVG, because dozens of cards each
// mounting a full chart would make the overview slow.
export default function Sparkline({ points, from, to, label }) {
  const usable = (points ?? []).filter((p) => typeof p.v === 'number' && p.t >= from);
  if (usable.length < 2) {
    return (
      <div className="flex h-8 items-center text-xs text-slate-400 dark:text-slate-500" aria-label={label}>
        not enough data for a trend
      </div>
    );
  }
  const span = Math.max(to - from, 1);
  const coords = usable.map((p) => `${(((p.t - from) / span) * 100).toFixed(2)},${(30 - (p.v / 100) * 28).toFixed(2)}`);
  const last = usable.at(-1);
  return (
    <svg
      viewBox="0 0 100 31"
      preserveAspectRatio="none"
      className="h-8 w-full text-sky-500 dark:text-sky-400"
      role="img"
      aria-label={`${label}: ${usable.length} points, latest ${last.v.toFixed(1)}%`}
      data-points={usable.length}
    >
      <line x1="0" x2="100" y1="30" y2="30" className="stroke-slate-200 dark:stroke-slate-700" strokeWidth="1" vectorEffect="non-scaling-stroke" />
      <polyline points={coords.join(' ')} fill="none" stroke="currentColor" strokeWidth="1.5" vectorEffect="non-scaling-stroke" strokeLinejoin="round" />
    </svg>
  );
}
