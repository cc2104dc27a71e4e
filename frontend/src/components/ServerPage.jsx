// One server: its numbers now, the last minutes live, its history and alerts;
// and, from a collector that sends them, load, swap, every filesystem, device
// throughput, temperatures and the top processes.
import { useEffect } from 'react';
import { useFleet } from '../features/fleet/useFleet.jsx';
import { useNow } from '../hooks/useNow.js';
import { useLinkHandler } from '../hooks/useRoute.js';
import { REALTIME_WINDOW_MS, useServerMetrics } from '../hooks/useServerMetrics.js';
import { useServerAlerts } from '../hooks/useServerAlerts.js';
import { useHistoryRange } from '../hooks/useHistory.js';
import ServerOps from '../features/ops/ServerOps.jsx';
import { shareToken } from '../services/auth.js';
import { formatAgo, formatGiB, formatMiB, formatRate, formatUsedTotal } from '../utils/formatters.js';
import { isStale, serverHealth } from '../utils/levels.js';
import HistoryChart from './HistoryChart.jsx';
import MetricsCard, { PercentCard } from './MetricsCard.jsx';
import RealtimeChart from './RealtimeChart.jsx';
import ServerAlerts from './ServerAlerts.jsx';
import AlertProcesses from './AlertProcesses.jsx';
import DeviceIo from './DeviceIo.jsx';
import Filesystems from './Filesystems.jsx';
import HostCards from './HostCards.jsx';
import Temperatures from './Temperatures.jsx';
import TopProcesses from './TopProcesses.jsx';
import WideHistory from './WideHistory.jsx';
import { useWideLive } from '../hooks/useWideLive.js';
import { HealthBadge, Presence } from './StatusBits.jsx';

// The cards of a share of a resource: its metric, its title, and what it is a share of.
const PERCENT_CARDS = [
  { metric: 'cpu', title: 'CPU' },
  { metric: 'ram', title: 'Memory', detail: (s) => formatUsedTotal(s?.ram_used_mb, s?.ram_total_mb, formatMiB) },
  { metric: 'disk', title: 'Disk', detail: (s) => formatUsedTotal(s?.disk_used_gb, s?.disk_total_gb, formatGiB) },
];

function BackLink() {
  const link = useLinkHandler();
  // A shared page shows this server and nothing else.
  if (shareToken()) return null;
  return (
    <a href="/" onClick={link} className="text-sm text-sky-700 hover:underline dark:text-sky-400">
      ← All servers
    </a>
  );
}

export default function ServerPage({ serverId }) {
  const { server, latest, points, loading, error, reload } = useServerMetrics(serverId);
  const alerts = useServerAlerts(serverId);
  // Started with the rest, not after the live data: no waterfall.
  const historyView = useHistoryRange(serverId);
  const { activeAlerts } = useFleet();
  const now = useNow(2000);
  // The wide sample's parts (absent from an older collector's samples).
  const wide = useWideLive(latest, REALTIME_WINDOW_MS);

  const name = server ? server.name || server.hostname : null;
  useEffect(() => {
    if (name) document.title = `${name} · Vigie`;
    return () => {
      document.title = 'Vigie';
    };
  }, [name]);

  if (error && !server) {
    const missing = error.status === 404;
    return (
      <div className="space-y-3">
        <BackLink />
        <p role="alert" className="rounded-lg bg-red-50 p-4 text-red-800 dark:bg-red-500/10 dark:text-red-300">
          {missing ? `There is no server number ${serverId}.` : `This server could not be loaded: ${error.message}`}
        </p>
      </div>
    );
  }
  if (loading || !server) {
    return (
      <div className="space-y-3">
        <BackLink />
        <p className="text-slate-500" aria-busy="true">
          Loading…
        </p>
      </div>
    );
  }

  const interval = server.interval_seconds || 5;
  const stale = !latest || !server.is_active || isStale(latest.recorded_at, interval, now);
  const withLatest = latest
    ? { ...server, latest: { cpu_percent: latest.cpu_percent, ram_percent: latest.ram_percent, disk_percent: latest.disk_percent, recorded_at: latest.recorded_at } }
    : server;
  const health = serverHealth(withLatest, activeAlerts, now);
  const staleNote = latest ? `as of ${formatAgo(latest.recorded_at, now)}` : 'no sample yet';

  return (
    <div className="space-y-6">
      <div>
        <BackLink />
        <div className="mt-2 flex flex-wrap items-center gap-3">
          <h1 className="text-2xl font-semibold">{name}</h1>
          <HealthBadge health={health} />
        </div>
        <p className="mt-1 text-sm text-slate-600 dark:text-slate-300">
          {[server.hostname !== name ? server.hostname : null, server.ip_address, server.os_type].filter(Boolean).join(' · ')}
          {server.hostname !== name || server.ip_address || server.os_type ? ' · ' : ''}
          <Presence server={withLatest} now={now} /> · a sample every {interval} s
        </p>
      </div>

      <ServerOps server={server} onChanged={reload} />

      <section aria-labelledby="alerts-title">
        <h2 id="alerts-title" className="mb-2 text-sm font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400">
          Alerts
        </h2>
        <ServerAlerts alerts={alerts} server={withLatest} now={now} />
      </section>

      <div className="grid grid-cols-2 gap-3 sm:gap-4 lg:grid-cols-4" data-testid="metrics-cards">
        {PERCENT_CARDS.map(({ metric, title, detail }) => (
          <PercentCard
            key={metric}
            title={title}
            metric={metric}
            percent={latest?.[`${metric}_percent`]}
            detail={detail?.(latest)}
            stale={stale}
            staleNote={staleNote}
          />
        ))}
        <MetricsCard
          title="Network"
          value={`↓ ${formatRate(latest?.network_recv_mb_s)}`}
          detail={`↑ ${formatRate(latest?.network_sent_mb_s)} sent`}
          stale={stale}
          staleNote={staleNote}
        />
      </div>

      <HostCards sample={latest && { ...latest, process_count: wide.processCount }} stale={stale} staleNote={staleNote} />

      <RealtimeChart points={points} windowMs={REALTIME_WINDOW_MS} now={now} intervalSeconds={interval} />

      <div className="grid gap-4 lg:grid-cols-2">
        <Filesystems filesystems={latest?.filesystems} stale={stale} />
        <TopProcesses top={wide.top?.top} at={wide.top?.at} now={now} />
        <Temperatures temperatures={latest?.temperatures} stale={stale} />
      </div>
      <AlertProcesses alerts={alerts} now={now} />
      <div className="grid gap-4 lg:grid-cols-2">
        <DeviceIo kind="interfaces" devices={wide.interfaces} trail={wide.trail} windowMs={REALTIME_WINDOW_MS} now={now} />
        <DeviceIo kind="disks" devices={wide.disks} trail={wide.trail} windowMs={REALTIME_WINDOW_MS} now={now} />
      </div>

      <HistoryChart view={historyView} intervalSeconds={interval} />
      {latest && (latest.load_1 != null || latest.filesystems) ? (
        <WideHistory serverId={serverId} view={historyView} intervalSeconds={interval} cpuCount={latest.cpu_count} />
      ) : null}
    </div>
  );
}
