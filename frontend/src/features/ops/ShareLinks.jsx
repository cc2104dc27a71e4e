// Share links: a read-only, live view of one server (or of the servers with a
// tag) for whoever has the link, until it expires or is revoked. The link's
// secret is shown once, when it is created.
import { useCallback, useEffect, useState } from 'react';
import { useFleet } from '../fleet/useFleet.jsx';
import { useLinkHandler } from '../../hooks/useRoute.js';
import { createShare, listShares, revokeShare } from '../../services/api.js';
import { formatFull, formatMoment } from '../../utils/formatters.js';
import { fromLocalInput, parseDuration } from './duration.js';
import { fleetTags } from './tags.js';
import { useAdmin } from './useAdmin.js';
import { BUTTON, CARD, FieldError, INPUT, PRIMARY, errorText, fieldError } from './ui.jsx';

export const EXPIRY_PRESETS = ['1h', '1d', '7d', '30d'];

/** Copies `text`; says so, or says to copy it by hand where the browser refuses. */
function CopyButton({ text }) {
  const [state, setState] = useState(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('refused');
    }
  };
  return (
    <span className="inline-flex items-center gap-2">
      <button type="button" onClick={copy} className={BUTTON}>
        Copy
      </button>
      {state === 'copied' ? <span role="status" className="text-xs text-emerald-700 dark:text-emerald-400">Copied</span> : null}
      {state === 'refused' ? <span role="status" className="text-xs text-slate-500">Select the link and copy it</span> : null}
    </span>
  );
}

/** The link just created: its URL, once. */
export function CreatedShare({ share }) {
  return (
    <div className="mt-3 rounded-lg bg-emerald-50 p-3 text-sm dark:bg-emerald-500/10" data-testid="created-share">
      <p className="text-emerald-900 dark:text-emerald-200">
        Link created, valid until {formatFull(share.expires_at)}. It is shown only now: copy it.
      </p>
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <input readOnly value={share.url} aria-label="Share link" onFocus={(e) => e.target.select()} className={`${INPUT} font-mono`} />
        <CopyButton text={share.url} />
      </div>
    </div>
  );
}

/** Creates a link to `target` ({ server_id } or { tag }); `what` names it. */
export function ShareForm({ target, what, onCreated }) {
  const [mode, setMode] = useState('in');
  const [expiresIn, setExpiresIn] = useState('7d');
  const [expiresAt, setExpiresAt] = useState('');
  const [label, setLabel] = useState('');
  const [problems, setProblems] = useState({});
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const found = {};
    if (!target) found.target = 'choose a server or a tag';
    if (mode === 'in' && parseDuration(expiresIn) == null) found.expires_in = 'a duration such as 1h, 1d or 7d';
    const at = fromLocalInput(expiresAt);
    if (mode === 'at' && !at) found.expires_at = 'pick a date and time';
    else if (mode === 'at' && at.getTime() <= Date.now()) found.expires_at = 'this time is already past';
    if (label.length > 100) found.label = 'at most 100 characters';
    setProblems(found);
    setError(null);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      const share = await createShare({
        ...target,
        ...(mode === 'in' ? { expires_in: expiresIn.trim() } : { expires_at: at.toISOString() }),
        ...(label.trim() ? { label: label.trim() } : {}),
      });
      setCreated(share);
      setLabel('');
      onCreated?.(share);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const problem = (field) => problems[field] ?? fieldError(error, field);
  const known = ['expires_in', 'expires_at', 'label', 'server_id', 'tag'];
  const other = error && !known.some((f) => fieldError(error, f));
  return (
    <div>
      <form onSubmit={submit} aria-label={`Share ${what ?? ''}`.trim()} className="space-y-3">
        <FieldError>{problems.target ?? fieldError(error, 'server_id') ?? fieldError(error, 'tag')}</FieldError>
        <div className="grid gap-3 sm:grid-cols-2">
          <fieldset className="text-sm">
            <legend className="text-slate-600 dark:text-slate-300">Expires</legend>
            <div className="mt-1 flex gap-2">
              <select aria-label="Expiry kind" value={mode} onChange={(e) => setMode(e.target.value)} className={INPUT}>
                <option value="in">in</option>
                <option value="at">at</option>
              </select>
              {mode === 'in' ? (
                <input aria-label="Expires in" list="share-presets" value={expiresIn} onChange={(e) => setExpiresIn(e.target.value)} className={INPUT} />
              ) : (
                <input aria-label="Expires at" type="datetime-local" value={expiresAt} onChange={(e) => setExpiresAt(e.target.value)} className={INPUT} />
              )}
              <datalist id="share-presets">
                {EXPIRY_PRESETS.map((p) => (
                  <option key={p} value={p} />
                ))}
              </datalist>
            </div>
            <FieldError>{mode === 'in' ? problem('expires_in') : problem('expires_at')}</FieldError>
          </fieldset>
          <div className="block text-sm">
            <label className="block">
              <span className="text-slate-600 dark:text-slate-300">Label (optional)</span>
              <input value={label} maxLength={100} onChange={(e) => setLabel(e.target.value)} placeholder="For the hosting provider" className={`mt-1 ${INPUT}`} />
            </label>
            <FieldError>{problem('label')}</FieldError>
          </div>
        </div>
        {other ? <FieldError>{errorText(error)}</FieldError> : null}
        <button type="submit" disabled={busy} className={PRIMARY}>
          Create a share link
        </button>
      </form>
      {created ? <CreatedShare share={created} /> : null}
    </div>
  );
}

function targetText(share, servers) {
  if (share.tag) return `servers tagged ${share.tag}`;
  const server = servers?.find((s) => s.id === share.server_id);
  return server ? server.name || server.hostname : `server ${share.server_id}`;
}

/** The admin's page of share links: create, list, revoke. */
export default function SharesPage() {
  const { signedIn } = useAdmin();
  const { servers } = useFleet();
  const link = useLinkHandler();
  const [shares, setShares] = useState(null);
  const [error, setError] = useState(null);
  const [kind, setKind] = useState('server');
  const [serverId, setServerId] = useState('');
  const [tag, setTag] = useState('');
  const load = useCallback(async (signal) => {
    try {
      setShares(await listShares({ signal }));
      setError(null);
    } catch (e) {
      if (e.name !== 'AbortError') setError(e);
    }
  }, []);
  useEffect(() => {
    if (!signedIn) return undefined;
    const controller = new AbortController();
    load(controller.signal);
    return () => controller.abort();
  }, [signedIn, load]);

  if (!signedIn) {
    return <p className="text-slate-600 dark:text-slate-300">Share links are managed by an admin: sign in as admin first.</p>;
  }
  const revoke = async (id) => {
    try {
      await revokeShare(id);
      setShares((list) => list.filter((s) => s.id !== id));
    } catch (e) {
      setError(e);
    }
  };
  const tags = fleetTags(servers ?? []);
  const target = kind === 'server' ? (serverId ? { server_id: Number(serverId) } : null) : tag ? { tag } : null;
  const now = Date.now();
  return (
    <section aria-labelledby="shares-title" className="space-y-4">
      <a href="/" onClick={link} className="text-sm text-sky-700 hover:underline dark:text-sky-400">
        ← All servers
      </a>
      <h1 id="shares-title" className="text-xl font-semibold">
        Share links
      </h1>
      <p className="text-sm text-slate-600 dark:text-slate-300">
        Whoever has a link sees that server (or the servers with that tag) live, read-only, and nothing else, until the
        link expires or is revoked.
      </p>
      <div className={CARD}>
        <h2 className="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400">New link</h2>
        <div className="mb-3 grid gap-3 sm:grid-cols-2">
          <label className="block text-sm">
            <span className="text-slate-600 dark:text-slate-300">Share</span>
            <select value={kind} onChange={(e) => setKind(e.target.value)} className={`mt-1 ${INPUT}`}>
              <option value="server">one server</option>
              <option value="tag">the servers with a tag</option>
            </select>
          </label>
          {kind === 'server' ? (
            <label className="block text-sm">
              <span className="text-slate-600 dark:text-slate-300">Server</span>
              <select value={serverId} onChange={(e) => setServerId(e.target.value)} className={`mt-1 ${INPUT}`}>
                <option value="">Choose…</option>
                {(servers ?? []).map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name || s.hostname}
                  </option>
                ))}
              </select>
            </label>
          ) : (
            <label className="block text-sm">
              <span className="text-slate-600 dark:text-slate-300">Tag</span>
              <select value={tag} onChange={(e) => setTag(e.target.value)} className={`mt-1 ${INPUT}`}>
                <option value="">Choose…</option>
                {tags.map(({ tag: t, count }) => (
                  <option key={t} value={t}>
                    {t} ({count})
                  </option>
                ))}
              </select>
            </label>
          )}
        </div>
        <ShareForm target={target} onCreated={() => load()} />
      </div>
      {error ? <FieldError>{errorText(error)}</FieldError> : null}
      {shares === null ? (
        <p className="text-slate-500">Loading the links…</p>
      ) : shares.length === 0 ? (
        <p className="text-slate-500">No share links.</p>
      ) : (
        <ul className="divide-y divide-slate-200 rounded-xl border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900" aria-label="Share links">
          {shares.map((share) => (
            <li key={share.id} data-share-id={share.id} className="flex flex-wrap items-center justify-between gap-2 px-4 py-3 text-sm">
              <span>
                <span className="font-medium">{targetText(share, servers)}</span>
                {share.label ? <span className="text-slate-500"> · {share.label}</span> : null}
                <span className="block text-xs text-slate-500 dark:text-slate-400">
                  created {formatMoment(share.created_at, now)} · expires{' '}
                  <time dateTime={share.expires_at} title={formatFull(share.expires_at)}>
                    {formatMoment(share.expires_at, now)}
                  </time>
                </span>
              </span>
              <button type="button" onClick={() => revoke(share.id)} className={BUTTON} aria-label={`Revoke the link to ${targetText(share, servers)}`}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
