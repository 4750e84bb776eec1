// Federated evaluation (Flower's aggregate_evaluate): each tab evaluates the global model on the
// examples it holds out and never trains on, and reports accuracy, mean loss and how many examples
// it used. The coordinator's figure is the mean weighted by that count, which is exactly the
// accuracy (and mean loss) over the union of the held-out sets, as if one evaluator had seen them
// all. An unweighted mean would let a tab with 3 held-out examples count as much as one with 300.

/** One tab's report on one global model. */
export interface TabEvaluation {
  /** Fraction of its held-out examples the model classified correctly, in [0, 1]. */
  accuracy: number;
  /** Mean cross-entropy over them. */
  loss: number;
  /** How many held-out examples the figures are over (≥ 1). */
  count: number;
}

/** The tabs' reports on one global model, combined. */
export interface FederatedEvaluation {
  accuracy: number;
  loss: number;
  /** Held-out examples over all reporting tabs. */
  count: number;
  /** Tabs that reported. */
  tabs: number;
}

/** Σ count·accuracy / Σ count and the same for loss; null when nothing was reported. */
export function federatedMean(reports: Iterable<TabEvaluation>): FederatedEvaluation | null {
  let count = 0;
  let correct = 0;
  let lossSum = 0;
  let tabs = 0;
  for (const r of reports) {
    count += r.count;
    correct += r.count * r.accuracy;
    lossSum += r.count * r.loss;
    tabs++;
  }
  return count > 0 ? { accuracy: correct / count, loss: lossSum / count, count, tabs } : null;
}
