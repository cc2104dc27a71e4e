// The dashboard token (when the server sets VIGIE_DASHBOARD_TOKEN): asked for
// once, remembered in this browser, replaced when the server refuses it.
const KEY = 'vigie.dashboardToken';
const listeners = new Set();
// Where storage is unavailable (some private modes) the token lasts for the page.
let memory = '';

export function getToken() {
  if (share) return share;
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

// --- the admin token (VIGIE_ADMIN_TOKEN) ------------------------------------
// Asked for on "Sign in as admin" and kept for this browser session only (closing
// the browser signs out), like a password; only the admin actions send it.
const ADMIN_KEY = 'vigie.adminToken';
const adminListeners = new Set();
let adminMemory = '';

export function getAdminToken() {
  try {
    return sessionStorage.getItem(ADMIN_KEY) || adminMemory;
  } catch {
    return adminMemory;
  }
}

/** `reason` says why a sign-out happened ('refused': the server refused the token). */
export function setAdminToken(token, reason = null) {
  adminMemory = token || '';
  try {
    if (token) sessionStorage.setItem(ADMIN_KEY, token);
    else sessionStorage.removeItem(ADMIN_KEY);
  } catch {
    // Kept in memory only.
  }
  for (const listener of adminListeners) listener(Boolean(token), reason);
}

/** Calls `listener(signedIn, reason)` on every sign-in and sign-out. */
export function onAdminChange(listener) {
  adminListeners.add(listener);
  return () => adminListeners.delete(listener);
}

// --- share links -------------------------------------------------------------
// A page opened at /share/<token> reads with that token and nothing else: it is
// taken from the address once, when the page loads, and never stored.
export const SHARE_PATH = /^\/share\/(vgs_[A-Za-z0-9_-]+)(?:\/.*)?$/;
let share = null;

/** The share token of this page, or null when it is not a shared page. */
export function shareToken() {
  return share;
}

/** Reads the share token from `pathname` (called once at start, and by tests). */
export function initShare(pathname = typeof window !== 'undefined' ? window.location.pathname : '') {
  share = SHARE_PATH.exec(pathname)?.[1] ?? null;
  return share;
}

initShare();
