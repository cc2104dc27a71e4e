// Whether what is on screen is live: the relay connection's state.
import { useConnection } from '../hooks/useConnection.js';

const STATES = {
  connecting: { label: 'Connecting…', dot: 'bg-slate-400 animate-pulse', hint: 'Connecting to the realtime service' },
  live: { label: 'Live', dot: 'bg-emerald-500', hint: 'Receiving samples as they arrive' },
  reconnecting: {
    label: 'Reconnecting…',
    dot: 'bg-amber-500 animate-pulse',
    hint: 'The realtime connection was lost; values may be behind until it is back',
  },
  offline: { label: 'Offline', dot: 'bg-red-500', hint: 'No realtime connection; still retrying' },
  unauthorized: { label: 'Token needed', dot: 'bg-red-500', hint: 'The realtime service refused the dashboard token' },
};

export default function ConnectionIndicator() {
  const status = useConnection();
  const state = STATES[status] ?? STATES.connecting;
  return (
    <span
      role="status"
      data-testid="connection"
      data-status={status}
      title={state.hint}
      className="inline-flex items-center gap-2 rounded-full border border-slate-300 px-2.5 py-1 text-xs font-medium dark:border-slate-700"
    >
      <span className={`h-2 w-2 rounded-full ${state.dot}`} aria-hidden="true" />
      {state.label}
    </span>
  );
}
