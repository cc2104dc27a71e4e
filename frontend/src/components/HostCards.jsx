// The host beyond CPU, RAM and disk: load against the CPU count, the CPU split,
// swap, uptime. A card shows only when the sample has its fields (an older
// collector sends none of them).
import { formatMiB, formatPercent, formatUsedTotal } from '../utils/formatters.js';
import { CPU_PARTS, cpuSplit, formatLoad, formatUptime, loadLevel, loadPercent } from '../utils/host.js';
import { levelOf } from '../utils/levels.js';
import MetricsCard from './MetricsCard.jsx';

export function LoadCard({ sample, ...card }) {
  const count = sample.cpu_count;
  const percent = loadPercent(sample.load_1, count);
  return (
    <MetricsCard
      title="Load"
      value={formatLoad(sample.load_1)}
      level={loadLevel(sample.load_1, count)}
      percent={percent}
      detail={`${count ? `on ${count} CPU${count > 1 ? 's' : ''} · ` : ''}5 min ${formatLoad(sample.load_5)} · 15 min ${formatLoad(sample.load_15)}`}
      {...card}
    />
  );
}

export function CpuSplitCard({ sample, ...card }) {
  const parts = cpuSplit(sample);
  return (
    <MetricsCard title="CPU split" value={formatPercent(sample.cpu_percent)} level={levelOf('cpu', sample.cpu_percent)} {...card}>
      <div className="mt-3 flex h-2 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800" role="img" aria-label={parts.map((p) => `${p.label} ${formatPercent(p.value)}`).join(', ')}>
        {parts.map((p) => (
          <div key={p.key} style={{ width: `${Math.min(100, p.value)}%`, background: p.color }} data-part={p.label} />
        ))}
      </div>
      <dl className="mt-2 grid grid-cols-2 gap-x-3 text-xs tabular-nums text-slate-600 dark:text-slate-300">
        {parts.map((p) => (
          <div key={p.key} className="flex items-center gap-1.5">
            <span className="h-2 w-2 rounded-full" style={{ background: p.color }} aria-hidden="true" />
            <dt>{p.label}</dt>
            <dd className="ml-auto font-medium">{formatPercent(p.value)}</dd>
          </div>
        ))}
      </dl>
    </MetricsCard>
  );
}

export function SwapCard({ sample, ...card }) {
  const none = !(sample.swap_total_mb > 0);
  const activity = [
    sample.swap_in_mb_s != null ? `in ${formatMiB(sample.swap_in_mb_s)}/s` : null,
    sample.swap_out_mb_s != null ? `out ${formatMiB(sample.swap_out_mb_s)}/s` : null,
  ].filter(Boolean);
  return (
    <MetricsCard
      title="Swap"
      value={none ? 'none' : formatPercent(sample.swap_percent)}
      level={none ? 'unknown' : levelOf('ram', sample.swap_percent)}
      percent={none ? null : sample.swap_percent}
      detail={none ? 'no swap space' : [formatUsedTotal(sample.swap_used_mb, sample.swap_total_mb, formatMiB), ...activity].join(' · ')}
      {...card}
    />
  );
}

export function UptimeCard({ sample, ...card }) {
  return (
    <MetricsCard
      title="Uptime"
      value={formatUptime(sample.uptime_seconds)}
      detail={sample.process_count != null ? `${sample.process_count} processes` : null}
      {...card}
    />
  );
}

const has = (sample, ...fields) => fields.some((f) => sample?.[f] != null);

/** The cards this sample has the fields of, in page order. */
export default function HostCards({ sample, stale, staleNote }) {
  if (!sample) return null;
  const card = { stale, staleNote };
  const cards = [
    has(sample, 'load_1') ? <LoadCard key="load" sample={sample} {...card} /> : null,
    has(sample, ...CPU_PARTS.map((p) => p.key)) ? <CpuSplitCard key="cpu" sample={sample} {...card} /> : null,
    has(sample, 'swap_total_mb') ? <SwapCard key="swap" sample={sample} {...card} /> : null,
    has(sample, 'uptime_seconds', 'process_count') ? <UptimeCard key="uptime" sample={sample} {...card} /> : null,
  ].filter(Boolean);
  if (!cards.length) return null;
  return (
    <div className="grid grid-cols-2 gap-3 sm:gap-4 lg:grid-cols-4" data-testid="host-cards">
      {cards}
    </div>
  );
}
