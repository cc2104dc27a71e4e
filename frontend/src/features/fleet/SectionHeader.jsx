// A section of the overview grouped by tag (/?group=tag): its header, a row of
// the cards' virtual list or of the table.

/** A section's header (the overview grouped by tag): its tag, how many servers,
 * how many of them in trouble. */
export default function SectionHeader({ section, as: Element = 'h2', className = '' }) {
  const { tag, count, trouble } = section;
  return (
    <Element
      className={`flex flex-wrap items-baseline gap-x-3 gap-y-1 ${className}`}
      data-testid="section-header"
      data-section={tag ?? ''}
      data-count={count}
      data-trouble={trouble}
    >
      <span className={`font-semibold ${tag == null ? 'italic text-slate-600 dark:text-slate-300' : ''}`}>{tag ?? 'untagged'}</span>
      <span className="text-sm font-normal text-slate-500 dark:text-slate-400">
        {count} server{count === 1 ? '' : 's'}
      </span>
      <span className={`text-sm ${trouble ? 'font-semibold text-red-700 dark:text-red-400' : 'font-normal text-slate-500 dark:text-slate-400'}`}>
        {trouble} in trouble
      </span>
    </Element>
  );
}
