// System, light or dark.
import { THEMES } from '../hooks/useTheme.js';

const LABELS = { system: 'Auto', light: 'Light', dark: 'Dark' };

export default function ThemeSwitch({ theme, setTheme }) {
  return (
    <div role="group" aria-label="Theme" className="inline-flex rounded-full border border-slate-300 p-0.5 text-xs dark:border-slate-700">
      {THEMES.map((name) => (
        <button
          key={name}
          type="button"
          aria-pressed={theme === name}
          onClick={() => setTheme(name)}
          title={name === 'system' ? 'Follow the system setting' : `${LABELS[name]} theme`}
          className={`rounded-full px-2 py-0.5 font-medium ${
            theme === name
              ? 'bg-slate-900 text-white dark:bg-slate-100 dark:text-slate-900'
              : 'text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800'
          }`}
        >
          {LABELS[name]}
        </button>
      ))}
    </div>
  );
}
