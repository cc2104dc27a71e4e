// Throughput of each network interface and each disk: now, and over the live
// window (one line per device; dashed: the other direction).
import { format } from 'date-fns';
import { CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import { formatPercent, formatRate, rateUnit } from '../utils/formatters.js';
import { DEVICE_COLORS } from '../utils/host.js';
import { timeTicks } from '../utils/timeTicks.js';
import { ChartFrame, ChartTooltip, GRID, TIME_AXIS } from './charts.jsx';

// The two directions of each kind of device.
const KINDS = {
  interfaces: { title: 'Network by interface', a: ['recv', 'received'], b: ['sent', 'sent'], rateA: 'recv_mb_s', rateB: 'sent_mb_s' },
  disks: { title: 'Disk I/O', a: ['read', 'read'], b: ['write', 'written'], rateA: 'read_mb_s', rateB: 'write_mb_s' },
};

/** Chart rows from the trail: { t, d0_recv, d0_sent, d1_recv, … } (device by its
 * position in `names`), scaled to `unit`. */
export function trailRows(trail, kind, names, unit) {
  const { a, b } = KINDS[kind];
  return trail.map((row) => {
    const out = { t: row.t };
    // Keys by position: a device's name may hold dots, which a chart reads as a path.
    names.forEach((name, d) => {
      const device = row[kind]?.[name];
      for (const [field] of [a, b]) {
        const value = device?.[field];
        out[`d${d}_${field}`] = value == null ? null : value * unit.factor;
      }
    });
    return out;
  });
}

function DeviceTable({ kind, devices, counted }) {
  const { a, b, rateA, rateB } = KINDS[kind];
  return (
    <table className="mb-3 w-full text-sm tabular-nums" data-testid={`${kind}-table`}>
      <thead>
        <tr className="text-left text-xs uppercase tracking-wide text-slate-500 dark:text-slate-400">
          <th className="py-1 font-semibold">{kind === 'disks' ? 'Disk' : 'Interface'}</th>
          <th className="py-1 text-right font-semibold">{a[1]}</th>
          <th className="py-1 text-right font-semibold">{b[1]}</th>
          {kind === 'disks' ? <th className="py-1 text-right font-semibold">busy</th> : null}
        </tr>
      </thead>
      <tbody>
        {devices.map((d) => (
          <tr key={d.name} className="border-t border-slate-100 dark:border-slate-800" data-device={d.name}>
            <td className="py-1">
              <span className="font-medium">{d.name}</span>
              {counted && d.counted === false ? (
                <span className="ml-2 text-xs text-slate-500 dark:text-slate-400" title="Loopback or virtual: its traffic is not added to the host's total, which would count it twice">
                  not in total
                </span>
              ) : null}
            </td>
            <td className="py-1 text-right">{formatRate(d[rateA])}</td>
            <td className="py-1 text-right">{formatRate(d[rateB])}</td>
            {kind === 'disks' ? <td className="py-1 text-right">{formatPercent(d.busy_percent)}</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export default function DeviceIo({ kind, devices, trail, windowMs, now }) {
  if (!devices?.length) return null;
  const { title, a, b } = KINDS[kind];
  const names = devices.map((d) => d.name);
  const from = now - windowMs;
  const visible = trail.filter((r) => r.t >= from);
  const max = Math.max(
    0,
    ...visible.flatMap((r) => names.flatMap((n) => [r[kind]?.[n]?.[a[0]] ?? 0, r[kind]?.[n]?.[b[0]] ?? 0])),
  );
  const unit = rateUnit(max);
  const rows = trailRows(visible, kind, names, unit);
  return (
    <ChartFrame title={title} data-testid={`${kind}-io`} data-points={visible.length} caption={visible.length < 2 ? 'Throughput shows from the second sample on.' : `dashed: ${b[1]}`}>
      <DeviceTable kind={kind} devices={devices} counted={kind === 'interfaces'} />
      {visible.length ? (
        <LineChart responsive style={{ width: '100%', height: 200 }} data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid stroke={GRID} vertical={false} />
          <XAxis {...TIME_AXIS} domain={[from, now]} allowDataOverflow ticks={timeTicks(from, now, 6)} tickFormatter={(t) => format(t, 'HH:mm')} />
          <YAxis
            tickFormatter={(v) => `${Number(v.toPrecision(3))}`}
            label={{ value: unit.label, angle: -90, position: 'insideLeft', fontSize: 12, fill: 'currentColor' }}
            stroke={GRID}
            fontSize={12}
            width={56}
          />
          <Tooltip content={<ChartTooltip format={(v) => formatRate(v / unit.factor)} />} isAnimationActive={false} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {names.flatMap((name, i) => [
            <Line key={`${name}-a`} dataKey={`d${i}_${a[0]}`} name={`${name} ${a[1]}`} stroke={DEVICE_COLORS[i % DEVICE_COLORS.length]} dot={false} strokeWidth={2} isAnimationActive={false} />,
            <Line key={`${name}-b`} dataKey={`d${i}_${b[0]}`} name={`${name} ${b[1]}`} stroke={DEVICE_COLORS[i % DEVICE_COLORS.length]} strokeDasharray="4 3" dot={false} isAnimationActive={false} legendType="none" />,
          ])}
        </LineChart>
      ) : null}
    </ChartFrame>
  );
}
