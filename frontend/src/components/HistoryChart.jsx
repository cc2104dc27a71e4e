// History over a chosen range: averages as lines, peaks as a shaded band, and
// the network throughput below. The API picks the bucket so the chart never has
// more than ~500 points, whatever the range.
import { memo, useState } from 'react';
import { Area, CartesianGrid, ComposedChart, Legend, Line, Tooltip, XAxis, YAxis } from 'recharts';
import { formatCount, formatDuration, formatMoment, formatPercent, formatRate, rateUnit, tickFormatter } from '../utils/formatters.js';
import { breakAfter, withGaps } from '../utils/gaps.js';
import { RANGES, customBounds, rangeBounds, toLocalInput } from '../utils/ranges.js';
import { timeTicks } from '../utils/timeTicks.js';
import { COLORS, ChartFrame, ChartTooltip, GRID, TIME_AXIS } from './charts.jsx';

const METRICS = [
  { key: 'cpu', label: 'CPU' },
  { key: 'ram', label: 'RAM' },
  { key: 'disk', label: 'Disk' },
];

export function Segmented({ label, options, value, onChange }) {
  return (
    <div role="group" aria-label={label} className="inline-flex flex-wrap rounded-lg border border-slate-300 p-0.5 dark:border-slate-700">
      {options.map((option) => (
        <button
          key={option.key}
          type="button"
          aria-pressed={value === option.key}
          onClick={() => onChange(option.key)}
          className={`rounded-md px-2.5 py-1 text-sm font-medium ${
            value === option.key
              ? 'bg-slate-900 text-white dark:bg-slate-100 dark:text-slate-900'
              : 'text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800'
          }`}
        >
          {option.label}
        </button>
      ))}
    </div>
  );
}

export function CustomRange({ initial, onApply }) {
  const [from, setFrom] = useState(toLocalInput(initial.from));
  const [to, setTo] = useState(toLocalInput(initial.to));
  const [error, setError] = useState(null);
  const submit = (event) => {
    event.preventDefault();
    const result = customBounds(from, to);
    if (result.error) setError(result.error);
    else {
      setError(null);
      onApply(result);
    }
  };
  const input = 'rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-950';
  return (
    <form onSubmit={submit} className="mt-3 flex flex-wrap items-end gap-3 text-sm" aria-label="Custom range">
      <label className="flex flex-col gap-1">
        <span className="text-slate-600 dark:text-slate-300">From</span>
        <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} className={input} required />
      </label>
      <label className="flex flex-col gap-1">
        <span className="text-slate-600 dark:text-slate-300">To</span>
        <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} className={input} />
      </label>
      <button type="submit" className="rounded-lg bg-slate-900 px-3 py-1.5 font-medium text-white dark:bg-slate-100 dark:text-slate-900">
        Show
      </button>
      {error ? (
        <p role="alert" className="w-full text-red-700 dark:text-red-400">
          {error}
        </p>
      ) : null}
    </form>
  );
}

// The charts mount once there is something to draw: mounting them empty would
// compete with the live chart for the first paint.

/** `view` is useHistoryRange's answer: the page starts loading the history
 * at once, without waiting for this component's turn to render. */
function HistoryChart({ view, intervalSeconds = 5 }) {
  const { rangeKey, setRangeKey, custom, setCustom, metric, setMetric, history } = view;
  const span = (history.to ?? 0) - (history.from ?? 0);
  const data = withGaps(
    history.points,
    breakAfter({ intervalMs: intervalSeconds * 1000, bucketMs: history.bucketMs }),
  );
  // Both charts share one time axis so that their points line up.
  const timeAxis = {
    ...TIME_AXIS,
    domain: [history.from ?? 'dataMin', history.to ?? 'dataMax'],
    ticks: history.from ? timeTicks(history.from, history.to, 6) : undefined,
    tickFormatter: tickFormatter(span),
  };
  const label = METRICS.find((m) => m.key === metric).label;
  const caption = history.error
    ? `History could not be loaded: ${history.error.message}`
    : history.loading && !history.points.length
      ? 'Loading…'
      : history.points.length
        ? `${formatCount(history.points.length, 'point')} · average per ${formatDuration(history.bucketMs)}, shaded up to the peak · ${formatMoment(history.from)} – ${formatMoment(history.to)}`
        : 'No data in this range.';
  const rangeOptions = [...RANGES, { key: 'custom', label: 'Custom' }];
  // The throughput axis in one unit chosen from the largest value.
  const NET = ['sent', 'recv', 'sentMax', 'recvMax'];
  const unit = rateUnit(Math.max(0, ...history.points.flatMap((p) => NET.map((k) => p[k] ?? 0))));
  const netData = data.map((p) => {
    if (p.gap) return p;
    const scaled = { t: p.t };
    for (const k of NET) scaled[k] = p[k] == null ? null : p[k] * unit.factor;
    return scaled;
  });
  const formatScaled = (v) => formatRate(v / unit.factor);

  return (
    <div className="space-y-4">
      <ChartFrame
        title="History"
        data-testid="history-chart"
        data-points={history.points.length}
        data-interval={history.interval ?? ''}
        data-loading={history.loading ? 'true' : 'false'}
        caption={caption}
        actions={
          <div className="flex flex-wrap gap-2">
            <Segmented label="Metric" options={METRICS} value={metric} onChange={setMetric} />
            <Segmented label="Range" options={rangeOptions} value={rangeKey} onChange={setRangeKey} />
          </div>
        }
      >
        {rangeKey === 'custom' ? (
          <CustomRange initial={custom ?? rangeBounds('24h')} onApply={setCustom} />
        ) : null}
        {history.points.length ? (
        <ComposedChart responsive style={{ width: '100%', height: 260 }} data={data} margin={{ top: 10, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid stroke={GRID} vertical={false} />
          <XAxis {...timeAxis} />
          <YAxis domain={[0, 100]} ticks={[0, 25, 50, 75, 100]} unit="%" stroke={GRID} fontSize={12} width={48} />
          <Tooltip content={<ChartTooltip format={formatPercent} />} isAnimationActive={false} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Area
            dataKey={(p) => (p[metric] == null ? null : [p[metric], p[`${metric}Max`] ?? p[metric]])}
            name={`${label} peak`}
            stroke="none"
            fill={COLORS[metric]}
            fillOpacity={0.22}
            isAnimationActive={false}
            legendType="square"
          />
          <Line dataKey={metric} name={`${label} average`} stroke={COLORS[metric]} dot={false} strokeWidth={2} isAnimationActive={false} />
        </ComposedChart>
        ) : (
          <div style={{ height: 260 }} aria-hidden="true" />
        )}
      </ChartFrame>

      <ChartFrame
        title="Network throughput"
        data-testid="network-chart"
        data-points={history.points.length}
        caption={history.points.length ? `Average per ${formatDuration(history.bucketMs)}; dashed: peak between two samples.` : null}
      >
        {history.points.length ? (
        <ComposedChart responsive style={{ width: '100%', height: 200 }} data={netData} margin={{ top: 10, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid stroke={GRID} vertical={false} />
          <XAxis {...timeAxis} />
          <YAxis
            tickFormatter={(v) => `${Number(v.toPrecision(3))}`}
            label={{ value: unit.label, angle: -90, position: 'insideLeft', fontSize: 12, fill: 'currentColor' }}
            stroke={GRID}
            fontSize={12}
            width={56}
          />
          <Tooltip content={<ChartTooltip format={formatScaled} />} isAnimationActive={false} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Line dataKey="recv" name="Received" stroke={COLORS.recv} dot={false} strokeWidth={2} isAnimationActive={false} />
          <Line dataKey="sent" name="Sent" stroke={COLORS.sent} dot={false} strokeWidth={2} isAnimationActive={false} />
          <Line dataKey="recvMax" name="Received peak" stroke={COLORS.recv} strokeDasharray="3 3" strokeOpacity={0.6} dot={false} isAnimationActive={false} legendType="none" />
          <Line dataKey="sentMax" name="Sent peak" stroke={COLORS.sent} strokeDasharray="3 3" strokeOpacity={0.6} dot={false} isAnimationActive={false} legendType="none" />
        </ComposedChart>
        ) : (
          <div style={{ height: 200 }} aria-hidden="true" />
        )}
      </ChartFrame>
    </div>
  );
}

// The server page re-renders every few seconds for its clock: hundreds of
// history points are redrawn only when the history itself changes.
export default memo(HistoryChart);
