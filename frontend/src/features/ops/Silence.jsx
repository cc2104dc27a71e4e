// Silences: notifications of a server (or of every server with a tag) held for
// a while, with a reason. Alerts are still recorded and shown meanwhile.
import { useState } from 'react';
import { createSilence, endSilence } from '../../services/api.js';
import { formatFull, formatMoment } from '../../utils/formatters.js';
import { fromLocalInput, parseDuration } from './duration.js';
import { BUTTON, FieldError, INPUT, PRIMARY, errorText, fieldError } from './ui.jsx';

export const SILENCE_PRESETS = ['30m', '1h', '2h', '8h', '1d', '7d'];

/** "Silenced until 14:00 · maintenance" for a card or a page; null without one. */
export function SilenceNote({ silence, now = Date.now(), compact = false, children }) {
  if (!silence) return null;
  const until = formatMoment(silence.ends_at, now);
  return (
    <div
      data-testid="silence-note"
      className={
        compact
          ? 'text-xs text-violet-800 dark:text-violet-300'
          : 'flex flex-wrap items-center justify-between gap-2 rounded-lg bg-violet-50 px-3 py-2 text-sm text-violet-900 dark:bg-violet-500/10 dark:text-violet-200'
      }
    >
      <span>
        <span className="font-semibold">Silenced</span> until{' '}
        <time dateTime={silence.ends_at} title={formatFull(silence.ends_at)}>
          {until}
        </time>
        {silence.tag ? ` (tag ${silence.tag})` : ''}
        {silence.reason ? ` · ${silence.reason}` : ''}
        {compact ? null : <span className="text-violet-700 dark:text-violet-300"> — alerts show, notifications wait</span>}
      </span>
      {children}
    </div>
  );
}

/** The admin's "end it now" next to a silence. */
export function EndSilence({ silence, onEnded }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const end = async () => {
    setBusy(true);
    setError(null);
    try {
      await endSilence(silence.id);
      onEnded?.();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="flex items-center gap-2">
      <button type="button" onClick={end} disabled={busy} className={BUTTON}>
        End silence
      </button>
      {error ? <span role="alert" className="text-red-700 dark:text-red-400">{errorText(error)}</span> : null}
    </span>
  );
}

/** The form that silences `server` (or one of its tags). */
export function SilenceForm({ server, onSilenced }) {
  const [target, setTarget] = useState('server');
  const [mode, setMode] = useState('duration');
  const [duration, setDuration] = useState('2h');
  const [until, setUntil] = useState('');
  const [reason, setReason] = useState('');
  const [problems, setProblems] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const tags = server.tags ?? [];

  const submit = async (event) => {
    event.preventDefault();
    const found = {};
    if (mode === 'duration' && parseDuration(duration) == null) found.duration = 'a duration such as 90s, 15m, 2h or 7d';
    const end = fromLocalInput(until);
    if (mode === 'until' && !end) found.until = 'pick a date and time';
    else if (mode === 'until' && end.getTime() <= Date.now()) found.until = 'this time is already past';
    if (!reason.trim()) found.reason = 'say why (1 to 500 characters)';
    else if (reason.trim().length > 500) found.reason = 'at most 500 characters';
    setProblems(found);
    setError(null);
    if (Object.keys(found).length) return;
    const body = {
      ...(target === 'server' ? { server_id: server.id } : { tag: target.slice(4) }),
      ...(mode === 'duration' ? { duration: duration.trim() } : { until: end.toISOString() }),
      reason: reason.trim(),
    };
    setBusy(true);
    try {
      const silence = await createSilence(body);
      setReason('');
      onSilenced?.(silence);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const problem = (field) => problems[field] ?? fieldError(error, field);
  const other = error && !['duration', 'until', 'reason', 'server_id', 'tag'].some((f) => fieldError(error, f));

  return (
    <form onSubmit={submit} aria-label="Silence notifications" className="space-y-3">
      <div className="grid gap-3 sm:grid-cols-2">
        <div className="block text-sm">
          <label className="block">
            <span className="text-slate-600 dark:text-slate-300">Silence</span>
            <select value={target} onChange={(e) => setTarget(e.target.value)} className={`mt-1 ${INPUT}`}>
              <option value="server">this server</option>
              {tags.map((tag) => (
                <option key={tag} value={`tag:${tag}`}>
                  every server tagged {tag}
                </option>
              ))}
            </select>
          </label>
          <FieldError>{fieldError(error, 'server_id') ?? fieldError(error, 'tag')}</FieldError>
        </div>
        <fieldset className="text-sm">
          <legend className="text-slate-600 dark:text-slate-300">For</legend>
          <div className="mt-1 flex gap-2">
            <select aria-label="Period or end time" value={mode} onChange={(e) => setMode(e.target.value)} className={INPUT}>
              <option value="duration">a period</option>
              <option value="until">until a time</option>
            </select>
            {mode === 'duration' ? (
              <input
                aria-label="Period"
                list="silence-presets"
                value={duration}
                onChange={(e) => setDuration(e.target.value)}
                aria-invalid={Boolean(problem('duration'))}
                className={INPUT}
              />
            ) : (
              <input
                aria-label="Until"
                type="datetime-local"
                value={until}
                onChange={(e) => setUntil(e.target.value)}
                aria-invalid={Boolean(problem('until'))}
                className={INPUT}
              />
            )}
            <datalist id="silence-presets">
              {SILENCE_PRESETS.map((p) => (
                <option key={p} value={p} />
              ))}
            </datalist>
          </div>
          <FieldError>{mode === 'duration' ? problem('duration') : problem('until')}</FieldError>
        </fieldset>
      </div>
      <div className="block text-sm">
        <label className="block">
          <span className="text-slate-600 dark:text-slate-300">Reason</span>
          <input
            value={reason}
            maxLength={500}
            onChange={(e) => setReason(e.target.value)}
            placeholder="Kernel upgrade, planned reboot…"
            aria-invalid={Boolean(problem('reason'))}
            className={`mt-1 ${INPUT}`}
          />
        </label>
        <FieldError>{problem('reason')}</FieldError>
      </div>
      {other ? <FieldError>{errorText(error)}</FieldError> : null}
      <button type="submit" disabled={busy} className={PRIMARY}>
        Silence
      </button>
    </form>
  );
}
