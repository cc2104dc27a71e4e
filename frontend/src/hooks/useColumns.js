import { useEffect, useState } from 'react';

// The overview's card grid: Tailwind's sm and xl breakpoints (640, 1280 px).
const QUERIES = [
  ['(min-width: 1280px)', 3],
  ['(min-width: 640px)', 2],
];

function columns() {
  if (typeof window === 'undefined' || !window.matchMedia) return 1;
  for (const [query, n] of QUERIES) if (window.matchMedia(query).matches) return n;
  return 1;
}

/** How many cards a row of the overview holds at this width. */
export function useColumns() {
  const [n, setN] = useState(columns);
  useEffect(() => {
    if (!window.matchMedia) return undefined;
    const lists = QUERIES.map(([query]) => window.matchMedia(query));
    const update = () => setN(columns());
    for (const list of lists) list.addEventListener?.('change', update);
    return () => {
      for (const list of lists) list.removeEventListener?.('change', update);
    };
  }, []);
  return n;
}
