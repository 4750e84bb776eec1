// The centralized baseline: the same model, from the same initial weights, trained in one place
// on the union of the clients' shards with the same batch size and learning rate, for as many
// examples as the federated run shows when every client takes part every round: localEpochs
// epochs over the union per "round", `rounds` times. Evaluated after each such round on the same
// test digits by the coordinator's own evaluator, so the two curves can share an x axis.
import * as tf from '@tensorflow/tfjs';
import { buildModel, readFlatWeights, writeFlatWeights } from '../../shared/models.ts';
import type { Settings } from '../../shared/settings.ts';
import type { Mnist } from '../../server/dataset.ts';
import { initNodeBackend, TestSetEvaluator } from '../../server/evaluator.ts';
import { disposeExamples, fitLocally, toExampleTensors } from '../../web/local-training.ts';

export interface CentralizedRound {
  round: number;
  accuracy: number;
  loss: number;
  seconds: number;
}

export interface CentralizedResult {
  /** Test accuracy after the last round. */
  accuracy: number;
  accuracyPerRound: number[];
  lossPerRound: number[];
  /** Epochs over the union in all: rounds × localEpochs. */
  epochs: number;
  /** Size of the union of the shards. */
  examples: number;
  seconds: number;
}

export async function trainCentralized(settings: Settings, mnist: Mnist, onRound: (round: CentralizedRound) => void = () => {}): Promise<CentralizedResult> {
  await initNodeBackend();
  const startedAt = performance.now();
  // Every split covers each training example exactly once (shared/partition.test.ts), so the union
  // of the shards is the training set itself, whatever the split.
  const union = mnist.train;
  const evaluator = new TestSetEvaluator(mnist.test);
  const network = buildModel(tf, settings.model);
  writeFlatWeights(tf, network, evaluator.initialWeights(settings.model, settings.seed)); // the coordinator's round-1 model
  const examples = toExampleTensors(settings.model, union.pixels, union.labels);
  const fit = { epochs: settings.localEpochs, batchSize: settings.batchSize, learningRate: settings.learningRate, proximalMu: 0 };
  const accuracyPerRound: number[] = [];
  const lossPerRound: number[] = [];
  try {
    for (let round = 1; round <= settings.rounds; round++) {
      const roundStartedAt = performance.now();
      await fitLocally(network, examples, fit, () => {}, () => false);
      const { accuracy, loss } = await evaluator.evaluate(settings.model, readFlatWeights(network));
      accuracyPerRound.push(accuracy);
      lossPerRound.push(loss);
      onRound({ round, accuracy, loss, seconds: (performance.now() - roundStartedAt) / 1000 });
    }
  } finally {
    disposeExamples(examples);
    network.dispose();
  }
  return {
    accuracy: accuracyPerRound[accuracyPerRound.length - 1],
    accuracyPerRound,
    lossPerRound,
    epochs: settings.rounds * settings.localEpochs,
    examples: union.count,
    seconds: (performance.now() - startedAt) / 1000,
  };
}
