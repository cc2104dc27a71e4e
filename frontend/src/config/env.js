// Build-time configuration, read here and nowhere else. Vite bakes
// `import.meta.env` into the bundle, so a deployment sets these when it builds
// (see the README's dashboard section); each defaults to the page's own origin.
/** Where `/api/*` is served, without a trailing slash ('' is this origin). */
export const API_BASE = (import.meta.env.VITE_API_BASE || '').replace(/\/+$/, '');

/** Where the relay's `/socket.io` is served (undefined is this origin). */
export const SOCKET_URL = import.meta.env.VITE_SOCKET_URL || undefined;
