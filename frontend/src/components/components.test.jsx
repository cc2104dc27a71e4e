import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { alertKey, fleetReducer } from '../features/fleet/useFleet.jsx';
import { reportAuthProblem, setToken } from '../services/auth.js';
import { sortByTrouble } from '../utils/levels.js';
import { AlertBannerView, alertText } from './AlertBanner.jsx';
import EmptyState, { collectorCommand } from './EmptyState.jsx';
import { CustomRange } from './HistoryChart.jsx';
import MetricsCard from './MetricsCard.jsx';
import ServerList from './ServerList.jsx';
import TokenPrompt from './TokenPrompt.jsx';

const now = new Date('2026-02-04T10:05:00Z').getTime();
const ago = (s) => new Date(now - s * 1000).toISOString();
const latest = (cpu, age = 2) => ({ cpu_percent: cpu, ram_percent: 50, disk_percent: 40, recorded_at: ago(age) });
const server = (id, name, extra = {}) => ({
  id,
  name,
  hostname: name,
  ip_address: `10.0.0.${id}`,
  os_type: 'Linux',
  is_active: true,
  interval_seconds: 5,
  last_seen: ago(2),
  latest: latest(20),
  ...extra,
});

describe('ServerList', () => {
  const servers = [
    server(1, 'web-01'),
    server(2, 'db-01', { latest: latest(97) }),
    server(3, 'old-box', { is_active: false, last_seen: ago(600), latest: latest(10, 600) }),
  ];
  const alerts = [{ server_id: 2, type: 'cpu', state: 'firing', value: 97, threshold: 90, started_at: ago(60) }];

  it('shows every server, trouble first, each linking to its page', () => {
    render(<ServerList items={sortByTrouble(servers, alerts, now)} alerts={alerts} sparks={{}} now={now} />);
    const links = screen.getAllByRole('link');
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['/servers/2', '/servers/3', '/servers/1']);
    expect(links[0]).toHaveAttribute('data-health', 'critical');
    expect(within(links[0]).getByText('1 active alert')).toBeInTheDocument();
    expect(within(links[0]).getByText('97.0%')).toBeInTheDocument();
  });

  it('says when a server was last seen and greys its stale values', () => {
    render(<ServerList items={sortByTrouble(servers, [], now)} alerts={[]} sparks={{}} now={now} />);
    const offline = screen.getByText('old-box').closest('a');
    expect(within(offline).getByText(/offline · last seen 10 min ago/)).toBeInTheDocument();
    expect(within(offline).getByText(/values are stale/)).toBeInTheDocument();
    expect(offline.querySelector('[data-metric="cpu"]')).toHaveAttribute('data-level', 'stale');
    const db = screen.getByText('db-01').closest('a');
    expect(db.querySelector('[data-metric="cpu"]')).toHaveAttribute('data-level', 'critical');
    expect(db.querySelector('[data-metric="ram"]')).toHaveAttribute('data-level', 'ok');
  });

  it('draws a sparkline when there are points', () => {
    const sparks = { 1: [0, 1, 2, 3].map((i) => ({ t: now - (4 - i) * 60_000, v: 10 * i })) };
    render(<ServerList items={sortByTrouble([servers[0]], [], now)} alerts={[]} sparks={sparks} now={now} />);
    expect(screen.getByRole('img', { name: /CPU over the last 30 minutes: 4 points, latest 30.0%/ })).toBeInTheDocument();
  });
});

describe('MetricsCard', () => {
  it('colours a value by level and marks stale values', () => {
    const { rerender } = render(<MetricsCard title="CPU" value="95.0%" level="critical" percent={95} />);
    const card = screen.getByRole('region', { name: 'CPU' });
    expect(card).toHaveAttribute('data-level', 'critical');
    expect(screen.queryByText('stale')).not.toBeInTheDocument();
    rerender(<MetricsCard title="CPU" value="95.0%" level="critical" percent={95} stale staleNote="as of 5 min ago" />);
    expect(card).toHaveAttribute('data-level', 'stale');
    expect(screen.getByText('stale')).toBeInTheDocument();
    expect(screen.getByText('as of 5 min ago')).toBeInTheDocument();
  });
});

describe('alerts', () => {
  const cpu = { server_id: 2, type: 'cpu', state: 'firing', value: 95.25, threshold: 90, started_at: ago(120) };
  const offline = { server_id: 3, type: 'offline', state: 'firing', started_at: ago(30) };

  it('reads as a sentence', () => {
    expect(alertText(cpu)).toBe('CPU 95.3% (threshold 90.0%)');
    expect(alertText(offline)).toBe('Offline');
    expect(alertText(offline, server(3, 'old-box', { last_seen: ago(300) }), now)).toBe('Offline, last seen 5 min ago');
  });

  it('banner lists active alerts, oldest first, each opening its server', () => {
    const servers = [server(2, 'db-01'), server(3, 'old-box')];
    render(<AlertBannerView alerts={[offline, cpu]} servers={servers} now={now} />);
    const region = screen.getByRole('region', { name: 'Active alerts' });
    expect(within(region).getByText('2 active alerts')).toBeInTheDocument();
    const links = within(region).getAllByRole('link');
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['/servers/2', '/servers/3']);
    expect(links[0]).toHaveTextContent('db-01 · CPU 95.3% (threshold 90.0%) · for 2 min');
  });

  it('banner folds a long list behind a button', async () => {
    const many = Array.from({ length: 9 }, (_, i) => ({ ...offline, server_id: 100 + i, started_at: ago(100 - i) }));
    render(<AlertBannerView alerts={many} servers={[]} now={now} />);
    const region = screen.getByRole('region', { name: 'Active alerts' });
    expect(within(region).getByText('9 active alerts')).toBeInTheDocument();
    expect(within(region).getAllByRole('link')).toHaveLength(6);
    await userEvent.click(within(region).getByRole('button', { name: '3 more' }));
    expect(within(region).getAllByRole('link')).toHaveLength(9);
  });

  it('banner is empty without alerts', () => {
    render(<AlertBannerView alerts={[]} servers={[]} now={now} />);
    expect(screen.queryByRole('region', { name: 'Active alerts' })).not.toBeInTheDocument();
    expect(screen.getByTestId('alert-banner')).toHaveAttribute('data-count', '0');
  });

  it('appear on a firing event and go on its resolution', () => {
    let state = fleetReducer({ servers: [], alerts: {}, sparks: {} }, { type: 'alerts', alerts: [cpu] });
    expect(Object.keys(state.alerts)).toEqual([alertKey(cpu)]);
    state = fleetReducer(state, { type: 'alert', alert: offline });
    expect(Object.keys(state.alerts)).toHaveLength(2);
    state = fleetReducer(state, { type: 'alert', alert: { ...cpu, state: 'resolved' } });
    expect(Object.values(state.alerts)).toEqual([offline]);
  });
});

describe('a list loaded during live events', () => {
  const cpu = { id: 1, server_id: 2, type: 'cpu', state: 'firing', value: 95, threshold: 90, started_at: ago(60) };
  it('does not take back an alert that fired after it was requested', () => {
    let state = fleetReducer({ servers: [], alerts: {}, alertEvents: {}, sparks: {} }, { type: 'alert', alert: cpu, at: 2000 });
    state = fleetReducer(state, { type: 'alerts', alerts: [], requestedAt: 1000 });
    expect(Object.values(state.alerts)).toEqual([cpu]);
    // A list requested after the event is the truth.
    state = fleetReducer(state, { type: 'alerts', alerts: [], requestedAt: 3000 });
    expect(Object.values(state.alerts)).toEqual([]);
  });
  it('does not bring back an alert resolved after it was requested', () => {
    let state = fleetReducer({ servers: [], alerts: {}, alertEvents: {}, sparks: {} }, { type: 'alert', alert: { ...cpu, state: 'resolved' }, at: 2000 });
    state = fleetReducer(state, { type: 'alerts', alerts: [cpu], requestedAt: 1000 });
    expect(Object.values(state.alerts)).toEqual([]);
  });
  it('keeps a live sample newer than the list', () => {
    let state = fleetReducer({ servers: [server(1, 'web-01')], alerts: {}, sparks: {} }, { type: 'metrics', sample: { server_id: 1, ...latest(77, 0) } });
    state = fleetReducer(state, { type: 'servers', servers: [server(1, 'web-01', { latest: latest(20, 10) })] });
    expect(state.servers[0].latest.cpu_percent).toBe(77);
    state = fleetReducer(state, { type: 'servers', servers: [server(1, 'web-01', { latest: { ...latest(33, 0), recorded_at: new Date(now + 5000).toISOString() } })] });
    expect(state.servers[0].latest.cpu_percent).toBe(33);
  });
});

describe('live overview state', () => {
  it('takes new samples and status changes, ignores late samples', () => {
    let state = fleetReducer({ servers: [server(1, 'web-01', { is_active: false })], alerts: {}, sparks: { 1: [] } }, { type: 'metrics', sample: { server_id: 1, ...latest(66, 0) } });
    expect(state.servers[0].is_active).toBe(true);
    expect(state.servers[0].latest.cpu_percent).toBe(66);
    expect(state.sparks[1]).toHaveLength(1);
    state = fleetReducer(state, { type: 'metrics', sample: { server_id: 1, ...latest(11, 50) } });
    expect(state.servers[0].latest.cpu_percent).toBe(66);
    state = fleetReducer(state, { type: 'status', status: { server_id: 1, is_active: false, last_seen: ago(0) } });
    expect(state.servers[0].is_active).toBe(false);
  });
});

describe('EmptyState', () => {
  it('gives the collector command with this API URL filled in', () => {
    render(<EmptyState />);
    expect(screen.getByTestId('collector-command')).toHaveTextContent(
      `vigie-collector run --api-url ${window.location.origin} --enroll-token <enrollment-token>`,
    );
    expect(collectorCommand('https://vigie.example.org')).toContain('--api-url https://vigie.example.org ');
  });
});

describe('TokenPrompt', () => {
  it('asks for a missing token, remembers it, and says when one is refused', async () => {
    const saved = vi.fn();
    render(<TokenPrompt onSaved={saved} />);
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    act(() => reportAuthProblem(new Error('missing')));
    const dialog = screen.getByRole('dialog', { name: 'Dashboard token' });
    expect(within(dialog).queryByRole('alert')).not.toBeInTheDocument();
    await userEvent.type(within(dialog).getByLabelText('Token'), 's3cret');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Open the dashboard' }));
    expect(localStorage.getItem('vigie.dashboardToken')).toBe('s3cret');
    expect(saved).toHaveBeenCalledOnce();
    act(() => reportAuthProblem(new Error('refused')));
    expect(screen.getByRole('alert')).toHaveTextContent('refused the token');
    act(() => setToken(''));
  });
});

describe('custom history range', () => {
  it('refuses a start after the end and applies a valid range', async () => {
    const apply = vi.fn();
    render(<CustomRange initial={{ from: new Date(now - 86_400_000), to: new Date(now) }} onApply={apply} />);
    const from = screen.getByLabelText('From');
    const to = screen.getByLabelText('To');
    fireEvent.change(from, { target: { value: '2026-02-03T12:00' } });
    fireEvent.change(to, { target: { value: '2026-02-03T11:00' } });
    await userEvent.click(screen.getByRole('button', { name: 'Show' }));
    expect(screen.getByRole('alert')).toHaveTextContent('The start must be before the end.');
    expect(apply).not.toHaveBeenCalled();
    fireEvent.change(to, { target: { value: '2026-02-03T18:00' } });
    await userEvent.click(screen.getByRole('button', { name: 'Show' }));
    expect(apply).toHaveBeenCalledOnce();
    const { from: f, to: t } = apply.mock.calls[0][0];
    expect(t - f).toBe(6 * 3_600_000);
  });
});

describe('one alert, whoever tells of it', () => {
  it('is the same from the API and from the relay', async () => {
    const { sameAlert } = await import('../hooks/useServerAlerts.js');
    const api = { id: 4, type: 'cpu', started_at: '2026-02-04T10:00:05Z' };
    const relay = { id: 4, type: 'cpu', started_at: '2026-02-04T10:00:05+00:00', state: 'resolved' };
    expect(sameAlert(api, relay)).toBe(true);
    expect(sameAlert({ ...api, id: undefined }, { ...relay, id: undefined })).toBe(true);
    expect(sameAlert(api, { ...relay, id: 5 })).toBe(false);
  });
});
