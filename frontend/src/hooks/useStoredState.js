import { useCallback, useState } from 'react';

function read(key, fallback, valid) {
  try {
    const raw = localStorage.getItem(key);
    if (raw === null) return fallback;
    const value = JSON.parse(raw);
    return valid(value) ? value : fallback;
  } catch {
    return fallback; // storage unavailable (some private modes) or unreadable
  }
}

/** useState remembered in this browser under `key` (JSON); a stored value that
 * `valid` refuses (an older format) counts as none. */
export function useStoredState(key, fallback, valid = () => true) {
  const [value, setValue] = useState(() => read(key, fallback, valid));
  const set = useCallback(
    (next) =>
      setValue((previous) => {
        const value = typeof next === 'function' ? next(previous) : next;
        try {
          localStorage.setItem(key, JSON.stringify(value));
        } catch {
          // Remembered for this page only.
        }
        return value;
      }),
    [key],
  );
  return [value, set];
}
