// `npm run experiment -- --partition dirichlet --alpha 0.5 --strategy fedprox --clients 10 --rounds 50`
// A federated run through the real coordinator with simulated clients in worker threads
// (harness/experiment/), optionally beside its centralized baseline. Progress on stderr, one line
// per round; the last line on stdout is one JSON object (run-experiment.ts ExperimentResult).
// Mistakes in the flags: one line on stderr, exit code 2.
import { pathToFileURL } from 'node:url';
import { SettingsError } from '../shared/settings.ts';
import { parseExperimentArgs, USAGE, UsageError, type ExperimentArgs } from './experiment-cli.ts';
import { ExperimentError, runExperiment } from '../harness/experiment/run-experiment.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);

function describe(args: ExperimentArgs): string {
  const s = args.settings;
  const split =
    s.partition === 'dirichlet' ? `dirichlet α = ${s.dirichletAlpha}` : s.partition === 'shards' ? `shards, ${s.classesPerClient} classes per client` : s.partition;
  return `${args.strategy}, ${args.clients} clients, ${split}, ${s.rounds} rounds × ${s.localEpochs} local epochs (batch ${s.batchSize}, lr ${s.learningRate}), model ${s.model}`;
}

async function main(argv: string[]): Promise<number> {
  let args: ExperimentArgs;
  try {
    const parsed = parseExperimentArgs(argv);
    if (parsed.kind === 'help') {
      console.log(USAGE);
      return 0;
    }
    args = parsed;
  } catch (error) {
    if (error instanceof UsageError || error instanceof SettingsError) {
      say(`experiment: ${error.message}`);
      return 2;
    }
    throw error;
  }
  say(`experiment: ${describe(args)}`);
  try {
    const result = await runExperiment({
      settings: args.settings,
      strategy: args.strategy,
      clients: args.clients,
      target: args.target,
      centralized: args.centralized,
      workers: args.workers,
      onNote: (line) => say(`  ${line}`),
      onRound: (r) =>
        say(
          `round ${String(r.round).padStart(3)}/${r.rounds}  accuracy ${r.accuracy.toFixed(4)}  loss ${r.loss.toFixed(4)}  ` +
            `${r.participants}/${r.selected} participants  ${r.seconds.toFixed(1)} s`,
        ),
      onCentralizedRound: (r) =>
        say(`centralized ${String(r.round).padStart(3)}/${args.settings.rounds}  accuracy ${r.accuracy.toFixed(4)}  loss ${r.loss.toFixed(4)}  ${r.seconds.toFixed(1)} s`),
    });
    console.log(JSON.stringify(result));
    return 0;
  } catch (error) {
    if (error instanceof ExperimentError) {
      say(`experiment: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Everything this command started is closed by now, so the process ends by itself. Should a
      // timer or socket of someone else's keep it alive, say so and end anyway: the result is out.
      setTimeout(() => {
        say('experiment: something still held the event loop 5 s after the run ended (a leaked timer or socket?); exiting');
        process.exit(code);
      }, 5_000).unref();
    },
    (error: unknown) => {
      // Not a usage mistake: our bug or the machine's, and the stack is what helps.
      console.error('experiment: failed:', error);
      process.exitCode = 1;
    },
  );
}
