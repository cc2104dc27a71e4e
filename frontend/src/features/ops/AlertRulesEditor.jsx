// A server's alert rules: each value in force, and whether it is the default
// (VIGIE_ALERT_*) or this server's own; edited rule by rule, or reset to the
// defaults. PUT replaces all of the server's overrides, so each save sends the
// others unchanged.
import { useEffect, useState } from 'react';
import { getAlertRules, putAlertRules } from '../../services/api.js';
import { BUTTON, FieldError, INPUT, PRIMARY, errorText, fieldError } from './ui.jsx';

export const METRIC_RULES = [
  ['cpu', 'CPU'],
  ['ram', 'Memory'],
  ['disk', 'Disk'],
];
const FIELDS = [
  ['threshold', 'Threshold (%)', { min: 1, max: 100, step: 'any' }],
  ['for_samples', 'For samples', { min: 1, max: 1000, step: 1 }],
  ['clear_margin', 'Clear margin (points)', { min: 0, max: 99.99, step: 'any' }],
];

function Origin({ own }) {
  return own ? (
    <span className="rounded bg-amber-100 px-1.5 py-0.5 text-xs text-amber-900 dark:bg-amber-500/20 dark:text-amber-200">
      this server
    </span>
  ) : (
    <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600 dark:bg-slate-800 dark:text-slate-300">default</span>
  );
}

/** The override PUT takes for `type` after an edit: the fields changed from what
 * is in force, and those the server already set. */
export function overrideFrom(rule, own = {}, edited) {
  const out = {};
  for (const [field] of FIELDS) {
    const value = Number(edited[field]);
    if (field in own || value !== rule[field]) out[field] = value;
  }
  out.enabled = Boolean(edited.enabled);
  return out;
}

function RuleRow({ type, label, rule, own, canEdit, onSave, onReset, error, busy }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(null);
  const start = () => {
    setDraft({ threshold: rule.threshold, for_samples: rule.for_samples, clear_margin: rule.clear_margin, enabled: rule.enabled });
    setEditing(true);
  };
  const save = async (event) => {
    event.preventDefault();
    if (await onSave(type, overrideFrom(rule, own, draft))) setEditing(false);
  };
  const overridden = own !== undefined;
  return (
    <tr data-rule={type} className="border-t border-slate-200 align-top dark:border-slate-800">
      <th scope="row" className="py-2 pr-3 text-left font-medium">
        {label}
      </th>
      {editing ? (
        <td colSpan={4} className="py-2">
          <form onSubmit={save} aria-label={`${label} rule`} className="grid gap-2 sm:grid-cols-4">
            {FIELDS.map(([field, text, limits]) => (
              <div key={field} className="block text-xs">
                <label className="block">
                  <span className="text-slate-600 dark:text-slate-300">{text}</span>
                  <input
                    type="number"
                    {...limits}
                    required
                    value={draft[field]}
                    onChange={(e) => setDraft({ ...draft, [field]: e.target.value })}
                    aria-invalid={Boolean(fieldError(error, `${type}.${field}`))}
                    className={`mt-1 ${INPUT}`}
                  />
                </label>
                <FieldError>{fieldError(error, `${type}.${field}`)}</FieldError>
              </div>
            ))}
            <label className="flex items-center gap-2 self-end pb-2 text-xs">
              <input type="checkbox" checked={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.target.checked })} />
              Enabled
            </label>
            <div className="flex gap-2 sm:col-span-4">
              <button type="submit" disabled={busy} className={PRIMARY}>
                Save {label} rule
              </button>
              <button type="button" onClick={() => setEditing(false)} className={BUTTON}>
                Cancel
              </button>
            </div>
          </form>
        </td>
      ) : (
        <>
          {FIELDS.map(([field]) => (
            <td key={field} className="py-2 pr-3 tabular-nums" data-field={field}>
              <span className="mr-1.5">{rule[field]}</span>
              <Origin own={own?.[field] !== undefined} />
            </td>
          ))}
          <td className="py-2">
            <span className="mr-1.5">{rule.enabled ? 'on' : 'off'}</span>
            <Origin own={overridden} />
            {canEdit ? (
              <span className="ml-2 inline-flex gap-1">
                <button type="button" onClick={start} className={BUTTON} aria-label={`Edit the ${label} rule`}>
                  Edit
                </button>
                {overridden ? (
                  <button type="button" onClick={() => onReset(type)} disabled={busy} className={BUTTON} aria-label={`Reset the ${label} rule to the defaults`}>
                    Reset
                  </button>
                ) : null}
              </span>
            ) : null}
          </td>
        </>
      )}
    </tr>
  );
}

export default function AlertRulesEditor({ serverId, canEdit }) {
  const [rules, setRules] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    getAlertRules(serverId, { signal: controller.signal })
      .then(setRules)
      .catch((e) => {
        if (e.name !== 'AbortError') setLoadError(e);
      });
    return () => controller.abort();
  }, [serverId]);

  const put = async (overrides) => {
    setBusy(true);
    setError(null);
    try {
      setRules(await putAlertRules(serverId, overrides));
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const onSave = (type, override) => put({ ...rules.overrides, [type]: override });
  const onReset = (type) => {
    const { [type]: _dropped, ...rest } = rules.overrides;
    return put(rest);
  };

  if (loadError) return <p role="alert" className="text-sm text-red-700 dark:text-red-400">The alert rules could not be loaded: {loadError.message}</p>;
  if (!rules) return <p className="text-sm text-slate-500">Loading the alert rules…</p>;
  const unexplained = error && !(error.details ?? []).some((d) => /^(cpu|ram|disk|offline)\./.test(d.field));
  return (
    <div data-testid="alert-rules">
      <div className="overflow-x-auto">
        <table className="w-full text-sm">
          <thead>
            <tr className="text-left text-xs text-slate-500 dark:text-slate-400">
              <th className="py-1 pr-3 font-medium">Rule</th>
              <th className="py-1 pr-3 font-medium">Threshold (%)</th>
              <th className="py-1 pr-3 font-medium">For samples</th>
              <th className="py-1 pr-3 font-medium">Clear margin</th>
              <th className="py-1 font-medium">Enabled</th>
            </tr>
          </thead>
          <tbody>
            {METRIC_RULES.map(([type, label]) => (
              <RuleRow
                key={type}
                type={type}
                label={label}
                rule={rules[type]}
                own={rules.overrides?.[type]}
                canEdit={canEdit}
                onSave={onSave}
                onReset={onReset}
                error={error}
                busy={busy}
              />
            ))}
            <tr data-rule="offline" className="border-t border-slate-200 dark:border-slate-800">
              <th scope="row" className="py-2 pr-3 text-left font-medium">
                Offline
              </th>
              <td colSpan={3} className="py-2 text-xs text-slate-500 dark:text-slate-400">
                fires when the server stops reporting
              </td>
              <td className="py-2">
                <span className="mr-1.5">{rules.offline.enabled ? 'on' : 'off'}</span>
                <Origin own={rules.overrides?.offline !== undefined} />
                {canEdit ? (
                  <span className="ml-2 inline-flex gap-1">
                    <button
                      type="button"
                      disabled={busy}
                      onClick={() => put({ ...rules.overrides, offline: { enabled: !rules.offline.enabled } })}
                      className={BUTTON}
                    >
                      {rules.offline.enabled ? 'Turn off' : 'Turn on'}
                    </button>
                    {rules.overrides?.offline !== undefined ? (
                      <button type="button" disabled={busy} onClick={() => onReset('offline')} className={BUTTON} aria-label="Reset the Offline rule to the defaults">
                        Reset
                      </button>
                    ) : null}
                  </span>
                ) : null}
              </td>
            </tr>
          </tbody>
        </table>
      </div>
      {unexplained ? <FieldError>{errorText(error)}</FieldError> : null}
      <p className="mt-2 text-xs text-slate-500 dark:text-slate-400">
        An alert fires after “for samples” samples at or over the threshold, and resolves on the first sample below the
        threshold minus the clear margin.
      </p>
    </div>
  );
}
