// Load per core and the fullest filesystem on the overview: carried from the
// REST list and from `fleet-update` (the API's `latest` contract:
// `load_per_core` a number or null, `fs_fullest` {mount, percent} or null), shown
// on each card, and two sortable columns of the table.
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import ServerList from '../../components/ServerList.jsx';
import { sortByTrouble } from '../../utils/levels.js';
import FleetTable from './FleetTable.jsx';
import { SORT_KEY } from './fleetTable.js';
import { fleetReducer, fullestFilesystem, initialFleet, loadPerCore, sampleEntry } from './fleetState.js';
import { formatFullPercent, loadPerCoreLevel } from './overview.js';

const now = new Date('2026-02-04T10:05:00Z').getTime();
const ago = (s) => new Date(now - s * 1000).toISOString();
const latest = (extra = {}, age = 2) => ({ cpu_percent: 20, ram_percent: 30, disk_percent: 40, recorded_at: ago(age), ...extra });
const server = (id, name, extra = {}) => ({ id, name, hostname: name, is_active: true, interval_seconds: 5, last_seen: ago(2), tags: [], ...extra });
const loaded = (servers) => fleetReducer(initialFleet, { type: 'servers', servers, requestedAt: 0 });
const fleet = (state, entries, at = 1) => fleetReducer(state, { type: 'fleet', servers: entries, at });
const entry = (id, extra, age = 1) => ({ server_id: id, is_active: true, last_seen: ago(age), latest: latest(extra, age) });

describe('the fleet state', () => {
  it('takes both fields from the REST list and from each fleet-update', () => {
    let state = loaded([server(1, 'a', { latest: latest({ load_per_core: 0.42, fs_fullest: { mount: '/var', percent: 91.5 } }, 10) })]);
    expect(state.servers[0].latest).toMatchObject({ load_per_core: 0.42, fs_fullest: { mount: '/var', percent: 91.5 } });
    state = fleet(state, [entry(1, { load_per_core: 1.75, fs_fullest: { mount: '/', percent: 60 } }, 5)]);
    expect(state.servers[0].latest).toMatchObject({ cpu_percent: 20, load_per_core: 1.75, fs_fullest: { mount: '/', percent: 60 } });
    // A collector that stopped reporting them: null, shown as none.
    state = fleet(state, [entry(1, { load_per_core: null, fs_fullest: null }, 3)], 2);
    expect(state.servers[0].latest).toMatchObject({ load_per_core: null, fs_fullest: null });
  });

  it('keeps what it knew when an update does not carry the fields, and never goes back in time', () => {
    let state = loaded([server(1, 'a', { latest: latest({ load_per_core: 0.5, fs_fullest: { mount: '/srv', percent: 70 } }, 10) })]);
    state = fleet(state, [entry(1, {}, 5)]); // a relay that does not send them
    expect(state.servers[0].latest).toMatchObject({ load_per_core: 0.5, fs_fullest: { mount: '/srv', percent: 70 } });
    state = fleet(state, [entry(1, { load_per_core: 9 }, 20)], 2); // older, late
    expect(state.servers[0].latest.load_per_core).toBe(0.5);
    // A server from an API without them reads as none.
    expect(loaded([server(2, 'b', { latest: latest() })]).servers[0].latest.load_per_core).toBeUndefined();
    state = fleet(loaded([server(2, 'b', { latest: latest({}, 10) })]), [entry(2, {}, 5)]);
    expect(state.servers[0].latest).toMatchObject({ load_per_core: null, fs_fullest: null });
  });

  it('derives them from a sample a relay sends whole (metrics-update)', () => {
    const sample = {
      server_id: 1,
      ...latest({ load_1: 3, cpu_count: 4 }, 1),
      filesystems: [
        { mount: '/', percent: 40 },
        { mount: '/var', percent: 91.5 },
        { mount: '/boot', percent: 20 },
      ],
    };
    expect(sampleEntry(sample).latest).toMatchObject({ load_per_core: 0.75, fs_fullest: { mount: '/var', percent: 91.5 } });
    let state = fleetReducer(loaded([server(1, 'a', { latest: latest({}, 10) })]), { type: 'metrics', sample, at: 1 });
    expect(state.servers[0].latest).toMatchObject({ load_per_core: 0.75, fs_fullest: { mount: '/var', percent: 91.5 } });
    // A sample without filesystems (they come with some samples only) keeps the last ones.
    state = fleetReducer(state, { type: 'metrics', sample: { server_id: 1, ...latest({}, 0) }, at: 2 });
    expect(state.servers[0].latest).toMatchObject({ load_per_core: null, fs_fullest: { mount: '/var', percent: 91.5 } });
  });

  it('reads load per core and the fullest filesystem as the API does', () => {
    expect(loadPerCore({ load_1: 1, cpu_count: 8 })).toBe(0.125);
    expect(loadPerCore({ load_1: 1 })).toBeNull();
    expect(loadPerCore({ load_1: 1, cpu_count: 0 })).toBeNull();
    expect(fullestFilesystem(undefined)).toBeUndefined();
    expect(fullestFilesystem([])).toBeNull();
    expect(fullestFilesystem([{ mount: '/b', percent: 50 }, { mount: '/a', percent: 50 }])).toEqual({ mount: '/a', percent: 50 });
  });
});

describe('how they read', () => {
  it('colours load per core like the other gauges: over 1 is more work than CPUs', () => {
    expect([0, 0.99, 1, 1.49, 1.5, 4, null].map(loadPerCoreLevel)).toEqual(['ok', 'ok', 'warning', 'warning', 'critical', 'critical', 'unknown']);
  });
  it('shows a filesystem in whole percents, never rounded up to full', () => {
    expect([91.5, 99.9, 100, 0, null].map(formatFullPercent)).toEqual(['91%', '99%', '100%', '0%', '—']);
  });
});

describe('a card', () => {
  it('shows load per core and the fullest filesystem, coloured by level', () => {
    const servers = [
      server(1, 'busy', { latest: latest({ load_per_core: 1.6, fs_fullest: { mount: '/var', percent: 91.5 } }) }),
      server(2, 'old-collector', { latest: latest({ load_per_core: null, fs_fullest: null }) }),
    ];
    render(<ServerList items={sortByTrouble(servers, [], now)} now={now} />);
    const busy = screen.getByRole('link', { name: /^busy/ });
    expect(within(busy).getByText('1.6').closest('[data-metric="load"]')).toHaveAttribute('data-level', 'critical');
    expect(busy.querySelector('[data-metric="load"]')).toHaveTextContent('load 1.6/core');
    const fs = busy.querySelector('[data-metric="fs"]');
    expect(fs).toHaveTextContent('/var91%');
    expect(fs).toHaveAttribute('data-level', 'critical');
    expect(fs).toHaveAttribute('title', 'The fullest filesystem: /var, 91.5% used');
    const old = screen.getByRole('link', { name: /^old-collector/ });
    expect(old.querySelector('[data-metric="load"]')).toHaveTextContent(/^load —$/);
    expect(old.querySelector('[data-metric="fs"]')).toHaveTextContent('—');
  });
});

describe('the table', () => {
  const servers = [
    server(1, 'alpha', { latest: latest({ load_per_core: 0.5, fs_fullest: { mount: '/', percent: 30 } }) }),
    server(2, 'bravo', { latest: latest({ load_per_core: null, fs_fullest: null }) }),
    server(3, 'charlie', { latest: latest({ load_per_core: 2.25, fs_fullest: { mount: '/var/lib/docker', percent: 88 } }) }),
    server(4, 'delta', { latest: latest({ load_per_core: 0.05, fs_fullest: { mount: '/data', percent: 95 } }) }),
  ];
  const items = sortByTrouble(servers, [], now);
  const order = () => screen.getAllByRole('link').map((a) => Number(a.dataset.rowServerId));
  const header = (name) => screen.getByRole('button', { name: new RegExp(`^${name}`) });

  it('sorts by load per core and by the fullest filesystem, nulls last either way, and remembers it', { timeout: 30_000 }, async () => {
    const { unmount } = render(<FleetTable items={items} now={now} />);
    await userEvent.click(header('Load/core'));
    expect(order()).toEqual([3, 1, 4, 2]);
    await userEvent.click(header('Load/core'));
    expect(order()).toEqual([4, 1, 3, 2]);
    await userEvent.click(header('Fullest FS'));
    expect(order()).toEqual([4, 3, 1, 2]);
    expect(JSON.parse(localStorage.getItem(SORT_KEY))).toEqual([{ id: 'fs', desc: true }]);
    await userEvent.click(header('Fullest FS'));
    expect(order()).toEqual([1, 3, 4, 2]);
    unmount();
    render(<FleetTable items={items} now={now} />);
    expect(screen.getByTestId('fleet-table')).toHaveAttribute('data-sort', 'fs:asc');
    expect(order()).toEqual([1, 3, 4, 2]);
  });

  it('reads a missing value as "—"', () => {
    render(<FleetTable items={items} now={now} />);
    const row = screen.getByRole('link', { name: 'bravo' }).closest('tr');
    expect(row.querySelector('[data-metric="load"]')).toHaveTextContent('—');
    expect(row.querySelector('[data-metric="fs"]')).toHaveTextContent('—');
    const charlie = screen.getByRole('link', { name: 'charlie' }).closest('tr');
    expect(charlie.querySelector('[data-metric="load"]')).toHaveTextContent('2.3');
    expect(charlie.querySelector('[data-metric="fs"]')).toHaveTextContent('/var/lib/docker88%');
  });
});
