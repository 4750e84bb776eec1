// Remembers the measured backend choice per device (this browser) and model,
// so the probe's few seconds are spent once, not on every visit.
import type { ModelName } from '../../shared/model-spec.ts';
import type { BackendChoice } from '../worker-protocol.ts';

const key = (model: ModelName) => `flock.backend.v1.${model}`;

export function loadBackendChoice(model: ModelName): BackendChoice | null {
  try {
    const text = localStorage.getItem(key(model));
    return text ? (JSON.parse(text) as BackendChoice) : null;
  } catch (error) {
    console.warn(`ignoring the remembered backend choice: ${(error as Error).message}`);
    return null;
  }
}

export function saveBackendChoice(model: ModelName, choice: BackendChoice): void {
  localStorage.setItem(key(model), JSON.stringify(choice));
}
