// Whether central DP can work at a room's size, said before Start. Each round's mean update
// carries noise of norm about z_Δ·C·√P / W (std z_Δ·C/W per value, P values), against an update
// whose norm is at most C: the ratio z_Δ·√P / W does not depend on C. A rule of thumb, not a
// theorem: over many rounds the noise partly averages out, so SGD tolerates a ratio of a few, but
// at tens the model does not move from chance (measured: 3 tabs, the MLP, z 1.1, q 1 → ~10 %).
import { deltaNoiseMultiplier } from './adaptive-clipping.ts';

/** Above this the noise drowns the update. */
export const HOPELESS_NOISE_TO_SIGNAL = 10;
/** What to aim for when suggesting a room size. */
const WORKABLE_NOISE_TO_SIGNAL = 3;

export interface DpRoom {
  noiseMultiplier: number;
  samplingRate: number;
  adaptiveClipping: boolean;
  clipCountNoise: number;
  /** The tabs the guarantee is about (settings.population, or those that joined). */
  populationSize: number;
  paramCount: number;
}

/** ‖noise‖ / max ‖update‖ on one round's mean, with DP weights of 1 (W = q·N). */
export function noiseToSignal(r: DpRoom): number {
  const z = r.adaptiveClipping ? deltaNoiseMultiplier(r.noiseMultiplier, r.clipCountNoise) : r.noiseMultiplier;
  return (z * Math.sqrt(r.paramCount)) / (r.samplingRate * r.populationSize);
}

/** A sentence for the dashboard when DP cannot work at this size; null when it can (or there is no DP, or no tab yet). */
export function dpWarning(r: DpRoom): string | null {
  if (!(r.noiseMultiplier > 0) || !(r.populationSize > 0)) return null;
  const ratio = noiseToSignal(r);
  if (ratio <= HOPELESS_NOISE_TO_SIGNAL) return null;
  const needed = Math.ceil((ratio / WORKABLE_NOISE_TO_SIGNAL) * r.populationSize);
  return (
    `with ${r.populationSize} tab${r.populationSize === 1 ? '' : 's'} and sampling rate ${r.samplingRate}, the DP noise on each round's mean update is ` +
    `about ${Math.round(ratio)}× the update itself: the model will stay near chance. DP needs about ${needed.toLocaleString('en-US')} tabs at these settings ` +
    `(or less noise, which spends more ε; or a smaller model)`
  );
}
