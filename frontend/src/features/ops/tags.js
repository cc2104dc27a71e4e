// Server tags as the API takes them (PATCH /api/servers/:id): 1 to 32 characters
// of a-z, 0-9, '.', '_' and '-' (lower case: not lowercased for you), at most
// 16 per server, no duplicates. Checked here first so a mistake is shown as it
// is typed; the API's 400 is shown the same way.
export const TAG_PATTERN = /^[a-z0-9._-]{1,32}$/;
export const MAX_TAGS = 16;

/** Why `tag` cannot be added to `tags`, or null when it can. */
export function tagProblem(tag, tags = []) {
  if (!tag) return 'a tag cannot be empty';
  if (tag.length > 32) return 'a tag is at most 32 characters';
  if (!TAG_PATTERN.test(tag)) {
    return /[A-Z]/.test(tag) && TAG_PATTERN.test(tag.toLowerCase())
      ? 'a tag is in lower case'
      : "a tag holds only a-z, 0-9, '.', '_' and '-'";
  }
  if (tags.includes(tag)) return 'this tag is already there';
  if (tags.length >= MAX_TAGS) return `a server has at most ${MAX_TAGS} tags`;
  return null;
}

/** Every tag of `servers`, sorted, each with how many servers carry it. */
export function fleetTags(servers = []) {
  const counts = new Map();
  for (const server of servers) for (const tag of server.tags ?? []) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([tag, count]) => ({ tag, count }));
}

/** The items ({ server, ... }) whose server carries `tag` (all without a tag). */
export function withTag(items, tag) {
  if (!tag) return items;
  return items.filter(({ server }) => server.tags?.includes(tag));
}
