// How numbers, durations and ids read on Flock's pages (dashboard, participant, probe notes). Pure, so views stay testable in Node.

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

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** 812 → "812 B"; 1_594_000 → "1.59 MB" (decimal units, 3 significant digits). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 999.5 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${Number(value.toPrecision(3))} ${BYTE_UNITS[unit]}`;
}

/** How long ago, coarsely: "just now", "42 s ago", "3 min ago", "2 h ago". */
export function formatAgo(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000);
  if (seconds < 2) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}
