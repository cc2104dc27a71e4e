// What the charts share: colours, the tooltip, the empty frame.
import { formatFull } from '../utils/formatters.js';

export const COLORS = {
  cpu: '#0ea5e9',
  ram: '#8b5cf6',
  disk: '#14b8a6',
  sent: '#d946ef',
  recv: '#06b6d4',
};

export const GRID = 'rgba(148, 163, 184, 0.25)';

// The x axis of every chart: points carry their time as `t`, in milliseconds.
export const TIME_AXIS = { dataKey: 't', type: 'number', scale: 'time', stroke: GRID, fontSize: 12 };

export function ChartTooltip({ active, payload, label, format }) {
  if (!active || !payload?.length) return null;
  return (
    <div className="rounded-lg border border-slate-200 bg-white px-3 py-2 text-xs shadow-lg dark:border-slate-700 dark:bg-slate-900">
      <p className="mb-1 font-medium text-slate-700 dark:text-slate-200">{formatFull(label)}</p>
      {payload
        .filter((item) => item.value != null)
        .map((item) => (
          <p key={item.dataKey} className="flex items-center gap-2 tabular-nums">
            <span className="h-2 w-2 rounded-full" style={{ background: item.color }} aria-hidden="true" />
            <span className="text-slate-600 dark:text-slate-300">{item.name}</span>
            <span className="ml-auto font-semibold">
              {format(Array.isArray(item.value) ? item.value[1] : item.value)}
            </span>
          </p>
        ))}
    </div>
  );
}

export function ChartFrame({ title, caption, children, actions, ...data }) {
  return (
    <figure
      className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
      {...data}
    >
      <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
        <h2 className="font-medium">{title}</h2>
        {actions}
      </div>
      <div className="text-slate-500 dark:text-slate-400">{children}</div>
      {caption ? <figcaption className="mt-2 text-xs text-slate-500 dark:text-slate-400">{caption}</figcaption> : null}
    </figure>
  );
}
