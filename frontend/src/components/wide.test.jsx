import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { extendTrail, trailRow } from '../hooks/useWideLive.js';
import { at, sample } from '../utils/samples.fixture.js';
import AlertProcesses from './AlertProcesses.jsx';
import { trailRows } from './DeviceIo.jsx';
import Filesystems from './Filesystems.jsx';
import HostCards from './HostCards.jsx';
import Temperatures from './Temperatures.jsx';
import TopProcesses from './TopProcesses.jsx';
import { groupChart } from './WideHistory.jsx';

const now = Date.parse(at(120));
const wide = {
  ...sample(100),
  load_1: 3.2,
  load_5: 2.1,
  load_15: 1.5,
  cpu_count: 4,
  cpu_user_percent: 30,
  cpu_system_percent: 10,
  cpu_iowait_percent: 5,
  cpu_steal_percent: 0,
  swap_used_mb: 512,
  swap_total_mb: 2048,
  swap_percent: 25,
  uptime_seconds: 3 * 86400 + 7200,
  process_count: 212,
};
const top = {
  cpu: [
    { pid: 812, name: 'postgres', user: 'postgres', cpu_percent: 61.5, rss_mb: 300 },
    { pid: 90, name: 'nginx', user: 'www-data', cpu_percent: 3, rss_mb: 20 },
  ],
  memory: [{ pid: 700, name: 'java', user: null, cpu_percent: 1, rss_mb: 4096 }],
};

describe('HostCards', () => {
  it('shows load against the CPU count, the split, swap and uptime', () => {
    render(<HostCards sample={wide} />);
    const load = screen.getByRole('region', { name: 'Load' });
    expect(within(load).getByTestId('metric-value')).toHaveTextContent('3.2');
    expect(load).toHaveTextContent('on 4 CPUs');
    expect(load).toHaveAttribute('data-level', 'ok');
    expect(screen.getByRole('region', { name: 'CPU split' })).toHaveTextContent('iowait5.0%');
    expect(screen.getByRole('region', { name: 'Swap' })).toHaveTextContent('512 MiB / 2 GiB');
    expect(screen.getByRole('region', { name: 'Uptime' })).toHaveTextContent('3 d 2 h212 processes');
  });

  it('shows nothing for a sample of an older collector, and says when there is no swap', () => {
    const { container } = render(<HostCards sample={sample(0)} />);
    expect(container).toBeEmptyDOMElement();
    render(<HostCards sample={{ ...sample(0), swap_total_mb: 0, swap_used_mb: 0, swap_percent: 0 }} />);
    expect(screen.getByRole('region', { name: 'Swap' })).toHaveTextContent('no swap space');
  });
});

describe('Filesystems', () => {
  it('draws a bar per filesystem, fullest first, coloured by level', () => {
    const filesystems = [
      { mount: '/', device: '/dev/sda2', fstype: 'ext4', used_gb: 40, total_gb: 100, percent: 40, inodes_percent: 3 },
      { mount: '/srv', device: '/dev/sdb1', fstype: 'xfs', used_gb: 950, total_gb: 1000, percent: 95, inodes_percent: null },
    ];
    render(<Filesystems filesystems={filesystems} />);
    const bars = screen.getAllByTestId('filesystem-bar');
    expect(bars.map((b) => b.dataset.mount)).toEqual(['/srv', '/']);
    expect(bars.map((b) => b.dataset.level)).toEqual(['critical', 'ok']);
    expect(bars[1]).toHaveTextContent('inodes 3.0%');
    expect(bars[0]).not.toHaveTextContent('inodes');
  });

  it('is absent without filesystems', () => {
    const { container } = render(<Filesystems filesystems={undefined} />);
    expect(container).toBeEmptyDOMElement();
  });
});

describe('TopProcesses', () => {
  it('lists the busiest processes by CPU and by memory, with when they were seen', () => {
    render(<TopProcesses top={top} at={at(90)} now={now} />);
    const section = screen.getByTestId('top-processes');
    expect(section).toHaveTextContent('seen 30 s ago');
    const rows = within(section).getAllByTestId('top-process');
    expect(rows.map((r) => r.dataset.pid)).toEqual(['812', '90', '700']);
    expect(rows[0]).toHaveTextContent('postgres');
    expect(rows[0]).toHaveTextContent('61.5%');
    expect(rows[2]).toHaveTextContent('4 GiB');
  });

  it('shows the top processes stored with each alert', () => {
    const alerts = [
      { id: 1, type: 'cpu', state: 'firing', value: 95, threshold: 90, started_at: at(60), top_processes: top },
      { id: 3, type: 'filesystem', device: '/srv', state: 'firing', value: 96, threshold: 90, started_at: at(70), top_processes: top },
      { id: 2, type: 'ram', state: 'resolved', value: 91, threshold: 90, started_at: at(10) },
    ];
    render(<AlertProcesses alerts={alerts} now={now} />);
    const items = screen.getAllByTestId('alert-top-processes');
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent('CPU 95.0% (threshold 90.0%)');
    expect(items[1]).toHaveTextContent('on /srv');
    expect(within(items[0]).getAllByTestId('top-process')).toHaveLength(3);
  });
});

describe('Temperatures', () => {
  it('lists sensors hottest first', () => {
    render(
      <Temperatures
        temperatures={[
          { sensor: 'acpitz/1', celsius: 30 },
          { sensor: 'coretemp/Package id 0', celsius: 88 },
        ]}
      />,
    );
    const items = within(screen.getByTestId('temperatures')).getAllByRole('listitem');
    expect(items.map((i) => i.textContent)).toEqual(['coretemp/Package id 088 °C', 'acpitz/130 °C']);
    expect(items[0]).toHaveAttribute('data-level', 'critical');
  });
});

describe('device throughput', () => {
  const withDevices = (second, extra) => ({ ...sample(second), ...extra });
  it('keeps one trail row per sample over the window', () => {
    const row = (second) =>
      trailRow(withDevices(second), [{ name: 'sda', read_mb_s: second, write_mb_s: 1, busy_percent: 2 }], [{ name: 'eth0.100', sent_mb_s: 1, recv_mb_s: 2 }]);
    let trail = [];
    for (const second of [0, 5, 5, 10]) trail = extendTrail(trail, row(second), Date.parse(at(second)) - 6000);
    expect(trail.map((r) => r.t)).toEqual([Date.parse(at(5)), Date.parse(at(10))]);
    // Columns by position: a name with a dot is not read as a path.
    expect(trailRows(trail, 'interfaces', ['eth0.100'], { factor: 1 })).toEqual([
      { t: Date.parse(at(5)), d0_recv: 2, d0_sent: 1 },
      { t: Date.parse(at(10)), d0_recv: 2, d0_sent: 1 },
    ]);
  });

  it('charts a per-device history group in one unit', () => {
    const points = [
      { t: 0, interfaces: [{ name: 'eth0', recv_mb_s: 2, sent_mb_s: 1 }] },
      { t: 60_000, interfaces: [{ name: 'eth0', recv_mb_s: 0.5, sent_mb_s: null }, { name: 'wg0', recv_mb_s: 0.1, sent_mb_s: 0.1 }] },
    ];
    const chart = groupChart('interfaces', points);
    expect(chart.lines.map((l) => l.name)).toEqual(['eth0 received', 'eth0 sent', 'wg0 received', 'wg0 sent']);
    expect(chart.unitLabel).toBe('MiB/s');
    expect(chart.rows[1]).toEqual({ t: 60_000, d0_0: 0.5, d0_1: null, d1_0: 0.1, d1_1: 0.1 });
    expect(groupChart('load', [{ t: 0, load_1: 1 }]).rows).toEqual([{ t: 0, load_1: 1, load_1_max: null, load_5: null, load_15: null }]);
  });
});
