// The overview grouped by tag: the sections (a server in each of its tags',
// the untagged last, trouble first within each), the card grid's rows with a
// header row per section, moving across them with the keyboard, the grouping
// in the address, and both views drawing it.
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sortByTrouble } from '../../utils/levels.js';
import { gridRows, groupByTag, groupOfSearch, moveInGrid } from './grouping.js';

const fleet = vi.hoisted(() => ({ value: null }));
vi.mock('./useFleet.jsx', () => ({ useFleet: () => fleet.value }));
const { default: Dashboard } = await import('../../components/Dashboard.jsx');
const { default: TagFilter, overviewPath } = await import('../ops/TagFilter.jsx');

const now = Date.now();
const ago = (s) => new Date(now - s * 1000).toISOString();
const server = (id, name, tags, cpu = 20, extra = {}) => ({
  id,
  name,
  hostname: name,
  tags,
  is_active: true,
  interval_seconds: 5,
  last_seen: ago(1),
  latest: { cpu_percent: cpu, ram_percent: 30, disk_percent: 30, recorded_at: ago(1) },
  ...extra,
});

const servers = [
  server(1, 'web-01', ['web', 'eu']),
  server(2, 'web-02', ['web'], 95), // critical
  server(3, 'db-01', ['db', 'eu'], 80), // warning
  server(4, 'db-02', ['db'], 10, { is_active: false }), // offline
  server(5, 'cache', []),
  server(6, 'mail', undefined, 97), // no tags field at all: untagged, critical
  server(7, 'alpha', ['web']),
];
const ids = (entries) => entries.map((e) => e.server.id);

describe('groupByTag', () => {
  const sections = groupByTag(sortByTrouble(servers, [], now));

  it('makes one section per tag in name order, then the untagged', () => {
    expect(sections.map((s) => s.tag)).toEqual(['db', 'eu', 'web', null]);
    expect(sections.map((s) => s.key)).toEqual(['tag:db', 'tag:eu', 'tag:web', 'untagged']);
  });

  it('puts a server in the section of each of its tags, trouble first within each', () => {
    expect(ids(sections[0].entries)).toEqual([4, 3]); // offline, then warning
    expect(ids(sections[1].entries)).toEqual([3, 1]);
    expect(ids(sections[2].entries)).toEqual([2, 7, 1]); // critical, then by name
    expect(ids(sections[3].entries)).toEqual([6, 5]);
  });

  it('counts the servers and those in trouble of each section', () => {
    expect(sections.map((s) => [s.count, s.trouble])).toEqual([
      [2, 2],
      [2, 1],
      [3, 1],
      [2, 1],
    ]);
  });

  it('leaves out empty sections, and a tag named twice counts once', () => {
    expect(groupByTag([])).toEqual([]);
    const once = groupByTag(sortByTrouble([server(1, 'a', ['x', 'x'])], [], now));
    expect(once.map((s) => [s.tag, s.count])).toEqual([['x', 1]]);
    expect(groupByTag(sortByTrouble([server(1, 'a', [])], [], now)).map((s) => s.tag)).toEqual([null]);
  });

  it('keeps the order it is given (the table sorted by a column)', () => {
    const items = sortByTrouble(servers, [], now);
    const byName = [...items].sort((a, b) => a.name.localeCompare(b.name)).map((item) => ({ original: item }));
    const web = groupByTag(byName, (row) => row.original).find((s) => s.tag === 'web');
    expect(web.entries.map((r) => r.original.server.id)).toEqual([7, 1, 2]);
  });
});

describe('the grid of cards', () => {
  const sections = groupByTag(sortByTrouble(servers, [], now));

  it('has a header row per section, then its cards a row at a time', () => {
    const rows = gridRows(sections, 2);
    expect(rows.map((r) => (r.kind === 'header' ? `#${r.section.tag}` : ids(r.entries).join(',')))).toEqual([
      '#db', '4,3', '#eu', '3,1', '#web', '2,7', '1', '#null', '6,5',
    ]);
    expect(rows.filter((r) => r.kind === 'cards').map((r) => r.first)).toEqual([0, 2, 4, 6, 7]);
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length);
  });

  it('has no header ungrouped', () => {
    const rows = gridRows([{ key: 'all', entries: sortByTrouble(servers, [], now) }], 3, { headers: false });
    expect(rows.map((r) => r.entries.length)).toEqual([3, 3, 1]);
  });

  it('moves up and down to the same column, across headers, to the last card of a shorter row', () => {
    const rows = gridRows(sections, 2); // cards 0-1 | 2-3 | 4-5, 6 | 7-8
    expect(moveInGrid(rows, 1, 'ArrowDown')).toBe(3);
    expect(moveInGrid(rows, 5, 'ArrowDown')).toBe(6);
    expect(moveInGrid(rows, 6, 'ArrowDown')).toBe(7);
    expect(moveInGrid(rows, 8, 'ArrowDown')).toBe(8);
    expect(moveInGrid(rows, 7, 'ArrowUp')).toBe(6);
    expect(moveInGrid(rows, 3, 'ArrowUp')).toBe(1);
    expect(moveInGrid(rows, 0, 'ArrowUp')).toBe(0);
    expect(moveInGrid(rows, 3, 'ArrowRight')).toBe(4);
    expect(moveInGrid(rows, 0, 'ArrowLeft')).toBe(0);
    expect(moveInGrid(rows, 4, 'End')).toBe(8);
    expect(moveInGrid(rows, 4, 'Home')).toBe(0);
  });
});

describe('the grouping in the address', () => {
  afterEach(() => window.history.replaceState(null, '', '/'));

  it('reads ?group=tag, and writes it with the tag filter', () => {
    expect(groupOfSearch('?group=tag')).toBe('tag');
    expect(groupOfSearch('?tag=web&group=tag')).toBe('tag');
    expect(groupOfSearch('?group=other')).toBe('');
    expect(groupOfSearch('')).toBe('');
    expect(overviewPath('web', 'tag')).toBe('/?tag=web&group=tag');
    expect(overviewPath('', 'tag')).toBe('/?group=tag');
    expect(overviewPath('web')).toBe('/?tag=web');
    expect(overviewPath('')).toBe('/');
  });

  it('keeps the grouping when the tag filter changes', async () => {
    window.history.replaceState(null, '', '/?group=tag');
    render(<TagFilter servers={servers} tag="" group="tag" />);
    await userEvent.selectOptions(screen.getByLabelText('Show the servers with the tag'), 'db');
    expect(window.location.search).toBe('?tag=db&group=tag');
  });
});

describe('the overview grouped', () => {
  // jsdom lays nothing out: a row of the virtual list measured there is 0 px
  // high, and a list of them shows an arbitrary slice. Here each row is 60 px.
  const offsetHeight = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'offsetHeight');
  beforeEach(() => {
    Object.defineProperty(HTMLElement.prototype, 'offsetHeight', {
      configurable: true,
      get() {
        return this.dataset?.index !== undefined ? 60 : offsetHeight.get.call(this);
      },
    });
  });
  afterEach(() => {
    Object.defineProperty(HTMLElement.prototype, 'offsetHeight', offsetHeight);
    window.history.replaceState(null, '', '/');
  });
  const given = () => {
    fleet.value = { servers, error: null, activeAlerts: [], sparks: {}, wantTrends: vi.fn() };
  };
  const headers = () => screen.getAllByTestId('section-header').map((h) => `${h.dataset.section || '(untagged)'} ${h.dataset.count}/${h.dataset.trouble}`);

  it('shows the cards in sections, and turns grouping on and off in the address', async () => {
    given();
    window.history.replaceState(null, '', '/');
    render(<Dashboard />);
    expect(screen.queryAllByTestId('section-header')).toHaveLength(0);
    await userEvent.click(screen.getByRole('button', { name: 'Group by tag' }));
    expect(window.location.search).toBe('?group=tag');
    expect(screen.getByRole('button', { name: 'Group by tag' })).toHaveAttribute('aria-pressed', 'true');
    expect(headers()).toEqual(['db 2/2', 'eu 2/1', 'web 3/1', '(untagged) 2/1']);
    const web = screen.getAllByTestId('section-header')[2];
    expect(web).toHaveTextContent('web3 servers1 in trouble');
    expect(screen.getAllByTestId('section-header')[3]).toHaveTextContent('untagged');
    const cards = screen.getAllByRole('link').filter((a) => a.dataset.serverId).map((a) => Number(a.dataset.serverId));
    expect(cards).toEqual([4, 3, 3, 1, 2, 7, 1, 6, 5]);
    await userEvent.click(screen.getByRole('button', { name: 'Group by tag' }));
    expect(window.location.search).toBe('');
    expect(screen.queryAllByTestId('section-header')).toHaveLength(0);
  });

  it('combines with the tag filter: the sections of the servers with that tag', () => {
    given();
    window.history.replaceState(null, '', '/?tag=eu&group=tag');
    render(<Dashboard />);
    expect(headers()).toEqual(['db 1/1', 'eu 2/1', 'web 1/0']);
  });

  it('groups the table too, each section in the chosen sort', async () => {
    given();
    window.history.replaceState(null, '', '/?group=tag');
    render(<Dashboard />);
    await userEvent.click(screen.getByRole('button', { name: 'Table' }));
    const table = screen.getByTestId('fleet-table');
    expect(headers()).toEqual(['db 2/2', 'eu 2/1', 'web 3/1', '(untagged) 2/1']);
    const rows = () => within(table).getAllByRole('row').slice(1).map((r) => r.querySelector('[data-testid="section-header"]')?.dataset.section ?? Number(r.querySelector('a').dataset.rowServerId));
    expect(rows()).toEqual(['db', 4, 3, 'eu', 3, 1, 'web', 2, 7, 1, '', 6, 5]);
    await userEvent.click(within(table).getByRole('button', { name: /^Name/ }));
    expect(rows()).toEqual(['db', 3, 4, 'eu', 3, 1, 'web', 7, 1, 2, '', 5, 6]);
    // The keyboard goes from row to row over the headers.
    const links = within(table).getAllByRole('link');
    links[1].focus(); // db-02, the last of db
    await userEvent.keyboard('{ArrowDown}');
    expect(document.activeElement).toBe(links[2]); // db-01 again, first of eu
  });
});
