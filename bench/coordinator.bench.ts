// A real coordinator under load: 100 headless participants × mlp-large (1,010,850 parameters)
// on loopback. Round overhead, dropped connections and bytes on the wire.
//
// The coordinator runs in this process (buildApp, the real test-set evaluator); the participants
// run in a child process (harness/headless-participant.ts --json), so the two share no event loop
// and each has one of the two cores. Instrumented from the outside, nothing added to the product:
//   last update received   observeIncoming (fires once Socket.IO has decoded the message)
//   evaluation time        a wrapper around the real TestSetEvaluator
//   round:start sent       a wrapper around coordinator.transport.sendRoundStart: it returns once
//                          the frame is handed to every socket
//   round:start received   the participants' own clock (same machine, same wall clock)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { modelSpec } from '../shared/model-spec.ts';
import { resolveSettings } from '../shared/settings.ts';
import { encodedByteLength } from '../shared/wire.ts';
import { buildApp } from '../server/app.ts';
import { loadMnist } from '../server/dataset.ts';
import { TestSetEvaluator } from '../server/evaluator.ts';
import type { Evaluator } from '../server/evaluator.ts';
import { DEFAULT_LIMITS } from '../server/limits/transport-limits.ts';
import type { BenchRow } from './measure.ts';
import { epochMs, type RoundReport } from '../harness/headless-participant.ts';

const CLIENTS = 100;
const MODEL = 'mlp-large';
/** Round r's overhead ends with round r+1's start, so ROUNDS rounds give ROUNDS − 1 measurements. */
const ROUNDS = 5;
/** Stand-in for local training: long enough that the broadcast is over before the uploads begin. */
const TRAINING_MS = 1000;
const RUN_TIMEOUT_MS = 10 * 60_000;
const OVERHEAD_TARGET_MS = 500;
const WIRE_TARGET_RATIO = 1.02;
const PARTICIPANT_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'harness', 'headless-participant.ts');

interface RoundTimes {
  lastUpdateAt?: number;
  /** round:start of this round: emit called, emit returned. */
  startEmitAt?: number;
  startSentAt?: number;
  /** When the last participant got this round's round:start (attempt 1 only: retries would muddle it). */
  lastReceivedAt?: number;
}

type ChildEvent =
  | { event: 'ready'; count: number; at: number }
  | ({ event: 'round' } & RoundReport)
  | { event: 'disconnect'; reason: string; at: number }
  | { event: 'exit'; why: string };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what: string, done: () => boolean, timeoutMs: number, failed: () => string | null = () => null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    const failure = failed();
    if (failure) throw new Error(`while waiting for ${what}: ${failure}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export async function coordinator(): Promise<BenchRow[]> {
  const times = new Map<number, RoundTimes>();
  const timesOf = (round: number) => times.get(round) ?? times.set(round, {}).get(round)!;

  const mnist = loadMnist();
  const testSet = new TestSetEvaluator(mnist.test);
  const evaluationMs: number[] = [];
  const timedEvaluator: Evaluator = {
    initialWeights: (model, seed) => testSet.initialWeights(model, seed),
    async evaluate(model, weights) {
      const startedAt = epochMs();
      const result = await testSet.evaluate(model, weights);
      evaluationMs.push(epochMs() - startedAt);
      return result;
    },
  };

  const { app, coordinator } = await buildApp({
    settings: resolveSettings({
      model: MODEL,
      rounds: ROUNDS,
      targetAccuracy: 1, // synthetic deltas never get there; run every round
      minClientsToStart: CLIENTS,
      minClientsPerRound: 1,
      roundDeadlineMs: 120_000,
    }),
    access: { adminToken: 'bench-admin-token', roomCode: null },
    // Every participant is on 127.0.0.1: the per-address cap is for strangers, not for this bench.
    limits: { ...DEFAULT_LIMITS, maxConnectionsPerAddress: CLIENTS + 10, joinsPerMinute: CLIENTS * 10 },
    distDir: mkdtempSync(join(tmpdir(), 'flock-bench-dist-')),
    mnist,
    evaluator: timedEvaluator,
    observeIncoming({ event, args }) {
      if (event !== 'participant:update') return;
      const round = (args[0] as { round?: unknown } | undefined)?.round;
      if (typeof round === 'number') timesOf(round).lastUpdateAt = epochMs();
    },
  });
  // Around the transport's own listener: the first runs before it emits, the second after.
  const timesOfStart = (connectionIds: string[], start: { round: number; attempt: number }) =>
    start.attempt === 1 && connectionIds.length > 1 ? timesOf(start.round) : {}; // not resends to one tab
  coordinator.prependListener('roundStart', (ids, start) => {
    timesOfStart(ids, start).startEmitAt = epochMs();
  });
  coordinator.on('roundStart', (ids, start) => {
    timesOfStart(ids, start).startSentAt = epochMs();
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  let child: ChildProcess | null = null;
  let childExit: string | null = null;
  let runOver = false;
  const disconnectsDuringRun: string[] = [];
  let participantsReady = false;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  try {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', PARTICIPANT_SCRIPT, '--url', url, '--count', String(CLIENTS), '--training-ms', String(TRAINING_MS), '--json'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    child.once('exit', (code, signal) => (childExit = `participants exited (${signal ?? `code ${code}`})`));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let message: ChildEvent;
      try {
        message = JSON.parse(line) as ChildEvent;
      } catch {
        process.stdout.write(`participants: ${line}\n`);
        return;
      }
      if (message.event === 'ready') participantsReady = true;
      else if (message.event === 'disconnect' && !runOver) disconnectsDuringRun.push(message.reason);
      else if (message.event === 'round' && message.attempt === 1) {
        const t = timesOf(message.round);
        t.lastReceivedAt = Math.max(t.lastReceivedAt ?? 0, message.receivedAt);
      }
    });

    await waitUntil(`${CLIENTS} participants to join`, () => participantsReady && coordinator.room.readyClients().length === CLIENTS, 120_000, () => childExit);
    loopDelay.enable();
    coordinator.start();
    await waitUntil(`${ROUNDS} rounds`, () => !coordinator.running, RUN_TIMEOUT_MS, () => childExit);
    runOver = true;
    loopDelay.disable();
    if (coordinator.phase !== 'done') throw new Error(`the run ended in phase ${coordinator.run?.phaseName}: ${coordinator.run?.message}`);

    const history = coordinator.history;
    const P = modelSpec(MODEL).paramCount;
    const overheadMs: number[] = [];
    const deliveredMs: number[] = [];
    const aggregateMs: number[] = [];
    const emitMs: number[] = [];
    const roundWallMs: number[] = [];
    for (let r = 1; r < ROUNDS; r++) {
      const closing = timesOf(r);
      const next = timesOf(r + 1);
      const { lastUpdateAt } = closing;
      if (lastUpdateAt === undefined || next.startSentAt === undefined || next.startEmitAt === undefined) {
        throw new Error(`round ${r}: timings missing (${JSON.stringify({ closing, next })})`);
      }
      overheadMs.push(next.startSentAt - lastUpdateAt);
      if (next.lastReceivedAt !== undefined) deliveredMs.push(next.lastReceivedAt - lastUpdateAt);
      aggregateMs.push(next.startEmitAt - lastUpdateAt);
      emitMs.push(next.startSentAt - next.startEmitAt);
      if (closing.startSentAt !== undefined) roundWallMs.push(next.startSentAt - closing.startSentAt);
    }
    const n = overheadMs.length;
    const tabs = coordinator.runState().clients;
    const droppedOnServer = new Set([...history.flatMap((m) => m.dropped)]).size + (CLIENTS - tabs.length);
    const dropped = Math.max(disconnectsDuringRun.length, droppedOnServer);
    // Every tab is in every round (fraction 1, 100 tabs): the worst tab's bytes per round, counted by the
    // coordinator at the engine level (Socket.IO framing and binary attachments included).
    const rawBytes = 4 * P;
    const worstDownRatio = Math.max(...tabs.map((c) => c.bytesSent ?? 0)) / ROUNDS / rawBytes;
    const worstUpRatio = Math.max(...tabs.map((c) => c.bytesReceived ?? 0)) / ROUNDS / rawBytes;
    const accepted = history.reduce((s, m) => s + m.participants, 0);

    const label = `${CLIENTS} tabs × ${MODEL}`;
    return [
      { name: `round overhead: last update in → next round:start sent, median of ${n} (${label})`, figure: median(overheadMs), unit: 'ms', target: OVERHEAD_TARGET_MS, targetIs: 'atMost' },
      { name: `round overhead: last update in → next round:start sent, max of ${n}`, figure: Math.max(...overheadMs), unit: 'ms', target: OVERHEAD_TARGET_MS, targetIs: 'atMost' },
      { name: '  of it: validate last update, FedAvg mean, new global, encode (median)', figure: median(aggregateMs), unit: 'ms' },
      { name: `  of it: emit round:start to ${CLIENTS} sockets (median)`, figure: median(emitMs), unit: 'ms' },
      { name: `evaluation on ${mnist.test.count.toLocaleString('en-US')} test digits, in the background after round:start (median, reference)`, figure: median(evaluationMs), unit: 'ms' },
      { name: `last update in → round:start received by all ${CLIENTS} (median, reference)`, figure: median(deliveredMs), unit: 'ms' },
      { name: `round wall time, ${TRAINING_MS / 1000} s simulated training (median)`, figure: median(roundWallMs) / 1000, unit: 's' },
      { name: `dropped clients during ${ROUNDS} rounds of ${CLIENTS} × ${(encodedByteLength(modelSpec(MODEL)) / 1e6).toFixed(1)} MB uploads`, figure: dropped, unit: 'clients', target: 0, targetIs: 'atMost' },
      { name: `updates accepted of ${ROUNDS * CLIENTS} sent (reference)`, figure: accepted, unit: 'updates' },
      { name: 'longest event-loop stall on the coordinator during the run (reference)', figure: loopDelay.max / 1e6, unit: 'ms' },
      { name: 'wire: coordinator → tab, bytes per round of the worst tab / raw float32 model', figure: worstDownRatio, unit: '×', target: WIRE_TARGET_RATIO, targetIs: 'atMost' },
      { name: 'wire: tab → coordinator, bytes per round of the worst tab / raw float32 model', figure: worstUpRatio, unit: '×', target: WIRE_TARGET_RATIO, targetIs: 'atMost' },
    ];
  } finally {
    runOver = true;
    if (child && childExit === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await app.close();
  }
}
