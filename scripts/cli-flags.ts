// What the command-line scripts (privacy.ts, experiment/cli.ts) share about their flags: the
// error a mistake raises, strict parsing that says which flag is wrong, and decimal numbers only.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the arguments: reported as one line and exit code 2, never with a stack. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Flags = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with no positionals and no unknown flags; its refusals become UsageErrors in a line. */
export function parseFlags(argv: string[], options: Flags): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new UsageError(parseArgsMessage(error as Error));
  }
}

// Decimal notation only: Number() would also take '', '0x10', ' 1 ' and 'Infinity'.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** The number a flag's text writes in decimal notation; NaN for anything else. */
export function decimal(raw: string): number {
  return DECIMAL.test(raw) ? Number(raw) : NaN;
}

/** Node's parseArgs wording, first sentence only; the rest is advice about positionals these commands do not take. */
function parseArgsMessage(error: Error): string {
  const option = /'(--[\w-]+)/.exec(error.message)?.[1];
  // "--rounds --delta 1e-5" and "--delta -1" both land here: a value is missing or starts with '-'.
  if (option && error.message.includes('ambiguous')) return `${option} needs a value (one that starts with '-' is written ${option}=-…)`;
  return `${error.message.split(/\.\s/)[0]} (see --help)`;
}
