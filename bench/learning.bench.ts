// How well federated training learns, against training in one place: FedAvg, FedProx, FedAvgM and
// FedAdam (harness/experiment/strategy-presets.ts) × four splits of the training digits over 10
// clients, each cell a real run through the coordinator with simulated clients in worker threads
// (harness/experiment/run-experiment.ts). Per cell: the first round at ≥ 95 % test accuracy, the
// accuracy after ROUNDS rounds, and its ratio to the centralized baseline's (the same model on the
// union of the shards for as many examples: ROUNDS × localEpochs epochs). The union is every
// training digit whatever the split, so the baseline is trained once. The per-round curves go to
// bench/results/learning.json (`npm run plot-learning` draws them), with the table as markdown.
import type { Settings } from '../shared/settings.ts';
import { loadMnist } from '../server/dataset.ts';
import { trainCentralized } from '../harness/experiment/centralized.ts';
import { runExperiment } from '../harness/experiment/run-experiment.ts';
import { experimentSettings, type StrategyName } from '../harness/experiment/strategy-presets.ts';
import type { BenchRow } from './measure.ts';

const CLIENTS = 10;
// 20 rounds × 2 local epochs: the 16 runs and the baseline take about 20–25 minutes on 2 cores.
const ROUNDS = 20;
const TARGET = 0.95;
const STRATEGIES: StrategyName[] = ['fedavg', 'fedprox', 'fedavgm', 'fedadam'];
const STRATEGY_TITLES: Record<string, string> = { fedavg: 'FedAvg', fedprox: 'FedProx', fedavgm: 'FedAvgM', fedadam: 'FedAdam' };
const PARTITIONS: { id: string; title: string; settings: Partial<Settings> }[] = [
  { id: 'iid', title: 'IID', settings: { partition: 'iid' } },
  { id: 'dirichlet-0.5', title: 'Dirichlet α = 0.5', settings: { partition: 'dirichlet', dirichletAlpha: 0.5 } },
  { id: 'dirichlet-0.1', title: 'Dirichlet α = 0.1', settings: { partition: 'dirichlet', dirichletAlpha: 0.1 } },
  { id: 'shards-2', title: '2 classes per client', settings: { partition: 'shards', classesPerClient: 2 } },
];
/** Report, don't fail: the best strategy's federated / centralized accuracy under these splits. */
const RATIO_TARGETS: Record<string, number> = { iid: 0.99, 'dirichlet-0.5': 0.97 };

export interface LearningCell {
  partition: string;
  strategy: StrategyName;
  finalAccuracy: number;
  roundsToTarget: number | null;
  ratio: number;
  accuracyPerRound: number[];
  lossPerRound: number[];
  seconds: number;
}

const percent = (x: number) => 100 * x;

export async function learning(): Promise<{ rows: BenchRow[]; extra: Record<string, unknown> }> {
  const startedAt = performance.now();
  const mnist = loadMnist();
  const say = (line: string) => console.log(`  ${line}`);

  const baseSettings = experimentSettings(CLIENTS, 'fedavg', { rounds: ROUNDS });
  const centralized = await trainCentralized(baseSettings, mnist);
  say(
    `centralized: ${centralized.epochs} epochs over ${centralized.examples} digits, accuracy ${centralized.accuracy.toFixed(4)} (${centralized.seconds.toFixed(0)} s)`,
  );

  const cells: LearningCell[] = [];
  for (const partition of PARTITIONS) {
    for (const strategy of STRATEGIES) {
      const settings = experimentSettings(CLIENTS, strategy, { rounds: ROUNDS, ...partition.settings });
      const result = await runExperiment({ settings, strategy, clients: CLIENTS, target: TARGET, centralized: false, mnist });
      const cell: LearningCell = {
        partition: partition.id,
        strategy,
        finalAccuracy: result.finalAccuracy,
        roundsToTarget: result.roundsToTarget,
        ratio: result.finalAccuracy / centralized.accuracy,
        accuracyPerRound: result.accuracyPerRound,
        lossPerRound: result.lossPerRound,
        seconds: result.timing.totalSeconds,
      };
      cells.push(cell);
      say(
        `${strategy} × ${partition.id}: accuracy ${cell.finalAccuracy.toFixed(4)} after ${ROUNDS} rounds, ` +
          `${cell.roundsToTarget === null ? `${percent(TARGET)} % not reached` : `${percent(TARGET)} % at round ${cell.roundsToTarget}`}, ` +
          `${cell.ratio.toFixed(3)} of centralized (${cell.seconds.toFixed(0)} s)`,
      );
    }
  }

  const rows: BenchRow[] = [{ name: `learning: centralized, ${centralized.epochs} epochs`, figure: percent(centralized.accuracy), unit: '% test accuracy' }];
  for (const cell of cells) {
    const name = `learning ${cell.strategy} × ${cell.partition}`;
    rows.push(
      { name: `${name}: rounds to ${percent(TARGET)} %`, figure: cell.roundsToTarget ?? NaN, unit: `rounds (— not within ${ROUNDS})` },
      { name: `${name}: accuracy after ${ROUNDS} rounds`, figure: percent(cell.finalAccuracy), unit: '% test accuracy' },
      { name: `${name}: federated / centralized`, figure: percent(cell.ratio), unit: '%' },
    );
  }
  for (const [partition, target] of Object.entries(RATIO_TARGETS)) {
    const best = bestCell(cells.filter((c) => c.partition === partition));
    rows.push({ name: `learning best (${best.strategy}) × ${partition}: federated / centralized`, figure: percent(best.ratio), unit: '%', target: percent(target), targetIs: 'atLeast' });
  }

  const markdownTable = learningTable(cells, centralized.accuracy, centralized.epochs);
  console.log(`\n${markdownTable}\n`);
  const minutes = (performance.now() - startedAt) / 60_000;
  say(`learning bench: ${minutes.toFixed(1)} minutes`);
  return {
    rows,
    extra: {
      clients: CLIENTS,
      rounds: ROUNDS,
      target: TARGET,
      localEpochs: baseSettings.localEpochs,
      batchSize: baseSettings.batchSize,
      learningRate: baseSettings.learningRate,
      strategies: STRATEGIES.map((id) => ({ id, title: STRATEGY_TITLES[id], settings: experimentSettings(CLIENTS, id) })),
      partitions: PARTITIONS.map(({ id, title }) => ({ id, title })),
      centralized: { accuracy: centralized.accuracy, accuracyPerRound: centralized.accuracyPerRound, epochs: centralized.epochs, examples: centralized.examples, seconds: centralized.seconds },
      cells,
      minutes,
      markdownTable,
    },
  };
}

function bestCell(cells: LearningCell[]): LearningCell {
  return cells.reduce((best, c) => (c.finalAccuracy > best.finalAccuracy ? c : best));
}

/** Strategies down, splits across; each cell: accuracy after ROUNDS rounds · first round ≥ target · ratio to centralized. */
function learningTable(cells: LearningCell[], centralizedAccuracy: number, epochs: number): string {
  const header = ['strategy', ...PARTITIONS.map((p) => p.title)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const strategy of STRATEGIES) {
    const row = PARTITIONS.map((p) => {
      const cell = cells.find((c) => c.partition === p.id && c.strategy === strategy)!;
      const reached = cell.roundsToTarget === null ? 'not reached' : `round ${cell.roundsToTarget}`;
      return `${cell.finalAccuracy.toFixed(3)} · ${reached} · ${cell.ratio.toFixed(3)}`;
    });
    lines.push(`| ${STRATEGY_TITLES[strategy]} | ${row.join(' | ')} |`);
  }
  lines.push(`| centralized (${epochs} epochs) | ${PARTITIONS.map(() => centralizedAccuracy.toFixed(3)).join(' | ')} |`);
  return lines.join('\n');
}
