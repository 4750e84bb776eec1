// How numbers, durations and ids read on the dashboard. Pure, so the views stay testable in Node.

const groupedInteger = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 12345 → "12,345". */
export function formatCount(n: number): string {
  return groupedInteger.format(n);
}

/** 0.9731 → "97.31%". */
export function formatPercent(fraction: number, digits = 2): string {
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** Losses and small statistics: 4 significant digits, never exponent soup for ordinary values. */
export function formatStat(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  return magnitude >= 1e-3 && magnitude < 1e6 ? Number(value.toPrecision(4)).toString() : value.toExponential(2);
}

/** 65_000 → "1:05"; 3_723_000 → "1:02:03". Rounds up, so a countdown shows 0:00 only when it is over. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** 1_500 → "1.5 s"; 60_000 → "60 s"; 450 → "450 ms". */
export function formatDurationMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Number((ms / 1000).toPrecision(3))} s`;
}

/** Client ids are long random strings; the first 8 characters tell tabs apart on screen. */
export function shortClientId(clientId: string): string {
  return clientId.slice(0, 8);
}
