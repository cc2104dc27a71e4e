// History of the host's other series (load, the CPU split, swap, each
// filesystem, disk and interface, temperatures), with the same range controls
// as the main history, sharing its range. Each group is fetched on its own
// (`?metrics=`), so a load chart does not drag every disk along.
import { memo, useState } from 'react';
import { Area, CartesianGrid, ComposedChart, Legend, Line, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { shownRange, useHistory } from '../hooks/useHistory.js';
import { formatCount, formatDuration, formatPercent, formatRate, rateUnit, tickFormatter } from '../utils/formatters.js';
import { breakAfter, withGaps } from '../utils/gaps.js';
import { CPU_PARTS, DEVICE_COLORS, deviceSeries, formatCelsius, formatLoad, scalarSeries } from '../utils/host.js';
import { RANGES, rangeBounds } from '../utils/ranges.js';
import { timeTicks } from '../utils/timeTicks.js';
import { ChartFrame, ChartTooltip, GRID, TIME_AXIS } from './charts.jsx';
import { CustomRange, Segmented } from './HistoryChart.jsx';

export const GROUPS = [
  { key: 'load', label: 'Load' },
  { key: 'cpu', label: 'CPU split' },
  { key: 'swap', label: 'Swap' },
  { key: 'filesystems', label: 'Filesystems' },
  { key: 'disks', label: 'Disk I/O' },
  { key: 'interfaces', label: 'Interfaces' },
  { key: 'temperatures', label: 'Temperatures' },
];

const rawPoint = (bucket) => ({ ...bucket, t: Date.parse(bucket.recorded_at) });

/** What a group's chart draws: rows, lines ({ key, name, color, dashed }), the y axis. */
export function groupChart(group, points) {
  if (group === 'load') {
    const rows = scalarSeries(points, ['load_1', 'load_1_max', 'load_5', 'load_15']);
    return {
      rows,
      lines: [
        { key: 'load_1', name: '1 min', color: DEVICE_COLORS[0] },
        { key: 'load_1_max', name: '1 min peak', color: DEVICE_COLORS[0], dashed: true },
        { key: 'load_5', name: '5 min', color: DEVICE_COLORS[1] },
        { key: 'load_15', name: '15 min', color: DEVICE_COLORS[2] },
      ],
      format: formatLoad,
    };
  }
  if (group === 'cpu') {
    return {
      rows: scalarSeries(points, CPU_PARTS.map((p) => p.key)),
      areas: CPU_PARTS.map((p) => ({ key: p.key, name: p.label, color: p.color })),
      format: formatPercent,
      percent: true,
    };
  }
  if (group === 'swap') {
    return {
      rows: scalarSeries(points, ['swap_percent', 'swap_percent_max']),
      lines: [
        { key: 'swap_percent', name: 'used', color: DEVICE_COLORS[1] },
        { key: 'swap_percent_max', name: 'peak', color: DEVICE_COLORS[1], dashed: true },
      ],
      format: formatPercent,
      percent: true,
    };
  }
  const perDevice = {
    filesystems: { key: 'mount', fields: [['percent', '']], format: formatPercent, percent: true },
    disks: { key: 'name', fields: [['read_mb_s', ' read'], ['write_mb_s', ' written']], rate: true },
    interfaces: { key: 'name', fields: [['recv_mb_s', ' received'], ['sent_mb_s', ' sent']], rate: true },
    temperatures: { key: 'sensor', fields: [['celsius', '']], format: formatCelsius },
  }[group];
  const series = perDevice.fields.map(([field]) => deviceSeries(points, group, perDevice.key, field));
  const names = [...new Set(series.flatMap((s) => s.names))].sort();
  // Keys by position: a device's name may hold dots, which a chart reads as a path.
  const rows = points.map((p, i) => {
    const row = { t: p.t };
    series.forEach((s, f) => {
      names.forEach((name, d) => {
        row[`d${d}_${f}`] = s.rows[i][name] ?? null;
      });
    });
    return row;
  });
  const lines = names.flatMap((name, i) =>
    perDevice.fields.map(([, suffix], f) => ({
      key: `d${i}_${f}`,
      name: `${name}${suffix}`,
      color: DEVICE_COLORS[i % DEVICE_COLORS.length],
      dashed: f > 0,
    })),
  );
  if (perDevice.rate) {
    const unit = rateUnit(Math.max(0, ...rows.flatMap((r) => lines.map((l) => r[l.key] ?? 0))));
    const scaled = rows.map((r) => {
      const out = { t: r.t };
      for (const l of lines) out[l.key] = r[l.key] == null ? null : r[l.key] * unit.factor;
      return out;
    });
    return { rows: scaled, lines, format: (v) => formatRate(v / unit.factor), unitLabel: unit.label };
  }
  return { rows, lines, format: perDevice.format, percent: perDevice.percent };
}

function WideHistory({ serverId, view, intervalSeconds = 5, cpuCount }) {
  const [group, setGroup] = useState('load');
  const { rangeKey, setRangeKey, custom, setCustom } = view;
  const history = useHistory(serverId, shownRange(rangeKey, custom), { metrics: [group], toPoint: rawPoint });
  const chart = groupChart(group, history.points);
  const data = withGaps(chart.rows, breakAfter({ intervalMs: intervalSeconds * 1000, bucketMs: history.bucketMs }));
  const span = (history.to ?? 0) - (history.from ?? 0);
  const hasData = chart.rows.length > 0 && (chart.lines ?? chart.areas).length > 0;
  const caption = history.error
    ? `History could not be loaded: ${history.error.message}`
    : history.loading && !hasData
      ? 'Loading…'
      : hasData
        ? `${formatCount(history.points.length, 'point')} · average per ${formatDuration(history.bucketMs)}`
        : 'No data in this range (a collector older than this dashboard does not send it).';
  return (
    <ChartFrame
      title="More history"
      data-testid="wide-history"
      data-group={group}
      data-points={history.points.length}
      data-loading={history.loading ? 'true' : 'false'}
      caption={caption}
      actions={
        <div className="flex flex-wrap gap-2">
          <Segmented label="Series" options={GROUPS} value={group} onChange={setGroup} />
          <Segmented label="Range" options={[...RANGES, { key: 'custom', label: 'Custom' }]} value={rangeKey} onChange={setRangeKey} />
        </div>
      }
    >
      {rangeKey === 'custom' ? <CustomRange initial={custom ?? rangeBounds('24h')} onApply={setCustom} /> : null}
      {hasData ? (
        <ComposedChart responsive style={{ width: '100%', height: 260 }} data={data} margin={{ top: 10, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid stroke={GRID} vertical={false} />
          <XAxis
            {...TIME_AXIS}
            domain={[history.from ?? 'dataMin', history.to ?? 'dataMax']}
            ticks={history.from ? timeTicks(history.from, history.to, 6) : undefined}
            tickFormatter={tickFormatter(span)}
          />
          <YAxis
            domain={chart.percent ? [0, 100] : [0, 'auto']}
            tickFormatter={(v) => `${Number(Number(v).toPrecision(3))}`}
            unit={chart.percent ? '%' : undefined}
            label={chart.unitLabel ? { value: chart.unitLabel, angle: -90, position: 'insideLeft', fontSize: 12, fill: 'currentColor' } : undefined}
            stroke={GRID}
            fontSize={12}
            width={56}
          />
          <Tooltip content={<ChartTooltip format={chart.format} />} isAnimationActive={false} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {group === 'load' && cpuCount ? (
            <ReferenceLine y={cpuCount} stroke="#ef4444" strokeDasharray="2 4" label={{ value: `${cpuCount} CPUs`, fontSize: 11, fill: 'currentColor', position: 'insideTopRight' }} />
          ) : null}
          {(chart.areas ?? []).map((a) => (
            <Area key={a.key} dataKey={a.key} name={a.name} stackId="split" stroke={a.color} fill={a.color} fillOpacity={0.35} isAnimationActive={false} />
          ))}
          {(chart.lines ?? []).map((l) => (
            <Line
              key={l.key}
              dataKey={l.key}
              name={l.name}
              stroke={l.color}
              strokeDasharray={l.dashed ? '4 3' : undefined}
              dot={false}
              strokeWidth={l.dashed ? 1 : 2}
              isAnimationActive={false}
            />
          ))}
        </ComposedChart>
      ) : (
        <div style={{ height: 260 }} aria-hidden="true" />
      )}
    </ChartFrame>
  );
}

export default memo(WideHistory);
