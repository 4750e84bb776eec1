// A tab's label counts as ten small bars: how skewed its data is, at a glance. Only counts cross
// the wire, never the examples. Built from elements (no innerHTML): the counts come from tabs.

/** Bar heights in percent of the tallest count (0 for an empty tab). */
export function barHeights(counts: readonly number[]): number[] {
  const tallest = Math.max(0, ...counts);
  return counts.map((c) => (tallest > 0 ? Math.round((100 * c) / tallest) : 0));
}

/** "0: 812, 1: 0, …": the tooltip, and what a screen reader reads. */
export function describeCounts(counts: readonly number[]): string {
  return counts.map((c, label) => `${label}: ${c}`).join(', ');
}

export function labelHistogram(counts: readonly number[] | null): HTMLElement {
  const box = document.createElement('span');
  box.className = 'label-histogram';
  if (!counts) {
    box.textContent = '—';
    return box;
  }
  box.title = `examples per digit: ${describeCounts(counts)}`;
  box.setAttribute('aria-label', box.title);
  box.dataset.counts = counts.join(',');
  for (const height of barHeights(counts)) {
    const bar = document.createElement('span');
    bar.className = 'label-bar';
    bar.style.height = `${Math.max(height, 4) / 5}px`; // 20 px tall at most; a hairline for 0
    if (height === 0) bar.classList.add('empty');
    box.append(bar);
  }
  return box;
}
