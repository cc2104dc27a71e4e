// The overview's tag filter: one tag at a time, in the address (/?tag=web), so a
// filtered view can be bookmarked and shared with whoever has the dashboard.
import { navigate } from '../../hooks/useRoute.js';
import { fleetTags } from './tags.js';

/** The tag of the address, or '' (read from `search`, e.g. location.search). */
export function tagOfSearch(search) {
  return new URLSearchParams(search).get('tag')?.trim() || '';
}

/** The overview's address showing `tag` ('' for every server), grouped by tag
 * when `group` is 'tag' (features/fleet/grouping.js). */
export function overviewPath(tag, group = '') {
  const params = new URLSearchParams();
  if (tag) params.set('tag', tag);
  if (group) params.set('group', group);
  const search = params.toString();
  return search ? `/?${search}` : '/';
}

/** `group`: the overview's grouping, kept when the tag changes. */
export default function TagFilter({ servers, tag, group = '' }) {
  const tags = fleetTags(servers);
  if (tags.length === 0 && !tag) return null;
  const known = tags.some((t) => t.tag === tag);
  return (
    <label className="text-sm">
      <span className="sr-only">Tag</span>
      <select
        aria-label="Show the servers with the tag"
        value={tag}
        onChange={(e) => navigate(overviewPath(e.target.value, group))}
        className="rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm dark:border-slate-700 dark:bg-slate-900"
      >
        <option value="">All tags</option>
        {tag && !known ? <option value={tag}>{tag} (0)</option> : null}
        {tags.map(({ tag: t, count }) => (
          <option key={t} value={t}>
            {t} ({count})
          </option>
        ))}
      </select>
    </label>
  );
}
