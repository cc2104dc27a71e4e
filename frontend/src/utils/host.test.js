import { describe, expect, it } from 'vitest';
import {
  cpuSplit,
  deviceSeries,
  devicesWithRates,
  formatCelsius,
  formatLoad,
  formatUptime,
  latestTop,
  loadLevel,
  loadPercent,
  scalarSeries,
  temperatureLevel,
} from './host.js';
import { at, sample } from './samples.fixture.js';

describe('load', () => {
  it('reads against the CPU count', () => {
    expect(loadPercent(2, 4)).toBe(50);
    expect(loadPercent(2, 0)).toBeNull();
    expect(loadPercent(undefined, 4)).toBeNull();
    expect(loadLevel(3.9, 4)).toBe('ok');
    expect(loadLevel(4, 4)).toBe('warning');
    expect(loadLevel(6, 4)).toBe('critical');
    expect(loadLevel(1, undefined)).toBe('unknown');
  });

  it('is written with the digits that matter', () => {
    expect(formatLoad(0.421)).toBe('0.42');
    expect(formatLoad(3.14)).toBe('3.1');
    expect(formatLoad(12.6)).toBe('13');
    expect(formatLoad(null)).toBe('—');
  });
});

describe('formatters', () => {
  it('writes uptime in its two largest units', () => {
    expect(formatUptime(42)).toBe('42 s');
    expect(formatUptime(17 * 60 + 5)).toBe('17 min');
    expect(formatUptime(5 * 3600 + 12 * 60)).toBe('5 h 12 min');
    expect(formatUptime(12 * 86400 + 3 * 3600 + 59)).toBe('12 d 3 h');
    expect(formatUptime(-1)).toBe('—');
  });

  it('writes temperatures in whole degrees, coloured by level', () => {
    expect(formatCelsius(52.4)).toBe('52 °C');
    expect(formatCelsius(undefined)).toBe('—');
    expect(temperatureLevel(69.9)).toBe('ok');
    expect(temperatureLevel(70)).toBe('warning');
    expect(temperatureLevel(85)).toBe('critical');
  });
});

describe('cpuSplit', () => {
  it('gives the four parts, or nothing for an older collector', () => {
    const split = cpuSplit({ cpu_user_percent: 30, cpu_system_percent: 10, cpu_iowait_percent: 5 });
    expect(split.map((p) => [p.label, p.value])).toEqual([
      ['user', 30],
      ['system', 10],
      ['iowait', 5],
      ['steal', 0],
    ]);
    expect(cpuSplit(sample(0))).toBeNull();
  });
});

describe('devicesWithRates', () => {
  const disks = (second, read, write, busy) => ({
    ...sample(second),
    disks: [{ name: 'sda', read_mb: read, write_mb: write, reads: 1, writes: 1, busy_ms: busy }],
  });

  it('keeps the API rates when the sample has them', () => {
    const s = { ...disks(10, 50, 50, 0), disks: [{ name: 'sda', read_mb: 50, read_mb_s: 7, write_mb_s: 8, busy_percent: 9 }] };
    const [sda] = devicesWithRates(s, disks(5, 0, 0, 0), 'disks');
    expect([sda.read_mb_s, sda.write_mb_s, sda.busy_percent]).toEqual([7, 8, 9]);
  });

  it('derives them from the previous sample otherwise, across a reset', () => {
    const [sda] = devicesWithRates(disks(10, 150, 20, 2500), disks(5, 100, 10, 0), 'disks');
    expect(sda.read_mb_s).toBe(10);
    expect(sda.write_mb_s).toBe(2);
    expect(sda.busy_percent).toBe(50); // 2500 ms busy over 5 s
    // A counter that went down was reset (a reboot): all it counted is new.
    const [after] = devicesWithRates(disks(15, 5, 20, 0), disks(10, 150, 20, 2500), 'disks');
    expect(after.read_mb_s).toBe(1);
  });

  it('has no rate for a device it saw first, and no list for an older collector', () => {
    const now = { ...sample(10), interfaces: [{ name: 'eth1', sent_mb: 5, recv_mb: 5, counted: true }] };
    const before = { ...sample(5), interfaces: [{ name: 'eth0', sent_mb: 1, recv_mb: 1, counted: true }] };
    expect(devicesWithRates(now, before, 'interfaces')[0].sent_mb_s).toBeNull();
    expect(devicesWithRates(sample(10), null, 'interfaces')).toEqual([]);
  });
});

describe('latestTop', () => {
  const top = { cpu: [{ pid: 1 }], memory: [] };
  it('keeps the last top processes seen while samples come without them', () => {
    const first = latestTop({ ...sample(0), top_processes: top }, null);
    expect(first).toEqual({ top, at: at(0) });
    expect(latestTop(sample(5), first)).toBe(first);
    expect(latestTop({ ...sample(5), top_processes: top, top_processes_at: at(3) }, first).at).toBe(at(3));
  });
});

describe('history series', () => {
  const buckets = [
    { recorded_at: at(0), load_1: 1, filesystems: [{ mount: '/', percent: 40 }, { mount: '/srv', percent: 70 }] },
    { recorded_at: at(60), load_1: 2, filesystems: [{ mount: '/', percent: 41 }] },
  ];
  it('makes one row per bucket and one column per device', () => {
    const { rows, names } = deviceSeries(buckets, 'filesystems', 'mount', 'percent');
    expect(names).toEqual(['/', '/srv']);
    expect(rows).toEqual([
      { t: Date.parse(at(0)), '/': 40, '/srv': 70 },
      { t: Date.parse(at(60)), '/': 41 },
    ]);
    expect(scalarSeries(buckets, ['load_1', 'load_5'])).toEqual([
      { t: Date.parse(at(0)), load_1: 1, load_5: null },
      { t: Date.parse(at(60)), load_1: 2, load_5: null },
    ]);
  });
});
