// The dashboard token (when the server sets VIGIE_DASHBOARD_TOKEN): asked for
// once, remembered in this browser, replaced when the server refuses it.
const KEY = 'vigie.dashboardToken';
const listeners = new Set();
// Where storage is unavailable (some private modes) the token lasts for the page.
let memory = '';

export function getToken() {
  try {
    return localStorage.getItem(KEY) || memory;
  } catch {
    return memory;
  }
}

export function setToken(token) {
  memory = token || '';
  try {
    if (token) localStorage.setItem(KEY, token);
    else localStorage.removeItem(KEY);
  } catch {
    // Kept in memory only.
  }
  for (const listener of listeners) listener({ kind: 'token-changed' });
}

/** Called by the API and socket services when the server wants a token it was
 * not given (`missing`) or refused the one it was given (`refused`). */
export function reportAuthProblem(error) {
  const kind = getToken() ? 'refused' : 'missing';
  for (const listener of listeners) listener({ kind, error });
}

export function onAuthEvent(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
