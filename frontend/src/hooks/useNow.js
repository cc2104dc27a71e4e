import { useEffect, useState } from 'react';

/** The current time, refreshed every `everyMs`: "2 min ago" and staleness move
 * on even when no data arrives. */
export function useNow(everyMs = 5000) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
