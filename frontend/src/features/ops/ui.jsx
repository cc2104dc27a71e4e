// Small pieces the operations views share: buttons, fields and a modal dialog,
// in the dashboard's Tailwind style.
import { useEffect, useRef } from 'react';

export const BUTTON =
  'rounded-lg border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-100 disabled:opacity-50 dark:border-slate-700 dark:hover:bg-slate-800';
export const PRIMARY =
  'rounded-lg bg-slate-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-50 dark:bg-slate-100 dark:text-slate-900 dark:hover:bg-white';
export const DANGER =
  'rounded-lg bg-red-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-red-600 disabled:opacity-50';
export const INPUT =
  'w-full rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950';
export const CARD = 'rounded-xl border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900';

/** The API's reason for `field` in an ApiError (400), or its message. */
export function fieldError(error, field) {
  if (!error) return null;
  const detail = error.details?.find((d) => d.field === field || d.field?.startsWith(`${field}.`) || d.field?.startsWith(`${field}[`));
  if (detail) return detail.reason;
  return null;
}

/** What to tell a person of an error that no field explains. */
export function errorText(error) {
  if (!error) return null;
  if (error.status === 401 || error.status === 403) return 'The admin token was refused: sign in again.';
  const details = error.details?.map((d) => `${d.field}: ${d.reason}`).join('; ');
  return details ? `${error.message} (${details})` : error.message;
}

export function FieldError({ id, children }) {
  if (!children) return null;
  return (
    <p id={id} role="alert" className="mt-1 text-sm text-red-700 dark:text-red-400">
      {children}
    </p>
  );
}

/** A modal dialog: focus goes to its first field, Escape closes it. */
export function Dialog({ title, onClose, children, labelId }) {
  const ref = useRef(null);
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    const first = ref.current?.querySelector('input, textarea, select, button');
    first?.focus();
    const onKey = (event) => {
      if (event.key === 'Escape') close.current();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-slate-900/60 p-4" role="presentation">
      <div
        ref={ref}
        role="dialog"
        aria-modal="true"
        aria-labelledby={labelId}
        className="max-h-full w-full max-w-md overflow-auto rounded-xl bg-white p-6 shadow-xl dark:bg-slate-900"
      >
        <h2 id={labelId} className="text-lg font-semibold">
          {title}
        </h2>
        {children}
      </div>
    </div>
  );
}
