// Federated evaluation's bookkeeping for one run: which global model each tab was sent last, the
// tabs' reports on each model, and when a model's evaluation counts as in. The math (a mean
// weighted by count) is shared/fl/federated-evaluation.ts; each run (run.ts) owns one of these
// and decides what the figures are used for.
//
// A model's evaluation is in once at least one tab reported and every tab it went to (among those
// holding out examples) has reported or left; or, at the deadline, with whatever came. The
// deadline runs from the latest send while nothing has been reported, so a retried round that
// sends the model to other tabs gives them their time. Nothing reported by the deadline: in with
// no figure (null), which only matters when the run has no test set to fall back on. Only a model
// someone waits for (whenIn) has a deadline: with a test set no timer runs at all.
import { federatedMean, type FederatedEvaluation, type TabEvaluation } from '../shared/fl/federated-evaluation.ts';
import type { EvaluationReport } from '../shared/protocol/messages.ts';
import { ClientFaultError } from './client-fault.ts';
import type { Timers } from '../shared/timers.ts';

export class EvaluationRejectedError extends ClientFaultError {
  override name = 'EvaluationRejectedError';
}

export interface EvaluationReportsDeps {
  /** The tab's held-out examples, as its ready report said (0: it cannot evaluate). */
  heldOutOf(clientId: string): number;
  isConnected(clientId: string): boolean;
  timers: Timers;
  /** How long after a send the reports may take (the run's round deadline). */
  deadlineMs(): number;
}

/** The reports on one global model (the one made by aggregating `round`). */
interface ModelReports {
  readonly round: number;
  /** Tabs the model was sent to that hold out examples: the reports to wait for. */
  readonly expected: Set<string>;
  readonly reports: Map<string, TabEvaluation>;
  /** Whether it went out to anyone yet (its deadline runs from a send). */
  sent: boolean;
  deadlineTimer: unknown;
  /** Set once the evaluation is in: its figure then, or null when the deadline passed with no report. */
  outcome: FederatedEvaluation | null | undefined;
  readonly waiters: ((outcome: FederatedEvaluation | null) => void)[];
}

export class EvaluationReports {
  /** The round of the global model each tab was sent last: the only one it may report on. */
  private readonly sentTo = new Map<string, number>();
  private readonly models = new Map<number, ModelReports>();

  constructor(private readonly deps: EvaluationReportsDeps) {}

  /** The global model of `round` went out to these tabs (in round round + 1's start, or as the final model). */
  sent(round: number, clientIds: readonly string[]): void {
    const model = this.model(round);
    for (const id of clientIds) {
      this.sentTo.set(id, round);
      if (this.deps.heldOutOf(id) > 0) model.expected.add(id);
    }
    model.sent = true;
    if (model.waiters.length > 0) this.restartDeadline(model);
    // Models two rounds back are done with (their figures are in the history): a report on one is refused as too late.
    for (const older of this.models.values()) if (older.round < round - 1) this.forget(older);
  }

  /**
   * Takes one tab's report; returns the model's figure with it. Throws EvaluationRejectedError,
   * changing nothing, when the report is not one this tab may send.
   */
  accept(clientId: string, report: EvaluationReport): FederatedEvaluation {
    const sent = this.sentTo.get(clientId);
    if (sent === undefined) {
      throw new EvaluationRejectedError(`evaluation of round ${report.round} refused: this tab was sent no model to evaluate in this run`);
    }
    if (report.round !== sent) {
      throw new EvaluationRejectedError(
        `evaluation of round ${report.round} refused: the last model this tab was sent is round ${sent}'s (${report.round < sent ? 'a late report?' : 'a round that has not been aggregated'})`,
      );
    }
    const model = this.models.get(sent);
    if (!model) throw new EvaluationRejectedError(`evaluation of round ${report.round} refused: too late, the run has moved on`);
    if (model.reports.has(clientId)) {
      throw new EvaluationRejectedError(`evaluation refused: this tab already reported on round ${report.round}'s model`);
    }
    const heldOut = this.deps.heldOutOf(clientId);
    if (report.count > heldOut) {
      throw new EvaluationRejectedError(
        `evaluation refused: it counts ${report.count} examples, the tab reported ${heldOut} held out when it got ready`,
      );
    }
    model.reports.set(clientId, { accuracy: report.accuracy, loss: report.loss, count: report.count });
    this.settleIfComplete(model);
    return federatedMean(model.reports.values())!;
  }

  /** The figure on round `round`'s model so far; null before any report. */
  result(round: number): FederatedEvaluation | null {
    const model = this.models.get(round);
    return model ? federatedMean(model.reports.values()) : null;
  }

  /** Whether round `round`'s model's evaluation is in (see the top of the file). */
  isIn(round: number): boolean {
    return this.models.get(round)?.outcome !== undefined;
  }

  /** Resolves when round `round`'s model's evaluation is in (see the top of the file). */
  whenIn(round: number): Promise<FederatedEvaluation | null> {
    const model = this.model(round);
    if (model.outcome !== undefined) return Promise.resolve(model.outcome);
    const outcome = new Promise<FederatedEvaluation | null>((resolve) => model.waiters.push(resolve));
    if (model.sent) this.restartDeadline(model);
    return outcome;
  }

  /** A tab left: the reports still awaited may all be in. */
  clientsChanged(): void {
    for (const model of this.models.values()) this.settleIfComplete(model);
  }

  /** Stops the deadlines (the run is over or replaced). */
  dispose(): void {
    for (const model of this.models.values()) {
      this.deps.timers.clearTimeout(model.deadlineTimer);
      model.deadlineTimer = undefined;
    }
  }

  private model(round: number): ModelReports {
    let model = this.models.get(round);
    if (!model) {
      model = { round, expected: new Set(), reports: new Map(), sent: false, deadlineTimer: undefined, outcome: undefined, waiters: [] };
      this.models.set(round, model);
    }
    return model;
  }

  /** (Re)starts the deadline; once a report is in, a running deadline stands. */
  private restartDeadline(model: ModelReports): void {
    if (model.outcome !== undefined || (model.reports.size > 0 && model.deadlineTimer !== undefined)) return;
    this.deps.timers.clearTimeout(model.deadlineTimer);
    model.deadlineTimer = this.deps.timers.setTimeout(() => this.settle(model), this.deps.deadlineMs());
  }

  private settleIfComplete(model: ModelReports): void {
    if (model.outcome !== undefined || model.reports.size === 0) return;
    for (const id of model.expected) if (!model.reports.has(id) && this.deps.isConnected(id)) return;
    this.settle(model);
  }

  private settle(model: ModelReports): void {
    if (model.outcome !== undefined) return;
    this.deps.timers.clearTimeout(model.deadlineTimer);
    model.outcome = federatedMean(model.reports.values());
    for (const resolve of model.waiters.splice(0)) resolve(model.outcome);
  }

  private forget(model: ModelReports): void {
    this.settle(model); // nobody waits on a model this old; if someone did, they get what came
    this.models.delete(model.round);
  }
}
