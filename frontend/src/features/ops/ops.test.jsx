// Operating Vigie from the dashboard, against stand-ins for the network edge
// only: the browser's fetch answered by a small in-memory API that follows the
// operations contract, and a socket.io connection the test plays the relay on.
// The services, hooks and components are the real ones.
import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const relay = vi.hoisted(() => {
  class FakeSocket {
    constructor() {
      this.handlers = new Map();
      this.connected = false;
      this.active = true;
    }
    on(event, handler) {
      if (!this.handlers.has(event)) this.handlers.set(event, new Set());
      this.handlers.get(event).add(handler);
      return this;
    }
    off(event, handler) {
      this.handlers.get(event)?.delete(handler);
      return this;
    }
    timeout() {
      return this;
    }
    async emitWithAck() {
      return { ok: true };
    }
    emit() {}
    connect() {}
    disconnect() {}
    send(event, payload) {
      for (const handler of [...(this.handlers.get(event) ?? [])]) handler(payload);
    }
  }
  return { socket: new FakeSocket() };
});
vi.mock('socket.io-client', () => ({ io: () => relay.socket }));

const { FleetProvider, useFleet } = await import('../fleet/useFleet.jsx');
const { fleetReducer } = await import('../fleet/fleetState.js');
const auth = await import('../../services/auth.js');
const api = await import('../../services/api.js');
const { default: AdminSignIn } = await import('./AdminSignIn.jsx');
const { default: ServerOps } = await import('./ServerOps.jsx');
const { default: AlertRulesEditor, overrideFrom } = await import('./AlertRulesEditor.jsx');
const { default: RemovedNotice } = await import('./RemovedNotice.jsx');
const { default: TagFilter, overviewPath, tagOfSearch } = await import('./TagFilter.jsx');
const { SilenceNote } = await import('./Silence.jsx');
const { fleetTags, tagProblem, withTag } = await import('./tags.js');
const { parseDuration } = await import('./duration.js');
const { resetRemovals, wasRemoved } = await import('./removals.js');
const { default: SharedView } = await import('./SharedView.jsx');

const ADMIN = 'adm1n-token';
const ago = (s) => new Date(Date.now() - s * 1000).toISOString();

// --- the in-memory API -------------------------------------------------------

let servers;
let rules;
let silences;
let shares;
let requests;
let refuseTags;

const DEFAULTS = { threshold: 90, for_samples: 3, clear_margin: 5, enabled: true };

function json(status, body) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
  });
}
const invalid = (field, reason) => json(400, { error: 'invalid', message: 'invalid request', details: [{ field, reason }] });

function rulesOf(id) {
  const own = rules[id] ?? {};
  const body = { server_id: id, overrides: own };
  for (const type of ['cpu', 'ram', 'disk']) {
    const rule = { ...DEFAULTS, ...own[type] };
    body[type] = { ...rule, clear_level: rule.threshold - rule.clear_margin };
  }
  body.offline = { enabled: own.offline?.enabled ?? true };
  return body;
}

function serve(method, path, body, token) {
  const admin = token === ADMIN;
  if (path === '/api/admin') return json(token ? (admin ? 204 : 403) : 401, token && admin ? undefined : { error: 'invalid_token', message: 'refused' });
  if (method !== 'GET' && !admin) return json(token ? 403 : 401, { error: 'invalid_token', message: 'the admin token is not valid' });
  if (path === '/api/servers') return json(200, servers);
  if (path === '/api/alerts') return json(200, []);
  let m = /^\/api\/servers\/(\d+)$/.exec(path);
  if (m) {
    const server = servers.find((s) => s.id === Number(m[1]));
    if (!server) return json(404, { error: 'not_found', message: 'no such server' });
    if (method === 'PATCH') {
      if ('name' in body && !(body.name.length >= 1 && body.name.length <= 100)) return invalid('name', 'a name is 1 to 100 characters');
      if ('tags' in body && refuseTags) return invalid(refuseTags.field, refuseTags.reason);
      if ('tags' in body) {
        for (const [i, tag] of body.tags.entries()) if (!/^[a-z0-9._-]{1,32}$/.test(tag)) return invalid(`tags[${i}]`, 'not a valid tag');
        if (new Set(body.tags).size !== body.tags.length) return invalid('tags', 'duplicate tags');
      }
      Object.assign(server, body);
      return json(200, server);
    }
    if (method === 'DELETE') {
      servers = servers.filter((s) => s !== server);
      return json(204);
    }
    return json(200, server);
  }
  m = /^\/api\/servers\/(\d+)\/alert-rules$/.exec(path);
  if (m) {
    const id = Number(m[1]);
    if (method === 'PUT') {
      if (body.cpu?.threshold > 100) return invalid('cpu.threshold', 'Input should be less than or equal to 100');
      rules[id] = body;
    }
    return json(200, rulesOf(id));
  }
  if (path === '/api/silences' && method === 'POST') {
    const ends = body.duration ? new Date(Date.now() + parseDuration(body.duration)).toISOString() : body.until;
    const silence = { id: silences.length + 1, server_id: body.server_id ?? null, tag: body.tag ?? null, reason: body.reason, ends_at: ends, starts_at: ago(0), created_at: ago(0) };
    silences.push(silence);
    for (const s of servers) if (s.id === body.server_id || s.tags?.includes(body.tag)) s.silence = { id: silence.id, ends_at: ends, reason: body.reason, tag: silence.tag };
    return json(201, silence);
  }
  m = /^\/api\/silences\/(\d+)$/.exec(path);
  if (m && method === 'DELETE') {
    for (const s of servers) if (s.silence?.id === Number(m[1])) s.silence = null;
    return json(204);
  }
  if (path === '/api/shares' && method === 'POST') {
    const share = { id: shares.length + 1, server_id: body.server_id ?? null, tag: body.tag ?? null, label: body.label ?? null, expires_at: ago(-7 * 86400), created_at: ago(0), token: 'vgs_abc', url: 'http://vigie.test/share/vgs_abc' };
    shares.push(share);
    return json(201, share);
  }
  return json(404, { error: 'not_found', message: `no route ${method} ${path}` });
}

beforeEach(() => {
  servers = [
    { id: 1, name: 'web-01', hostname: 'web-01', is_active: true, interval_seconds: 5, last_seen: ago(1), tags: ['web'], silence: null, latest: null },
    { id: 2, name: 'db-01', hostname: 'db-01', is_active: true, interval_seconds: 5, last_seen: ago(1), tags: [], silence: null, latest: null },
  ];
  rules = {};
  silences = [];
  shares = [];
  requests = [];
  refuseTags = null;
  vi.stubGlobal('fetch', async (url, init = {}) => {
    const parsed = new URL(url, 'http://vigie.test');
    const token = init.headers?.Authorization?.replace(/^Bearer /, '');
    const body = init.body ? JSON.parse(init.body) : undefined;
    const method = init.method ?? 'GET';
    requests.push({ method, path: parsed.pathname, body, token });
    return serve(method, parsed.pathname, body, token);
  });
});

afterEach(() => {
  act(() => auth.setAdminToken(''));
  sessionStorage.clear();
  resetRemovals();
  vi.unstubAllGlobals();
});

const signIn = () => act(() => auth.setAdminToken(ADMIN));
const writes = () => requests.filter((r) => r.method !== 'GET');

// --- the session ---------------------------------------------------------------

describe('the admin session', () => {
  it('keeps the admin token for the browser session only, apart from the dashboard token', () => {
    auth.setAdminToken(ADMIN);
    expect(sessionStorage.getItem('vigie.adminToken')).toBe(ADMIN);
    expect(localStorage.getItem('vigie.adminToken')).toBeNull();
    expect(auth.getAdminToken()).toBe(ADMIN);
    expect(auth.getToken()).toBe('');
    auth.setAdminToken('');
    expect(sessionStorage.getItem('vigie.adminToken')).toBeNull();
  });

  it('signs in with a token the API accepts, refuses another, and signs out', async () => {
    render(<AdminSignIn />);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in as admin' }));
    const dialog = screen.getByRole('dialog', { name: 'Sign in as admin' });
    await userEvent.type(within(dialog).getByLabelText('Admin token'), 'wrong');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Sign in' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('This is not the admin token');
    expect(auth.getAdminToken()).toBe('');
    await userEvent.clear(within(dialog).getByLabelText('Admin token'));
    await userEvent.type(within(dialog).getByLabelText('Admin token'), ADMIN);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('button', { name: 'Sign out' })).toBeInTheDocument();
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(requests.filter((r) => r.path === '/api/admin').map((r) => r.token)).toEqual(['wrong', ADMIN]);
    expect(sessionStorage.getItem('vigie.adminToken')).toBe(ADMIN);
    await userEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(screen.getByRole('button', { name: 'Sign in as admin' })).toBeInTheDocument();
    expect(sessionStorage.getItem('vigie.adminToken')).toBeNull();
  });

  it('signs out when the API refuses the admin token, without asking for the dashboard token', async () => {
    auth.setAdminToken('stale');
    const events = [];
    const stop = auth.onAuthEvent((e) => events.push(e.kind));
    const error = await api.updateServer(1, { name: 'x' }).catch((e) => e);
    stop();
    expect(error.status).toBe(403);
    expect(auth.getAdminToken()).toBe('');
    expect(events).toEqual([]);
  });
});

describe('a share link page', () => {
  afterEach(() => auth.initShare('/'));

  it('reads with the token of its address, and never stores it', () => {
    auth.setToken('dashboard-token');
    expect(auth.initShare('/share/vgs_Ab-3_x')).toBe('vgs_Ab-3_x');
    expect(auth.getToken()).toBe('vgs_Ab-3_x');
    expect(localStorage.getItem('vigie.dashboardToken')).toBe('dashboard-token');
    expect(JSON.stringify({ ...sessionStorage })).not.toContain('vgs_');
    expect(auth.initShare('/servers/1')).toBeNull();
    expect(auth.getToken()).toBe('dashboard-token');
    auth.setToken('');
  });

  it('is never signed in as admin', async () => {
    auth.setAdminToken(ADMIN);
    auth.initShare('/share/vgs_abc');
    render(<AdminSignIn />);
    expect(screen.queryByRole('button', { name: 'Sign out' })).not.toBeInTheDocument();
  });
});

// --- rules of the fields --------------------------------------------------------

describe('tags', () => {
  it('are checked as the API checks them', () => {
    expect(tagProblem('web', [])).toBeNull();
    expect(tagProblem('eu-west.1_a', [])).toBeNull();
    expect(tagProblem('', [])).toMatch(/empty/);
    expect(tagProblem('Web', [])).toMatch(/lower case/);
    expect(tagProblem('a b', [])).toMatch(/only a-z/);
    expect(tagProblem('x'.repeat(33), [])).toMatch(/32/);
    expect(tagProblem('x'.repeat(32), [])).toBeNull();
    expect(tagProblem('web', ['web'])).toMatch(/already/);
    expect(tagProblem('new', Array.from({ length: 16 }, (_, i) => `t${i}`))).toMatch(/at most 16/);
  });

  it('filter the overview from its address, one tag at a time', () => {
    expect(tagOfSearch('?tag=web')).toBe('web');
    expect(tagOfSearch('?view=x')).toBe('');
    expect(overviewPath('db')).toBe('/?tag=db');
    expect(overviewPath('')).toBe('/');
    const items = servers.map((server) => ({ server }));
    expect(withTag(items, 'web').map((i) => i.server.id)).toEqual([1]);
    expect(withTag(items, '')).toBe(items);
    expect(fleetTags([...servers, { id: 3, tags: ['web', 'db'] }])).toEqual([
      { tag: 'db', count: 1 },
      { tag: 'web', count: 2 },
    ]);
  });

  it('put the chosen tag in the address', async () => {
    window.history.replaceState(null, '', '/');
    render(<TagFilter servers={servers} tag="" />);
    await userEvent.selectOptions(screen.getByLabelText('Show the servers with the tag'), 'web');
    expect(window.location.pathname + window.location.search).toBe('/?tag=web');
    window.history.replaceState(null, '', '/');
  });
});

describe('durations', () => {
  it('follow the API grammar', () => {
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration(' 1.5d ')).toBe(129_600_000);
    expect(parseDuration('0m')).toBeNull();
    expect(parseDuration('2 hours')).toBeNull();
    expect(parseDuration('')).toBeNull();
  });
});

// --- the server page -------------------------------------------------------------

function Page({ id }) {
  const { servers: list } = useFleet();
  const server = list?.find((s) => s.id === id);
  return (
    <>
      <RemovedNotice />
      {server ? <ServerOps server={server} onChanged={() => {}} /> : <p>no server</p>}
    </>
  );
}

const renderPage = async (id = 1) => {
  render(
    <FleetProvider>
      <Page id={id} />
    </FleetProvider>,
  );
  await screen.findByTestId('server-ops');
};

const openPanel = async () => {
  await userEvent.click(await screen.findByText(/^Manage /));
};

describe('the server page for an admin', () => {
  it('shows no admin action before signing in, and the silence to everyone', async () => {
    servers[0].silence = { id: 9, ends_at: ago(-3600), reason: 'kernel upgrade', tag: null };
    await renderPage();
    expect(screen.queryByTestId('admin-panel')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'End silence' })).not.toBeInTheDocument();
    expect(screen.getByTestId('silence-note')).toHaveTextContent(/Silenced until .* kernel upgrade/);
  });

  it('renames a server, showing the API refusal next to the field', async () => {
    signIn();
    await renderPage();
    await openPanel();
    const form = screen.getByRole('form', { name: 'Rename' });
    const name = within(form).getByLabelText('Name');
    await userEvent.clear(name);
    await userEvent.click(within(form).getByRole('button', { name: 'Rename' }));
    expect(within(form).getByRole('alert')).toHaveTextContent('a name is 1 to 100 characters');
    expect(writes()).toEqual([]);
    await userEvent.type(name, 'frontend-01');
    await userEvent.click(within(form).getByRole('button', { name: 'Rename' }));
    expect(await within(form).findByRole('status')).toHaveTextContent('Saved');
    expect(writes()).toEqual([{ method: 'PATCH', path: '/api/servers/1', body: { name: 'frontend-01' }, token: ADMIN }]);
    expect(servers[0].name).toBe('frontend-01');
  });

  it('adds and removes tags, refusing a bad one before and after the API', async () => {
    signIn();
    await renderPage();
    await openPanel();
    const form = screen.getByRole('form', { name: 'Add a tag' });
    await userEvent.type(within(form).getByLabelText('New tag'), 'Prod');
    await userEvent.click(within(form).getByRole('button', { name: 'Add tag' }));
    expect(within(form).getByRole('alert')).toHaveTextContent('a tag is in lower case');
    expect(writes()).toEqual([]);
    await userEvent.clear(within(form).getByLabelText('New tag'));
    await userEvent.type(within(form).getByLabelText('New tag'), 'prod');
    await userEvent.click(within(form).getByRole('button', { name: 'Add tag' }));
    await waitFor(() => expect(servers[0].tags).toEqual(['web', 'prod']));
    const list = screen.getByRole('list', { name: 'Tags' });
    expect(await within(list).findByText('prod')).toBeInTheDocument();
    await userEvent.click(within(list).getByRole('button', { name: 'Remove the tag web' }));
    await waitFor(() => expect(servers[0].tags).toEqual(['prod']));
    expect(writes().map((w) => w.body)).toEqual([{ tags: ['web', 'prod'] }, { tags: ['prod'] }]);
  });

  it('shows the API 400 for a tag next to the field', async () => {
    signIn();
    // Whatever the page lets through, the API's answer is the one shown.
    refuseTags = { field: 'tags[1]', reason: 'this tag is reserved' };
    await renderPage();
    await openPanel();
    const form = screen.getByRole('form', { name: 'Add a tag' });
    await userEvent.type(within(form).getByLabelText('New tag'), 'db');
    await userEvent.click(within(form).getByRole('button', { name: 'Add tag' }));
    expect(await within(form).findByRole('alert')).toHaveTextContent('this tag is reserved');
    expect(servers[0].tags).toEqual(['web']);
  });

  it('silences a server for a period with a reason, and ends the silence', async () => {
    signIn();
    await renderPage();
    await openPanel();
    const form = screen.getByRole('form', { name: 'Silence notifications' });
    await userEvent.click(within(form).getByRole('button', { name: 'Silence' }));
    expect(within(form).getByRole('alert')).toHaveTextContent('say why');
    await userEvent.clear(within(form).getByLabelText('Period'));
    await userEvent.type(within(form).getByLabelText('Period'), '2 hours');
    await userEvent.type(within(form).getByLabelText('Reason'), 'disk swap');
    await userEvent.click(within(form).getByRole('button', { name: 'Silence' }));
    expect(within(form).getByRole('alert')).toHaveTextContent('a duration such as');
    await userEvent.clear(within(form).getByLabelText('Period'));
    await userEvent.type(within(form).getByLabelText('Period'), '2h');
    await userEvent.click(within(form).getByRole('button', { name: 'Silence' }));
    expect(await screen.findByTestId('silence-note')).toHaveTextContent('disk swap');
    expect(writes()).toEqual([{ method: 'POST', path: '/api/silences', body: { server_id: 1, duration: '2h', reason: 'disk swap' }, token: ADMIN }]);
    await userEvent.click(screen.getByRole('button', { name: 'End silence' }));
    await waitFor(() => expect(screen.queryByTestId('silence-note')).not.toBeInTheDocument());
    expect(writes().at(-1)).toMatchObject({ method: 'DELETE', path: '/api/silences/1' });
  });

  it('creates a share link and shows its URL once', async () => {
    signIn();
    await renderPage();
    await openPanel();
    await userEvent.click(screen.getByRole('button', { name: 'Create a share link' }));
    const created = await screen.findByTestId('created-share');
    expect(within(created).getByLabelText('Share link')).toHaveValue('http://vigie.test/share/vgs_abc');
    expect(writes()).toEqual([{ method: 'POST', path: '/api/shares', body: { server_id: 1, expires_in: '7d' }, token: ADMIN }]);
  });

  it('removes a server after a confirmation that says what goes, and drops it everywhere', async () => {
    signIn();
    await renderPage();
    await openPanel();
    await userEvent.click(screen.getByRole('button', { name: 'Remove this server…' }));
    const dialog = screen.getByRole('dialog', { name: 'Remove web-01?' });
    expect(dialog).toHaveTextContent(/the server web-01 itself/);
    expect(dialog).toHaveTextContent(/samples and its history/);
    expect(dialog).toHaveTextContent(/its alerts/);
    expect(dialog).toHaveTextContent(/share links/);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(writes()).toEqual([]);
    await userEvent.click(screen.getByRole('button', { name: 'Remove this server…' }));
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Remove web-01' }));
    expect(await screen.findByTestId('removed-notice')).toHaveTextContent('web-01 was removed');
    expect(screen.getByText('no server')).toBeInTheDocument();
    expect(writes()).toEqual([{ method: 'DELETE', path: '/api/servers/1', body: undefined, token: ADMIN }]);
    expect(wasRemoved(1)).toBe(true);
  });

  it('drops a server another browser removed (server-removed) and leaves its page', async () => {
    window.history.replaceState(null, '', '/servers/2');
    await renderPage(2);
    act(() => relay.socket.send('server-removed', { server_id: 2 }));
    expect(await screen.findByTestId('removed-notice')).toHaveTextContent('db-01 was removed');
    expect(window.location.pathname).toBe('/');
    expect(screen.getByText('no server')).toBeInTheDocument();
  });
});

describe('the fleet after a removal', () => {
  it('forgets the server and its alerts, even from a list requested before', () => {
    const alert = { server_id: 1, type: 'cpu', state: 'firing', value: 95, threshold: 90, started_at: ago(30) };
    let state = fleetReducer({ servers: null, alerts: {}, sparks: {} }, { type: 'servers', servers, requestedAt: 1 });
    state = fleetReducer(state, { type: 'alerts', alerts: [alert], requestedAt: 1 });
    state = fleetReducer(state, { type: 'removed', server_id: 1 });
    expect(state.servers.map((s) => s.id)).toEqual([2]);
    expect(state.alerts).toEqual({});
    state = fleetReducer(state, { type: 'servers', servers, requestedAt: 2 });
    expect(state.servers.map((s) => s.id)).toEqual([2]);
  });

  it('takes a rename and new tags from a status event', () => {
    let state = fleetReducer({ servers: null, alerts: {}, sparks: {} }, { type: 'servers', servers, requestedAt: 1 });
    state = fleetReducer(state, { type: 'status', status: { server_id: 2, is_active: true, last_seen: ago(0), name: 'db-02', tags: ['db'] }, at: 2 });
    expect(state.servers[1]).toMatchObject({ name: 'db-02', tags: ['db'] });
  });
});

describe('the alert rules editor', () => {
  it('says which values are the defaults and which the server sets', async () => {
    rules[1] = { cpu: { threshold: 75, enabled: true } };
    render(<AlertRulesEditor serverId={1} canEdit={false} />);
    const cpu = (await screen.findByTestId('alert-rules')).querySelector('[data-rule="cpu"]');
    expect(cpu.querySelector('[data-field="threshold"]')).toHaveTextContent('75this server');
    expect(cpu.querySelector('[data-field="for_samples"]')).toHaveTextContent('3default');
    const ram = screen.getByTestId('alert-rules').querySelector('[data-rule="ram"]');
    expect(ram.querySelector('[data-field="threshold"]')).toHaveTextContent('90default');
    expect(screen.queryByRole('button', { name: /Edit/ })).not.toBeInTheDocument();
  });

  it('edits one rule keeping the others, shows a refusal by its field, and resets to the defaults', async () => {
    signIn();
    rules[1] = { disk: { threshold: 95, enabled: true } };
    render(<AlertRulesEditor serverId={1} canEdit />);
    await userEvent.click(await screen.findByRole('button', { name: 'Edit the CPU rule' }));
    const form = screen.getByRole('form', { name: 'CPU rule' });
    const threshold = within(form).getByLabelText('Threshold (%)');
    await userEvent.clear(threshold);
    await userEvent.type(threshold, '150');
    // The browser's own range check is not the one under test here.
    form.noValidate = true;
    await userEvent.click(within(form).getByRole('button', { name: 'Save CPU rule' }));
    expect(await within(form).findByRole('alert')).toHaveTextContent('less than or equal to 100');
    await userEvent.clear(threshold);
    await userEvent.type(threshold, '80');
    await userEvent.click(within(form).getByRole('button', { name: 'Save CPU rule' }));
    await waitFor(() => expect(screen.queryByRole('form', { name: 'CPU rule' })).not.toBeInTheDocument());
    expect(writes().at(-1).body).toEqual({ disk: { threshold: 95, enabled: true }, cpu: { threshold: 80, enabled: true } });
    const cpu = screen.getByTestId('alert-rules').querySelector('[data-rule="cpu"]');
    expect(cpu.querySelector('[data-field="threshold"]')).toHaveTextContent('80this server');
    await userEvent.click(screen.getByRole('button', { name: 'Reset the CPU rule to the defaults' }));
    await waitFor(() => expect(cpu.querySelector('[data-field="threshold"]')).toHaveTextContent('90default'));
    expect(writes().at(-1).body).toEqual({ disk: { threshold: 95, enabled: true } });
  });

  it('sends only what changed or was already the server own', () => {
    const rule = { threshold: 90, for_samples: 3, clear_margin: 5, enabled: true };
    expect(overrideFrom(rule, undefined, { ...rule, for_samples: '6' })).toEqual({ for_samples: 6, enabled: true });
    expect(overrideFrom(rule, { clear_margin: 5 }, rule)).toEqual({ clear_margin: 5, enabled: true });
  });
});

describe('a silence note', () => {
  it('says until when and why, and the tag that silences it', () => {
    const now = Date.parse('2026-02-04T10:00:00Z');
    render(<SilenceNote silence={{ id: 1, ends_at: '2026-02-04T12:30:00Z', reason: 'maintenance', tag: 'web' }} now={now} compact />);
    expect(screen.getByTestId('silence-note')).toHaveTextContent('Silenced until 12:30:00 (tag web) · maintenance');
  });
});

describe('a tag shared by a link', () => {
  afterEach(() => auth.initShare('/'));

  it('lists its servers, each opening its page under the link, and says when the link stops working', async () => {
    auth.initShare('/share/vgs_tag');
    servers[1].tags = ['web'];
    render(
      <FleetProvider>
        <SharedView route={{ page: 'share', token: 'vgs_tag', id: null }} />
      </FleetProvider>,
    );
    const links = await screen.findAllByRole('link');
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['/share/vgs_tag/1', '/share/vgs_tag/2']);
    expect(requests.every((r) => r.token === 'vgs_tag')).toBe(true);
    expect(screen.queryByRole('button', { name: 'Sign in as admin' })).not.toBeInTheDocument();
    // Revoked: the relay refuses the socket, the API its requests.
    act(() => auth.reportAuthProblem(new Error('this share link is not valid (revoked or expired)')));
    expect(screen.getByTestId('share-ended')).toHaveTextContent('no longer works');
    expect(screen.queryByRole('link')).not.toBeInTheDocument();
  });
});
