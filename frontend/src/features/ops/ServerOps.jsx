// What the server page adds for operating the server: its silence for everyone;
// for a signed-in admin, renaming, tags, silencing, alert rules, sharing and
// removal.
import { useState } from 'react';
import { useFleet } from '../fleet/useFleet.jsx';
import { removeServer, updateServer } from '../../services/api.js';
import AlertRulesEditor from './AlertRulesEditor.jsx';
import { ShareForm } from './ShareLinks.jsx';
import { EndSilence, SilenceForm, SilenceNote } from './Silence.jsx';
import { announceRemoved } from './removals.js';
import { MAX_TAGS, tagProblem } from './tags.js';
import { useAdmin } from './useAdmin.js';
import { BUTTON, CARD, DANGER, Dialog, FieldError, INPUT, PRIMARY, errorText, fieldError } from './ui.jsx';

function Section({ id, title, children }) {
  return (
    <section aria-labelledby={id} className={CARD}>
      <h3 id={id} className="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400">
        {title}
      </h3>
      {children}
    </section>
  );
}

function RenameForm({ server, onSaved }) {
  const [name, setName] = useState(server.name ?? '');
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const value = name.trim();
    setDone(false);
    if (!value) return setProblem('a name is 1 to 100 characters');
    if (value.length > 100) return setProblem('a name is at most 100 characters');
    setBusy(true);
    setProblem(null);
    try {
      onSaved(await updateServer(server.id, { name: value }));
      setDone(true);
    } catch (e) {
      setProblem(fieldError(e, 'name') ?? errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} className="flex flex-wrap items-start gap-2" aria-label="Rename">
      <div className="min-w-0 flex-1 text-sm">
        <label className="block">
          <span className="sr-only">Name</span>
          <input
            value={name}
            maxLength={100}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={Boolean(problem)}
            className={INPUT}
          />
        </label>
        <FieldError>{problem}</FieldError>
      </div>
      <button type="submit" disabled={busy} className={PRIMARY}>
        Rename
      </button>
      {done ? (
        <span role="status" className="self-center text-sm text-emerald-700 dark:text-emerald-400">
          Saved
        </span>
      ) : null}
    </form>
  );
}

function TagsForm({ server, onSaved }) {
  const tags = server.tags ?? [];
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const save = async (next) => {
    setBusy(true);
    setProblem(null);
    try {
      onSaved(await updateServer(server.id, { tags: next }));
      return true;
    } catch (e) {
      setProblem(fieldError(e, 'tags') ?? errorText(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const add = async (event) => {
    event.preventDefault();
    const tag = value.trim();
    const found = tagProblem(tag, tags);
    if (found) return setProblem(found);
    if (await save([...tags, tag])) setValue('');
  };
  return (
    <div>
      <ul className="mb-2 flex flex-wrap gap-1.5" aria-label="Tags">
        {tags.length === 0 ? <li className="text-sm text-slate-500">No tags yet.</li> : null}
        {tags.map((tag) => (
          <li key={tag} className="inline-flex items-center gap-1 rounded-full bg-sky-100 py-0.5 pl-2.5 pr-1 text-sm text-sky-900 dark:bg-sky-500/15 dark:text-sky-200">
            {tag}
            <button
              type="button"
              disabled={busy}
              onClick={() => save(tags.filter((t) => t !== tag))}
              aria-label={`Remove the tag ${tag}`}
              className="rounded-full px-1.5 hover:bg-sky-200 dark:hover:bg-sky-500/30"
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <form onSubmit={add} className="flex flex-wrap items-start gap-2" aria-label="Add a tag">
        <div className="min-w-0 flex-1 text-sm">
          <label className="block">
            <span className="sr-only">New tag</span>
            <input
              value={value}
              onChange={(e) => {
                setValue(e.target.value);
                setProblem(null);
              }}
              placeholder="web, prod, eu-west…"
              aria-invalid={Boolean(problem)}
              className={INPUT}
            />
          </label>
          <FieldError>{problem}</FieldError>
        </div>
        <button type="submit" disabled={busy || tags.length >= MAX_TAGS} className={BUTTON}>
          Add tag
        </button>
      </form>
      <p className="mt-1 text-xs text-slate-500 dark:text-slate-400">
        Lower case letters, digits, “.”, “_” and “-”, up to 32 characters; at most {MAX_TAGS} tags.
      </p>
    </div>
  );
}

function RemoveServer({ server }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const name = server.name || server.hostname;
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await removeServer(server.id);
      setOpen(false);
      announceRemoved(server.id, name);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" onClick={() => setOpen(true)} className={DANGER}>
        Remove this server…
      </button>
      {open ? (
        <Dialog title={`Remove ${name}?`} labelId="remove-title" onClose={() => setOpen(false)}>
          <p className="mt-2 text-sm text-slate-700 dark:text-slate-200">This deletes, at once and for good:</p>
          <ul className="mt-1 list-disc pl-5 text-sm text-slate-700 dark:text-slate-200">
            <li>the server {name} itself,</li>
            <li>all its samples and its history,</li>
            <li>its alerts, and its alert rules,</li>
            <li>its silences and its share links.</li>
          </ul>
          <p className="mt-2 text-sm text-slate-600 dark:text-slate-300">
            Its collector is refused from then on; it reports again only once registered again with the enrollment token
            (as a new server).
          </p>
          <FieldError>{errorText(error)}</FieldError>
          <div className="mt-4 flex justify-end gap-2">
            <button type="button" onClick={() => setOpen(false)} className={BUTTON}>
              Cancel
            </button>
            <button type="button" onClick={remove} disabled={busy} className={DANGER}>
              Remove {name}
            </button>
          </div>
        </Dialog>
      ) : null}
    </>
  );
}

/** The silence on the page (everyone), and the admin's panel when signed in.
 * `onChanged()` reloads the page's server. */
export default function ServerOps({ server, onChanged }) {
  const { signedIn } = useAdmin();
  const { reload: reloadFleet } = useFleet();
  const changed = () => {
    onChanged?.();
    reloadFleet?.();
  };
  // What a PATCH answered shows at once, until the page's server is loaded again.
  const [answer, setAnswer] = useState(null);
  const current = answer?.base === server ? { ...server, ...answer.server } : server;
  const saved = (next) => {
    setAnswer({ base: server, server: next });
    changed();
  };
  const name = current.name || current.hostname;

  return (
    <div className="space-y-3" data-testid="server-ops">
      {current.tags?.length ? (
        <p className="flex flex-wrap gap-1.5" aria-label="Tags of this server">
          {current.tags.map((tag) => (
            <span key={tag} className="rounded-full bg-sky-100 px-2.5 py-0.5 text-xs text-sky-900 dark:bg-sky-500/15 dark:text-sky-200">
              {tag}
            </span>
          ))}
        </p>
      ) : null}
      <SilenceNote silence={current.silence}>{signedIn && current.silence ? <EndSilence silence={current.silence} onEnded={changed} /> : null}</SilenceNote>
      {signedIn ? (
        <details className="group" data-testid="admin-panel">
          <summary className="cursor-pointer select-none text-sm font-medium text-sky-700 dark:text-sky-400">Manage {name}</summary>
          <div className="mt-3 grid gap-3 lg:grid-cols-2">
            <Section id="rename-title" title="Name">
              <RenameForm key={server.id} server={current} onSaved={saved} />
            </Section>
            <Section id="tags-title" title="Tags">
              <TagsForm server={current} onSaved={saved} />
            </Section>
            <Section id="silence-title" title="Silence notifications">
              <SilenceForm server={current} onSilenced={changed} />
            </Section>
            <Section id="share-title" title="Share this server">
              <ShareForm target={{ server_id: server.id }} what={name} />
            </Section>
            <div className="lg:col-span-2">
              <Section id="rules-title" title="Alert rules">
                <AlertRulesEditor serverId={server.id} canEdit />
              </Section>
            </div>
            <div className="lg:col-span-2">
              <RemoveServer server={current} />
            </div>
          </div>
        </details>
      ) : null}
    </div>
  );
}
