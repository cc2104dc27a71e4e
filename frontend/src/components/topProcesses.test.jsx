// The top processes as the API sends them: currentMetrics.fixture.json is a
// real GET /api/metrics/current/:id answer (tests/test_server_page_wide_e2e.py
// checks it still is). Each name is shown whole, beside its user.
import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { latestTop } from '../utils/host.js';
import current from './currentMetrics.fixture.json';
import AlertProcesses from './AlertProcesses.jsx';
import TopProcesses from './TopProcesses.jsx';

const now = Date.parse(current.recorded_at) + 10_000;
const names = (root) => within(root).getAllByTestId('process-name');

// jsdom lays nothing out, so the rule behind the first-letter names is checked
// on the classes: a cell allowed to shrink to nothing (max-w-0) has to claim the
// table's free width (w-full), or the browser gives it none.
function expectRoomForNames(root) {
  for (const cell of names(root)) {
    expect(cell.tagName).toBe('TD');
    if (cell.classList.contains('max-w-0')) expect(cell.classList.contains('w-full')).toBe(true);
  }
}

describe('the top processes of a real current sample', () => {
  it('show every name whole, with its user, pid and figures', () => {
    const shown = latestTop(current, null);
    render(<TopProcesses top={shown.top} at={shown.at} now={now} />);
    const section = screen.getByTestId('top-processes');
    const all = [...current.top_processes.cpu, ...current.top_processes.memory];
    expect(names(section).map((cell) => cell.firstChild.textContent)).toEqual(all.map((p) => p.name));
    const rows = within(section).getAllByTestId('top-process');
    expect(rows[0]).toHaveTextContent('gunicorn');
    expect(rows[0]).toHaveTextContent('root');
    expect(rows[0]).toHaveTextContent('41.5%');
    expect(names(section)[2]).toHaveAttribute('title', 'systemd-journald (pid 77)');
    expectRoomForNames(section);
  });

  it('show the same whole names when stored with an alert', () => {
    // GET /api/alerts: the same lists, with the time they were sampled.
    const top = { ...current.top_processes, recorded_at: current.top_processes_at };
    const alerts = [{ id: 7, type: 'cpu', state: 'firing', value: 95, threshold: 90, started_at: current.recorded_at, top_processes: top }];
    render(<AlertProcesses alerts={alerts} now={now} />);
    const section = screen.getByTestId('alert-processes');
    expect(names(section).map((cell) => cell.firstChild.textContent)).toContain('systemd-journald');
    expectRoomForNames(section);
  });
});
