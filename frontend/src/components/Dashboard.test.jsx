// The overview page: cards or table (remembered), the summary, the search, and
// the keyboard, over a fleet state given directly.
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

const fleet = vi.hoisted(() => ({ value: null }));
vi.mock('../features/fleet/useFleet.jsx', () => ({ useFleet: () => fleet.value }));
const { default: Dashboard, VIEW_KEY } = await import('./Dashboard.jsx');

const ago = (s) => new Date(Date.now() - s * 1000).toISOString();
const server = (id, name, cpu, extra = {}) => ({
  id,
  name,
  hostname: name,
  is_active: true,
  interval_seconds: 5,
  last_seen: ago(1),
  latest: { cpu_percent: cpu, ram_percent: 30, disk_percent: 30, recorded_at: ago(1) },
  ...extra,
});

function given(servers, alerts = []) {
  fleet.value = { servers, error: null, activeAlerts: alerts, sparks: {}, wantTrends: vi.fn() };
  return fleet.value;
}

const cards = () => screen.getAllByRole('link').filter((a) => a.dataset.serverId).map((a) => a.dataset.serverId);

describe('the overview', () => {
  const servers = [server(1, 'web-01', 10), server(2, 'web-02', 95), server(3, 'db-01', 80), server(4, 'db-02', 20), server(5, 'cache', 30), server(6, 'mail', 40)];

  it('shows the summary and the cards, trouble first, and asks for the trends of those on screen', () => {
    const state = given(servers);
    render(<Dashboard />);
    const summary = screen.getByTestId('summary');
    expect(within(summary).getByText('critical').closest('[data-count]')).toHaveAttribute('data-count', '1');
    expect(within(summary).getByText('warning').closest('[data-count]')).toHaveAttribute('data-count', '1');
    expect(within(summary).getByText('healthy').closest('[data-count]')).toHaveAttribute('data-count', '4');
    const highest = screen.getByRole('region', { name: 'Highest CPU' });
    expect(within(highest).getAllByRole('link').map((a) => a.getAttribute('href'))).toEqual(['/servers/2', '/servers/3', '/servers/6']);
    expect(cards()).toEqual(['2', '3', '5', '4', '6', '1']);
    expect(state.wantTrends).toHaveBeenCalledWith([2, 3, 5, 4, 6, 1]);
  });

  it('filters as one types, in the same order', async () => {
    given(servers);
    render(<Dashboard />);
    await userEvent.type(screen.getByRole('searchbox', { name: 'Filter servers' }), 'web');
    expect(cards()).toEqual(['2', '1']);
    await userEvent.type(screen.getByRole('searchbox', { name: 'Filter servers' }), 'zzz');
    expect(screen.getByText(/No server matches/)).toBeInTheDocument();
  });

  it('moves between cards with the arrow keys', async () => {
    given(servers);
    render(<Dashboard />);
    const links = screen.getAllByRole('link').filter((a) => a.dataset.serverId);
    links[0].focus();
    await userEvent.keyboard('{ArrowDown}'); // one card per row at this width
    expect(document.activeElement).toBe(links[1]);
    await userEvent.keyboard('{End}');
    expect(document.activeElement).toBe(links.at(-1));
    await userEvent.keyboard('{ArrowUp}');
    expect(document.activeElement).toBe(links.at(-2));
  });

  it('switches to the table and remembers it', async () => {
    given(servers);
    const { unmount } = render(<Dashboard />);
    await userEvent.click(screen.getByRole('button', { name: 'Table' }));
    expect(screen.getByTestId('fleet-table')).toBeInTheDocument();
    expect(JSON.parse(localStorage.getItem(VIEW_KEY))).toBe('table');
    unmount();
    render(<Dashboard />);
    expect(screen.getByRole('button', { name: 'Table' })).toHaveAttribute('aria-pressed', 'true');
    expect(screen.getByTestId('fleet-table')).toBeInTheDocument();
  });
});
