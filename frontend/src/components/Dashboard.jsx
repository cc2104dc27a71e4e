// The overview: every server, trouble first, live; as cards or as a table, and
// grouped by tag or not (/?group=tag, with or without ?tag=).
import { useDeferredValue, useMemo, useRef, useState } from 'react';
import FleetSummary from '../features/fleet/FleetSummary.jsx';
import FleetTable from '../features/fleet/FleetTable.jsx';
import { fleetSummary, filterItems } from '../features/fleet/overview.js';
import { useFleet } from '../features/fleet/useFleet.jsx';
import { useNow } from '../hooks/useNow.js';
import { useStoredState } from '../hooks/useStoredState.js';
import { sortByTrouble } from '../utils/levels.js';
import { groupByTag, groupOfSearch } from '../features/fleet/grouping.js';
import TagFilter, { overviewPath, tagOfSearch } from '../features/ops/TagFilter.jsx';
import { withTag } from '../features/ops/tags.js';
import { navigate, useSearch } from '../hooks/useRoute.js';
import EmptyState from './EmptyState.jsx';
import ServerList from './ServerList.jsx';

// The filter box appears once the list no longer fits at a glance.
export const FILTER_FROM = 6;
export const VIEW_KEY = 'vigie.overview.view';
const VIEWS = [
  ['cards', 'Cards'],
  ['table', 'Table'],
];

function ViewSwitch({ view, setView }) {
  return (
    <div role="group" aria-label="View" className="inline-flex rounded-lg border border-slate-300 p-0.5 dark:border-slate-700">
      {VIEWS.map(([key, label]) => (
        <button
          key={key}
          type="button"
          aria-pressed={view === key}
          onClick={() => setView(key)}
          className={`rounded-md px-3 py-1.5 text-sm focus-visible:outline-2 focus-visible:outline-sky-600 ${
            view === key
              ? 'bg-slate-900 text-white dark:bg-slate-100 dark:text-slate-900'
              : 'text-slate-600 hover:text-slate-900 dark:text-slate-300 dark:hover:text-white'
          }`}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

/** Grouping by tag, on and off: in the address, so a grouped view can be
 * bookmarked (with its tag filter, if any). */
function GroupSwitch({ tag, group }) {
  const on = group === 'tag';
  return (
    <button
      type="button"
      aria-pressed={on}
      onClick={() => navigate(overviewPath(tag, on ? '' : 'tag'))}
      className={`rounded-lg border px-3 py-2 text-sm focus-visible:outline-2 focus-visible:outline-sky-600 ${
        on
          ? 'border-slate-900 bg-slate-900 text-white dark:border-slate-100 dark:bg-slate-100 dark:text-slate-900'
          : 'border-slate-300 text-slate-600 hover:text-slate-900 dark:border-slate-700 dark:text-slate-300 dark:hover:text-white'
      }`}
    >
      Group by tag
    </button>
  );
}

export default function Dashboard() {
  const { servers, error, activeAlerts, sparks, wantTrends } = useFleet();
  const now = useNow(5000);
  const [filter, setFilter] = useState('');
  const [view, setView] = useStoredState(VIEW_KEY, 'cards', (v) => VIEWS.some(([key]) => key === v));
  const sorted = useMemo(() => sortByTrouble(servers ?? [], activeAlerts, now), [servers, activeAlerts, now]);
  const summary = useMemo(() => fleetSummary(sorted), [sorted]);
  // Typing stays instant: the list follows the box a frame later, and the text
  // searched in each server is kept until that server changes.
  const deferred = useDeferredValue(filter);
  const texts = useRef(new WeakMap());
  const search = useSearch();
  const tag = tagOfSearch(search);
  const group = groupOfSearch(search);
  const tagged = useMemo(() => withTag(sorted, tag), [sorted, tag]);
  const shown = useMemo(() => filterItems(tagged, deferred, texts.current), [tagged, deferred]);
  // The table groups after its own sort; the cards take the sections as they are.
  const sections = useMemo(() => (group && view !== 'table' ? groupByTag(shown) : null), [group, view, shown]);
  const hasTags = useMemo(() => (servers ?? []).some((s) => s.tags?.length), [servers]);

  if (servers === null) {
    return error ? (
      <p role="alert" className="rounded-lg bg-red-50 p-4 text-red-800 dark:bg-red-500/10 dark:text-red-300">
        The server list could not be loaded: {error.message}
      </p>
    ) : (
      <p className="text-slate-500" aria-busy="true">
        Loading servers…
      </p>
    );
  }
  if (servers.length === 0) return <EmptyState />;

  return (
    <section aria-labelledby="overview-title">
      <div className="mb-3 flex flex-wrap items-center justify-between gap-3">
        <h1 id="overview-title" className="text-xl font-semibold">
          Servers <span className="text-base font-normal text-slate-500 dark:text-slate-400">({servers.length})</span>
        </h1>
        <div className="flex w-full flex-wrap items-center gap-2 sm:w-auto">
          {servers.length >= FILTER_FROM ? (
            <label className="min-w-0 flex-1 sm:w-72 sm:flex-none">
              <span className="sr-only">Filter servers</span>
              <input
                type="search"
                value={filter}
                onChange={(e) => setFilter(e.target.value)}
                placeholder="Filter by name, host, IP or OS"
                className="w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm dark:border-slate-700 dark:bg-slate-900"
              />
            </label>
          ) : null}
          <TagFilter servers={servers} tag={tag} group={group} />
          {hasTags || group ? <GroupSwitch tag={tag} group={group} /> : null}
          <ViewSwitch view={view} setView={setView} />
        </div>
      </div>
      <FleetSummary summary={summary} />
      {error ? (
        <p role="status" className="mb-3 text-sm text-amber-700 dark:text-amber-300">
          Could not refresh the list ({error.message}); showing the last known values.
        </p>
      ) : null}
      {shown.length === 0 ? (
        <p className="text-slate-500">{filter ? `No server matches “${filter}”${tag ? ` with the tag ${tag}` : ''}.` : `No server has the tag ${tag}.`}</p>
      ) : view === 'table' ? (
        <FleetTable items={shown} now={now} grouped={Boolean(group)} />
      ) : (
        <ServerList items={shown} sections={sections} sparks={sparks} now={now} onVisible={wantTrends} />
      )}
    </section>
  );
}
