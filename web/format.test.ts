import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAgo, formatBytes, formatCountdown, formatStat } from './format.ts';

test('countdowns round up, so 0:00 means over', () => {
  assert.equal(formatCountdown(65_000), '1:05');
  assert.equal(formatCountdown(3_723_000), '1:02:03');
  assert.equal(formatCountdown(100), '0:01');
  assert.equal(formatCountdown(-5), '0:00');
});

test('stats keep 4 significant digits', () => {
  assert.equal(formatStat(0.30000000000000004), '0.3');
  assert.equal(formatStat(2.302585), '2.303');
  assert.equal(formatStat(1e-5), '1.00e-5');
});

test('bytes in decimal units with 3 significant digits', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(812), '812 B');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1000), '1 kB');
  // one mlp weight vector: 199,210 float32 values plus a 72-byte header
  assert.equal(formatBytes(796_912), '797 kB');
  assert.equal(formatBytes(8 * 796_912), '6.38 MB');
  assert.equal(formatBytes(999_600), '1 MB');
  assert.equal(formatBytes(4.04e9), '4.04 GB');
});

test('ages read coarsely', () => {
  assert.equal(formatAgo(400), 'just now');
  assert.equal(formatAgo(-300), 'just now'); // a clock a little ahead of the server's
  assert.equal(formatAgo(42_900), '42 s ago');
  assert.equal(formatAgo(185_000), '3 min ago');
  assert.equal(formatAgo(2 * 3600_000 + 5), '2 h ago');
});
