// The page a share link opens (/share/<token>): the shared server's page live,
// or for a tag the list of its servers, each opening its page under the same
// link. Nothing else: no overview, no admin, no other server. A link that
// expires or is revoked while open says so (the relay drops its socket too).
import { Suspense, lazy, useEffect, useState } from 'react';
import { useFleet } from '../fleet/useFleet.jsx';
import { useLinkHandler } from '../../hooks/useRoute.js';
import { useNow } from '../../hooks/useNow.js';
import { onAuthEvent } from '../../services/auth.js';
import { serverHealth } from '../../utils/levels.js';
import { HealthBadge, Presence } from '../../components/StatusBits.jsx';
import { formatPercent } from '../../utils/formatters.js';
import { SilenceNote } from './Silence.jsx';

const ServerPage = lazy(() => import('../../components/ServerPage.jsx'));

function Ended() {
  return (
    <div role="alert" data-testid="share-ended" className="rounded-lg bg-amber-50 p-4 text-amber-900 dark:bg-amber-500/10 dark:text-amber-200">
      <p className="font-semibold">This share link no longer works.</p>
      <p className="mt-1 text-sm">It has expired or was revoked. Ask whoever gave it to you for a new one.</p>
    </div>
  );
}

function BackToList({ token }) {
  const link = useLinkHandler();
  return (
    <a href={`/share/${token}`} onClick={link} className="mb-2 inline-block text-sm text-sky-700 hover:underline dark:text-sky-400">
      ← Shared servers
    </a>
  );
}

function SharedList({ token, servers, alerts }) {
  const link = useLinkHandler();
  const now = useNow(5000);
  return (
    <section aria-labelledby="shared-title">
      <h1 id="shared-title" className="mb-3 text-xl font-semibold">
        Shared servers <span className="text-base font-normal text-slate-500">({servers.length})</span>
      </h1>
      <ul className="grid grid-cols-1 gap-4 sm:grid-cols-2 xl:grid-cols-3">
        {servers.map((server) => {
          const health = serverHealth(server, alerts, now);
          return (
            <li key={server.id}>
              <a
                href={`/share/${token}/${server.id}`}
                onClick={link}
                data-server-id={server.id}
                className="block rounded-xl border border-slate-200 bg-white p-4 shadow-sm hover:shadow-md dark:border-slate-800 dark:bg-slate-900"
              >
                <div className="flex items-start justify-between gap-2">
                  <h2 className="truncate font-semibold">{server.name || server.hostname}</h2>
                  <HealthBadge health={health} />
                </div>
                <p className="mt-1 text-xs text-slate-600 dark:text-slate-300">
                  <Presence server={server} now={now} />
                </p>
                <p className="mt-2 text-sm tabular-nums">
                  CPU {formatPercent(server.latest?.cpu_percent)} · RAM {formatPercent(server.latest?.ram_percent)} · Disk{' '}
                  {formatPercent(server.latest?.disk_percent)}
                </p>
                <div className="mt-2">
                  <SilenceNote silence={server.silence} now={now} compact />
                </div>
              </a>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export default function SharedView({ route }) {
  const { servers, error, activeAlerts } = useFleet();
  const [ended, setEnded] = useState(false);
  useEffect(
    () =>
      onAuthEvent(({ kind }) => {
        if (kind === 'missing' || kind === 'refused') setEnded(true);
      }),
    [],
  );
  const refused = error && (error.status === 401 || error.status === 403);
  if (ended || refused) return <Ended />;
  if (servers === null) {
    return error ? (
      <p role="alert" className="text-red-700 dark:text-red-400">
        This shared view could not be loaded: {error.message}
      </p>
    ) : (
      <p className="text-slate-500" aria-busy="true">
        Loading…
      </p>
    );
  }
  const id = route.id ?? (servers.length === 1 ? servers[0].id : null);
  if (id != null && servers.some((s) => s.id === id)) {
    return (
      <Suspense fallback={<p className="text-slate-500">Loading…</p>}>
        {servers.length > 1 ? <BackToList token={route.token} /> : null}
        <ServerPage key={id} serverId={id} />
      </Suspense>
    );
  }
  if (servers.length === 0) return <p className="text-slate-500">Nothing is shared by this link any more.</p>;
  return <SharedList token={route.token} servers={servers} alerts={activeAlerts} />;
}
