// When a server is removed (here or in another browser), its page closes: back
// to the overview, saying which server went and that its data went with it.
import { useEffect, useRef } from 'react';
import { useFleet } from '../fleet/useFleet.jsx';
import { navigate, useRoute } from '../../hooks/useRoute.js';
import { useLatestRemoval } from './removals.js';

export default function RemovedNotice() {
  const [removal, setRemoval] = useLatestRemoval();
  const route = useRoute();
  const { servers } = useFleet();
  // Names are read before the list drops the server.
  const names = useRef(new Map());
  for (const s of servers ?? []) names.current.set(s.id, s.name || s.hostname);
  const page = useRef(route);
  page.current = route;

  useEffect(() => {
    if (!removal) return;
    const current = page.current;
    if (current.page === 'server' && current.id === removal.server_id) navigate('/');
  }, [removal]);

  if (!removal) return null;
  const name = removal.name ?? names.current.get(removal.server_id) ?? `Server ${removal.server_id}`;
  return (
    <div role="status" data-testid="removed-notice" className="mx-auto mt-3 w-full max-w-7xl px-4">
      <p className="flex items-center justify-between gap-3 rounded-lg bg-slate-100 px-4 py-2 text-sm text-slate-800 dark:bg-slate-800 dark:text-slate-100">
        <span>
          <span className="font-semibold">{name}</span> was removed, with its samples, history and alerts.
        </span>
        <button type="button" onClick={() => setRemoval(null)} className="text-slate-500 hover:text-slate-900 dark:hover:text-white" aria-label="Dismiss">
          ×
        </button>
      </p>
    </div>
  );
}
