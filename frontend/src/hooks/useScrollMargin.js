import { useLayoutEffect, useState } from 'react';

/** How far below the top of the page `ref`'s element starts: a list that the
 * window scrolls (a window virtualizer) counts its rows from there. */
export function useScrollMargin(ref) {
  const [margin, setMargin] = useState(0);
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return undefined;
    const update = () => setMargin(Math.round(element.getBoundingClientRect().top + window.scrollY));
    update();
    // What is above it (the alert banner, the summary) may change its height.
    const observer = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(update) : null;
    observer?.observe(document.body);
    window.addEventListener('resize', update);
    return () => {
      observer?.disconnect();
      window.removeEventListener('resize', update);
    };
  }, [ref]);
  return margin;
}
