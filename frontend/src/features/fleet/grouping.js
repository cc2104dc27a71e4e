// The overview grouped by tag (/?group=tag): one section per tag, a server in
// the section of each of its tags, the untagged ones last. Plain functions: the
// sections, and the rows of the card grid that a virtual list draws (a section's
// header is one row of it, like a row of cards).

// What counts as "in trouble" in a section's header: every state the overview
// puts before a server waiting for its first sample (utils/levels.js RANK).
export const TROUBLE = new Set(['critical', 'offline', 'stale', 'warning']);

const collator = new Intl.Collator();

/** 'tag' when the address asks for the overview grouped by tag, else ''. */
export function groupOfSearch(search) {
  return new URLSearchParams(search).get('group') === 'tag' ? 'tag' : '';
}

/**
 * `list` in the order to keep within each section (trouble first, or the
 * table's sort); `itemOf(x)` its { server, health }. Returns the sections: one
 * per tag in name order, then the untagged, each { key, tag (null: untagged),
 * entries (of `list`, in its order), count, trouble }. Empty sections are left
 * out; a server with several tags is in each of their sections.
 */
export function groupByTag(list, itemOf = (x) => x) {
  const byTag = new Map();
  const untagged = [];
  for (const entry of list) {
    const tags = itemOf(entry).server.tags;
    if (!tags?.length) {
      untagged.push(entry);
      continue;
    }
    for (const tag of new Set(tags)) {
      const entries = byTag.get(tag);
      if (entries) entries.push(entry);
      else byTag.set(tag, [entry]);
    }
  }
  const section = (key, tag, entries) => ({
    key,
    tag,
    entries,
    count: entries.length,
    trouble: entries.reduce((n, e) => n + (TROUBLE.has(itemOf(e).health) ? 1 : 0), 0),
  });
  const sections = [...byTag.keys()].sort(collator.compare).map((tag) => section(`tag:${tag}`, tag, byTag.get(tag)));
  if (untagged.length) sections.push(section('untagged', null, untagged));
  return sections;
}

/**
 * The card grid's rows: for each section its header (none when `sections` is
 * one unnamed section: the overview ungrouped), then its cards `cols` a row.
 * Each row { key, kind: 'header', section } or { key, kind: 'cards', entries,
 * first (the index of its first card among all cards shown) }.
 */
export function gridRows(sections, cols, { headers = true } = {}) {
  const rows = [];
  let first = 0;
  for (const section of sections) {
    if (headers) rows.push({ key: `h:${section.key}`, kind: 'header', section });
    for (let i = 0; i < section.entries.length; i += cols) {
      const entries = section.entries.slice(i, i + cols);
      rows.push({ key: `c:${section.key}:${i}`, kind: 'cards', entries, first });
      first += entries.length;
    }
  }
  return rows;
}

/**
 * Where an arrow key (or Home, End) moves from card `from` in `rows`
 * (gridRows): left and right along the cards, up and down to the same column
 * of the row of cards above or below (its last card when it is shorter),
 * across section headers. Returns the card's index, or `from`.
 */
export function moveInGrid(rows, from, key) {
  const cardRows = rows.filter((r) => r.kind === 'cards');
  if (!cardRows.length) return from;
  const last = cardRows.at(-1);
  const count = last.first + last.entries.length;
  if (key === 'Home') return 0;
  if (key === 'End') return count - 1;
  if (key === 'ArrowRight') return Math.min(from + 1, count - 1);
  if (key === 'ArrowLeft') return Math.max(from - 1, 0);
  if (key !== 'ArrowDown' && key !== 'ArrowUp') return from;
  const at = cardRows.findIndex((r) => from >= r.first && from < r.first + r.entries.length);
  const to = cardRows[at + (key === 'ArrowDown' ? 1 : -1)];
  if (at === -1 || !to) return from;
  return to.first + Math.min(from - cardRows[at].first, to.entries.length - 1);
}
