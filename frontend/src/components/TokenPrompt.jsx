// When the server requires the dashboard token: asked for once, remembered,
// and asked for again (saying so) when the server refuses it.
import { useEffect, useRef, useState } from 'react';
import { onAuthEvent, setToken } from '../services/auth.js';

export default function TokenPrompt({ onSaved = () => window.location.reload() }) {
  const [problem, setProblem] = useState(null);
  const [value, setValue] = useState('');
  const input = useRef(null);

  useEffect(
    () =>
      onAuthEvent((event) => {
        if (event.kind === 'missing' || event.kind === 'refused') setProblem(event.kind);
      }),
    [],
  );
  useEffect(() => {
    if (problem) input.current?.focus();
  }, [problem]);

  if (!problem) return null;
  const submit = (event) => {
    event.preventDefault();
    if (!value.trim()) return;
    setToken(value.trim());
    // Every view reloads with the token: the simplest way to be sure none is
    // left showing the refusal.
    onSaved();
  };
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-slate-900/60 p-4" role="presentation">
      <form
        role="dialog"
        aria-modal="true"
        aria-labelledby="token-title"
        onSubmit={submit}
        className="w-full max-w-md rounded-xl bg-white p-6 shadow-xl dark:bg-slate-900"
      >
        <h2 id="token-title" className="text-lg font-semibold">
          Dashboard token
        </h2>
        {problem === 'refused' ? (
          <p role="alert" className="mt-2 text-sm text-red-700 dark:text-red-400">
            The server refused the token this browser had. Enter the current one.
          </p>
        ) : (
          <p className="mt-2 text-sm text-slate-600 dark:text-slate-300">
            This Vigie is protected: enter its dashboard token (<code className="font-mono">VIGIE_DASHBOARD_TOKEN</code>). This
            browser remembers it.
          </p>
        )}
        <label className="mt-4 block text-sm">
          <span className="text-slate-600 dark:text-slate-300">Token</span>
          <input
            ref={input}
            type="password"
            autoComplete="current-password"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            className="mt-1 w-full rounded-lg border border-slate-300 bg-white px-3 py-2 dark:border-slate-700 dark:bg-slate-950"
          />
        </label>
        <div className="mt-4 flex justify-end">
          <button type="submit" className="rounded-lg bg-slate-900 px-4 py-2 text-sm font-medium text-white dark:bg-slate-100 dark:text-slate-900">
            Open the dashboard
          </button>
        </div>
      </form>
    </div>
  );
}
