import { useCallback, useEffect, useState } from 'react';

// Two pages do not need a router library: the History API and one listener.
const listeners = new Set();

export function navigate(path) {
  if (path === window.location.pathname + window.location.search) return;
  window.history.pushState(null, '', path);
  for (const listener of listeners) listener();
  window.scrollTo?.(0, 0);
}

/** The current route: { page: 'overview' }, { page: 'server', id }, { page: 'shares' },
 * { page: 'share', token, id } or { page: 'not-found' }. */
export function matchRoute(pathname) {
  const server = /^\/servers\/(\d+)\/?$/.exec(pathname);
  if (server) return { page: 'server', id: Number(server[1]) };
  // A share link's page: /share/<token>, and its servers /share/<token>/<id>.
  const share = /^\/share\/([^/]+)(?:\/(\d+))?\/?$/.exec(pathname);
  if (share) return { page: 'share', token: share[1], id: share[2] ? Number(share[2]) : null };
  if (pathname === '/shares' || pathname === '/shares/') return { page: 'shares' };
  if (pathname === '/' || pathname === '') return { page: 'overview' };
  return { page: 'not-found' };
}

export function useRoute() {
  const [path, setPath] = useState(() => window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return matchRoute(path);
}

/** onClick for an <a href>: in-page navigation, unless the viewer asked for a
 * new tab or window. */
export function useLinkHandler() {
  return useCallback((event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const href = event.currentTarget.getAttribute('href');
    if (!href || !href.startsWith('/')) return;
    event.preventDefault();
    navigate(href);
  }, []);
}

/** The address's query string (location.search), kept current like useRoute. */
export function useSearch() {
  const [search, setSearch] = useState(() => window.location.search);
  useEffect(() => {
    const update = () => setSearch(window.location.search);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return search;
}
