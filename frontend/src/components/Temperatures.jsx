// The host's temperature sensors, hottest first.
import { formatCelsius, temperatureLevel } from '../utils/host.js';
import { LEVEL_TEXT } from '../utils/levels.js';

export default function Temperatures({ temperatures, stale }) {
  if (!temperatures?.length) return null;
  const sorted = [...temperatures].sort((a, b) => b.celsius - a.celsius || a.sensor.localeCompare(b.sensor));
  return (
    <section aria-labelledby="temperatures-title" className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="temperatures">
      <h2 id="temperatures-title" className="mb-3 font-medium">
        Temperatures
      </h2>
      <ul className="grid grid-cols-1 gap-x-6 gap-y-1 text-sm sm:grid-cols-2">
        {sorted.map((t) => {
          const level = stale ? 'stale' : temperatureLevel(t.celsius);
          return (
            <li key={t.sensor} className="flex justify-between gap-3" data-level={level}>
              <span className="truncate text-slate-600 dark:text-slate-300" title={t.sensor}>
                {t.sensor}
              </span>
              <span className={`tabular-nums font-semibold ${LEVEL_TEXT[level]}`}>{formatCelsius(t.celsius)}</span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
