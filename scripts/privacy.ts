// `npm run privacy -- --sampling-rate 0.01 --noise-multiplier 1.1 --rounds 10000`  → {"epsilon":…,"order":…}
// `npm run privacy -- --sampling-rate 0.01 --target-epsilon 8 --rounds 10000`      → {"noiseMultiplier":…}
// Plans a DP run before it starts: what ε a setting spends, or what noise a budget needs, by the
// same accountant the coordinator charges rounds with (shared/fl/accountant.ts). One JSON line on
// stdout, so scripts can read it; mistakes in the arguments get one line on stderr and exit code 2.
import { decimal, parseFlags, UsageError } from './cli-flags.ts';
import { pathToFileURL } from 'node:url';
import { DEFAULT_DP_DELTA, epsilonSpent, noiseMultiplierFor, type RdpConversion } from '../shared/fl/accountant.ts';

export const USAGE = `usage: npm run privacy -- --sampling-rate Q --rounds T (--noise-multiplier Z | --target-epsilon E) [--delta D] [--conversion balle2020|mironov2017]

  --sampling-rate Q      chance that a client takes part in a round (Poisson sampling), in [0, 1]
  --rounds T             number of noisy rounds, an integer >= 0
  --noise-multiplier Z   noise std in units of the clip norm, > 0: prints {"epsilon": …, "order": …}
  --target-epsilon E     budget, > 0: prints {"noiseMultiplier": …}, the smallest z that keeps ε <= E
  --delta D              δ in (0, 1); default ${DEFAULT_DP_DELTA}
  --conversion C         RDP to (ε, δ): balle2020 (default, tighter) or mironov2017
  --help                 this text`;

export { UsageError };

/** A valid question without an answer (no z ≤ 1000 keeps the budget): one line, exit code 1. */
export class PlanError extends Error {}

interface Common {
  samplingRate: number;
  rounds: number;
  delta: number;
  conversion: RdpConversion;
}

export type PrivacyQuery =
  | { kind: 'help' }
  | ({ kind: 'epsilon'; noiseMultiplier: number } & Common)
  | ({ kind: 'noiseMultiplier'; targetEpsilon: number } & Common);

const OPTIONS = {
  'sampling-rate': { type: 'string' },
  rounds: { type: 'string' },
  'noise-multiplier': { type: 'string' },
  'target-epsilon': { type: 'string' },
  delta: { type: 'string' },
  conversion: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;


/** `allowed` reads after "must be": 'a number in [0, 1]'. */
function numberOption(values: Record<string, string | boolean | undefined>, name: string, allowed: string, isAllowed: (x: number) => boolean): number {
  const raw = values[name];
  if (raw === undefined) throw new UsageError(`--${name} is missing: give ${allowed} (see --help)`);
  const x = typeof raw === 'string' ? decimal(raw) : NaN;
  if (Number.isNaN(x) || !isAllowed(x)) throw new UsageError(`--${name} must be ${allowed}, got '${String(raw)}'`);
  return x;
}

/** The question the arguments ask; throws UsageError saying what is wrong and what is allowed. */
export function parsePrivacyArgs(argv: string[]): PrivacyQuery {
  const values = parseFlags(argv, OPTIONS);
  if (values.help) return { kind: 'help' };
  const hasNoise = values['noise-multiplier'] !== undefined;
  const hasTarget = values['target-epsilon'] !== undefined;
  if (hasNoise === hasTarget) {
    throw new UsageError(
      hasNoise
        ? 'give --noise-multiplier (to get ε) or --target-epsilon (to get z), not both'
        : 'give --noise-multiplier Z (to get ε) or --target-epsilon E (to get the z it needs); see --help',
    );
  }
  const conversion = values.conversion ?? 'balle2020';
  if (conversion !== 'balle2020' && conversion !== 'mironov2017') {
    throw new UsageError(`--conversion must be balle2020 or mironov2017, got '${String(conversion)}'`);
  }
  const common: Common = {
    samplingRate: numberOption(values, 'sampling-rate', 'a number in [0, 1]', (q) => q >= 0 && q <= 1),
    rounds: numberOption(values, 'rounds', 'an integer >= 0', (t) => Number.isSafeInteger(t) && t >= 0),
    delta: values.delta === undefined ? DEFAULT_DP_DELTA : numberOption(values, 'delta', 'a number in (0, 1), e.g. 1e-5', (d) => d > 0 && d < 1),
    conversion,
  };
  if (hasNoise) {
    // z = 0 is valid for the accountant (ε = ∞), but JSON has no ∞ and no one plans a run without noise.
    const noiseMultiplier = numberOption(values, 'noise-multiplier', 'a number > 0 (without noise ε is infinite)', (z) => z > 0 && z < Infinity);
    return { kind: 'epsilon', noiseMultiplier, ...common };
  }
  const targetEpsilon = numberOption(values, 'target-epsilon', 'a number > 0', (e) => e > 0 && e < Infinity);
  return { kind: 'noiseMultiplier', targetEpsilon, ...common };
}

/** The JSON line that answers a query (not 'help'). */
export function answerPrivacyQuery(query: Exclude<PrivacyQuery, { kind: 'help' }>): string {
  const { samplingRate, rounds, delta, conversion } = query;
  if (query.kind === 'epsilon') {
    const spend = { samplingRate, noiseMultiplier: query.noiseMultiplier, rounds };
    const { epsilon, order } = epsilonSpent({ spends: [spend], delta, conversion });
    return JSON.stringify({ epsilon, order }); // order NaN (nothing spent: q = 0 or T = 0) prints as null
  }
  try {
    return JSON.stringify({ noiseMultiplier: noiseMultiplierFor({ samplingRate, targetEpsilon: query.targetEpsilon, rounds, delta, conversion }) });
  } catch (error) {
    // Every argument was checked above, so a RangeError here is the accountant saying no z fits.
    if (error instanceof RangeError) throw new PlanError(error.message);
    throw error;
  }
}

function main(argv: string[]): number {
  try {
    const query = parsePrivacyArgs(argv);
    if (query.kind === 'help') {
      console.log(USAGE);
      return 0;
    }
    console.log(answerPrivacyQuery(query));
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof PlanError) {
      console.error(`privacy: ${error.message}`);
      return error instanceof UsageError ? 2 : 1;
    }
    throw error; // our bug: the stack is what helps
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
