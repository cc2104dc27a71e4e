// Whether this browser session is signed in as admin: the admin token checked
// with GET /api/admin, kept for the session (services/auth.js).
import { useCallback, useEffect, useState } from 'react';
import { checkAdminToken } from '../../services/api.js';
import { getAdminToken, onAdminChange, setAdminToken, shareToken } from '../../services/auth.js';

/** { signedIn, refused, signIn(token) -> Promise<boolean>, signOut() }. A shared
 * page (a share link) is never signed in. */
export function useAdmin() {
  const [signedIn, setSignedIn] = useState(() => !shareToken() && Boolean(getAdminToken()));
  const [refused, setRefused] = useState(false);
  useEffect(
    () =>
      onAdminChange((now, reason) => {
        setSignedIn(now && !shareToken());
        setRefused(!now && reason === 'refused');
      }),
    [],
  );
  const signIn = useCallback(async (token) => {
    const value = token.trim();
    if (!value || shareToken()) return false;
    const ok = await checkAdminToken(value);
    if (ok) setAdminToken(value);
    return ok;
  }, []);
  const signOut = useCallback(() => setAdminToken(''), []);
  return { signedIn, refused, signIn, signOut };
}
