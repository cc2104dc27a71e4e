// The header's admin corner: "Sign in as admin" asks for the admin token
// (VIGIE_ADMIN_TOKEN), checks it with the API and keeps it for this browser
// session; signed in, it links to the share links and signs out.
import { useState } from 'react';
import { useLinkHandler } from '../../hooks/useRoute.js';
import { useAdmin } from './useAdmin.js';
import { BUTTON, Dialog, FieldError, INPUT, PRIMARY } from './ui.jsx';

function SignInDialog({ onClose, signIn }) {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    if (!value.trim()) {
      setProblem('Enter the admin token.');
      return;
    }
    setBusy(true);
    try {
      if (await signIn(value)) onClose();
      else setProblem('This is not the admin token (or the server has none set).');
    } catch (error) {
      setProblem(`The token could not be checked: ${error.message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title="Sign in as admin" labelId="admin-title" onClose={onClose}>
      <form onSubmit={submit}>
        <p className="mt-2 text-sm text-slate-600 dark:text-slate-300">
          The admin token (<code className="font-mono">VIGIE_ADMIN_TOKEN</code>) lets this browser rename, tag and remove
          servers, change their alert rules, silence them and share them. It is kept until the browser is closed.
        </p>
        <label className="mt-4 block text-sm">
          <span className="text-slate-600 dark:text-slate-300">Admin token</span>
          <input
            type="password"
            autoComplete="current-password"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            aria-describedby={problem ? 'admin-problem' : undefined}
            className={`mt-1 ${INPUT}`}
          />
        </label>
        <FieldError id="admin-problem">{problem}</FieldError>
        <div className="mt-4 flex justify-end gap-2">
          <button type="button" onClick={onClose} className={BUTTON}>
            Cancel
          </button>
          <button type="submit" disabled={busy} className={PRIMARY}>
            Sign in
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export default function AdminSignIn() {
  const { signedIn, refused, signIn, signOut } = useAdmin();
  const [open, setOpen] = useState(false);
  const link = useLinkHandler();
  if (signedIn) {
    return (
      <div className="flex items-center gap-2 text-sm" data-testid="admin-session">
        <span className="hidden rounded bg-amber-100 px-2 py-0.5 text-xs font-semibold text-amber-900 sm:inline dark:bg-amber-500/20 dark:text-amber-200">
          Admin
        </span>
        <a href="/shares" onClick={link} className="text-sky-700 hover:underline dark:text-sky-400">
          Share links
        </a>
        <button type="button" onClick={signOut} className={BUTTON}>
          Sign out
        </button>
      </div>
    );
  }
  return (
    <>
      {refused ? (
        <span role="status" className="text-xs text-red-700 dark:text-red-400">
          Admin token refused
        </span>
      ) : null}
      <button type="button" onClick={() => setOpen(true)} className={BUTTON}>
        Sign in as admin
      </button>
      {open ? <SignInDialog onClose={() => setOpen(false)} signIn={signIn} /> : null}
    </>
  );
}
