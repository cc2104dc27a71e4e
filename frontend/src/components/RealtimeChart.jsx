// The last minutes, moving as samples arrive. Missing data shows as a break in
// the lines, never as a straight line drawn across it.
import { CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import { formatPercent } from '../utils/formatters.js';
import { breakAfter, largestGap, withGaps } from '../utils/gaps.js';
import { timeTicks } from '../utils/timeTicks.js';
import { format } from 'date-fns';
import { COLORS, ChartFrame, ChartTooltip, GRID, TIME_AXIS } from './charts.jsx';

export default function RealtimeChart({ points, windowMs, now, intervalSeconds = 5 }) {
  const from = now - windowMs;
  const visible = points.filter((p) => p.t >= from - 60_000);
  const data = withGaps(visible, breakAfter({ intervalMs: intervalSeconds * 1000 }));
  const inWindow = visible.filter((p) => p.t >= from);
  return (
    <ChartFrame
      title={`Live · last ${Math.round(windowMs / 60_000)} minutes`}
      data-testid="realtime-chart"
      data-points={inWindow.length}
      data-first={inWindow[0] ? new Date(inWindow[0].t).toISOString() : ''}
      data-last={inWindow.at(-1) ? new Date(inWindow.at(-1).t).toISOString() : ''}
      data-max-gap-s={Math.round(largestGap(inWindow) / 1000)}
      caption={inWindow.length ? null : 'Waiting for samples…'}
    >
      <LineChart
        responsive
        style={{ width: '100%', height: 240 }}
        data={data}
        margin={{ top: 8, right: 8, bottom: 0, left: 0 }}
      >
        <CartesianGrid stroke={GRID} vertical={false} />
        <XAxis
          {...TIME_AXIS}
          domain={[from, now]}
          allowDataOverflow
          ticks={timeTicks(from, now, 6)}
          tickFormatter={(t) => format(t, 'HH:mm')}
        />
        <YAxis domain={[0, 100]} ticks={[0, 25, 50, 75, 100]} unit="%" stroke={GRID} fontSize={12} width={48} />
        <Tooltip content={<ChartTooltip format={formatPercent} />} isAnimationActive={false} />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Line dataKey="cpu" name="CPU" stroke={COLORS.cpu} dot={false} strokeWidth={2} isAnimationActive={false} />
        <Line dataKey="ram" name="RAM" stroke={COLORS.ram} dot={false} strokeWidth={2} isAnimationActive={false} />
        <Line dataKey="disk" name="Disk" stroke={COLORS.disk} dot={false} strokeWidth={2} isAnimationActive={false} />
      </LineChart>
    </ChartFrame>
  );
}
