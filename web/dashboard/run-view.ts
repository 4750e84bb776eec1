// What the status panel says about a RunState at a given moment. Pure: the page
// re-derives it every tick (for the countdown) and tests call it with a fixed clock.
import type { Phase, RunState } from '../../shared/protocol/records.ts';
import { formatCountdown } from '../format.ts';

const RUNNING_PHASES: readonly Phase[] = ['waiting', 'training', 'aggregating', 'evaluating'];

const PHASE_LABELS: Record<Phase, string> = {
  idle: 'Idle',
  waiting: 'Waiting for tabs',
  training: 'Training',
  aggregating: 'Aggregating',
  evaluating: 'Evaluating',
  done: 'Done',
  stopped: 'Stopped',
};

export interface RunView {
  phase: Phase;
  phaseLabel: string;
  running: boolean;
  /** "Round 3 of 20" (plus the attempt when a round is retried); "Not started" before the first run. */
  roundText: string;
  /** Completed rounds / planned rounds, 0..1, for the progress bar (1 once done). */
  progress: number;
  /** "2 of 4 selected tabs answered"; empty outside a round. */
  answeredText: string;
  /** "0:42 left" while a deadline runs; empty otherwise. */
  countdownText: string;
  canStart: boolean;
  canStop: boolean;
  /** Reset (fresh weights, history cleared) is offered between runs. */
  canReset: boolean;
  /** "3 of 20" for the projector; "0 of 20" before the first round. */
  roundOfText: string;
}

export function isRunning(phase: Phase): boolean {
  return RUNNING_PHASES.includes(phase);
}

/** `serverNowMs`: the coordinator's clock now (the page's clock plus the offset RunState.serverNow gives). */
export function describeRun(state: RunState, serverNowMs: number): RunView {
  const running = isRunning(state.phase);
  const plannedRounds = state.settings.rounds;
  const retry = state.attempt > 1 ? ` (attempt ${state.attempt})` : '';
  const roundText = state.round === 0 ? 'Not started' : `Round ${state.round} of ${plannedRounds}${running ? retry : ''}`;
  const inRound = state.selected.length > 0;
  const answeredText = inRound ? `${state.answered.length} of ${state.selected.length} selected tabs answered` : '';
  const countdownText =
    running && state.deadlineAt !== null ? `${formatCountdown(state.deadlineAt - serverNowMs)} left` : '';
  return {
    phase: state.phase,
    phaseLabel: PHASE_LABELS[state.phase],
    running,
    roundText,
    // A run that reached its target accuracy early is complete, whatever the round count says.
    progress: state.phase === 'done' ? 1 : Math.min(1, state.history.length / plannedRounds),
    answeredText,
    countdownText,
    canStart: !running,
    canStop: running,
    canReset: !running && (state.round > 0 || state.history.length > 0 || state.phase !== 'idle'),
    roundOfText: `${state.round} of ${plannedRounds}`,
  };
}
