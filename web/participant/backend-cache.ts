// Remembers the measured backend per model in localStorage, so a reload skips the
// few seconds of probing. Versioned key: a new probe method bumps v1 and old
// measurements are ignored rather than trusted.
import type { ModelName } from '../../shared/model-spec.ts';
import { BACKENDS, type BackendName } from '../../shared/protocol/records.ts';
import type { BackendChoice, ProbeResult } from '../worker-protocol.ts';

function keyFor(model: ModelName): string {
  return `flock.backend.v1.${model}`;
}

export function loadBackendChoice(model: ModelName): BackendChoice | null {
  const text = localStorage.getItem(keyFor(model));
  if (text === null) return null;
  try {
    const choice = parseChoice(JSON.parse(text));
    if (choice) return choice;
  } catch (error) {
    console.warn(`ignoring unreadable ${keyFor(model)}:`, error);
  }
  localStorage.removeItem(keyFor(model));
  return null;
}

export function saveBackendChoice(model: ModelName, choice: BackendChoice): void {
  localStorage.setItem(keyFor(model), JSON.stringify(choice));
}

export function forgetBackendChoice(model: ModelName): void {
  localStorage.removeItem(keyFor(model));
}

// localStorage is input from outside the program: check the shape before trusting it.
function parseChoice(value: unknown): BackendChoice | null {
  if (typeof value !== 'object' || value === null) return null;
  const { backend, reason, probe } = value as Record<string, unknown>;
  if (!isBackend(backend) || typeof reason !== 'string' || !Array.isArray(probe)) return null;
  const results = probe.map(parseProbeResult);
  if (results.some((r) => r === null)) return null;
  return { backend, reason, probe: results as ProbeResult[] };
}

function parseProbeResult(value: unknown): ProbeResult | null {
  if (typeof value !== 'object' || value === null) return null;
  const { backend, examplesPerSec, note } = value as Record<string, unknown>;
  if (!isBackend(backend) || typeof note !== 'string') return null;
  if (examplesPerSec !== null && (typeof examplesPerSec !== 'number' || !(examplesPerSec > 0))) return null;
  return { backend, examplesPerSec, note };
}

function isBackend(value: unknown): value is BackendName {
  return typeof value === 'string' && (BACKENDS as readonly string[]).includes(value);
}
