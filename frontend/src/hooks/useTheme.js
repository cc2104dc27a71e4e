import { useCallback, useEffect, useState } from 'react';

const KEY = 'vigie.theme';
export const THEMES = ['system', 'light', 'dark'];

function stored() {
  try {
    const value = localStorage.getItem(KEY);
    return THEMES.includes(value) ? value : 'system';
  } catch {
    return 'system';
  }
}

function systemDark() {
  return typeof window !== 'undefined' && window.matchMedia?.('(prefers-color-scheme: dark)').matches;
}

/** Light or dark: the system's choice unless the viewer picked one. The class
 * on <html> drives Tailwind's `dark:` variant (index.html sets it before the
 * first paint). */
export function useTheme() {
  const [theme, setThemeState] = useState(stored);
  const [dark, setDark] = useState(() => (theme === 'system' ? systemDark() : theme === 'dark'));

  useEffect(() => {
    const media = window.matchMedia?.('(prefers-color-scheme: dark)');
    const apply = () => {
      const isDark = theme === 'system' ? Boolean(media?.matches) : theme === 'dark';
      document.documentElement.classList.toggle('dark', isDark);
      document.documentElement.style.colorScheme = isDark ? 'dark' : 'light';
      setDark(isDark);
    };
    apply();
    if (theme !== 'system' || !media) return undefined;
    media.addEventListener('change', apply);
    return () => media.removeEventListener('change', apply);
  }, [theme]);

  const setTheme = useCallback((next) => {
    try {
      if (next === 'system') localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, next);
    } catch {
      // The choice lasts for this page only.
    }
    setThemeState(next);
  }, []);

  return { theme, dark, setTheme };
}
