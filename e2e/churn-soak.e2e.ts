// Churn soak: 12 headless participants (harness/headless-participant.ts) leave mid-round, come back
// with their resume token, join for the first time mid-round and stall with their connection open,
// at random (seeded), through 20 rounds of the MLP on a real coordinator. The coordinator runs in
// its own process (harness/soak-coordinator.ts) so that its heap can be measured after a forced GC,
// apart from the participants'. Every round must complete, nothing may be logged at error level,
// nothing may go unhandled, and the heap at the end must be what it was early in the run.
//
//   node --import tsx --test --test-timeout=300000 e2e/churn-soak.e2e.ts      (no browser needed)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { JoinReply } from '../shared/protocol/messages.ts';
import type { RoundMetrics, RunState } from '../shared/protocol/records.ts';
import type { Settings } from '../shared/settings.ts';
import { createRng } from '../shared/fl/rng.ts';
import { DEFAULT_LIMITS } from '../server/limits/transport-limits.ts';
import { ROOT_DIR } from '../server/data-paths.ts';
import { epochMs, HeadlessParticipant, type RoundStartSeen } from '../harness/headless-participant.ts';
import { adminHeaders } from '../harness/coordinator.ts';
import type { MemorySample, SoakCoordinatorConfig, SoakReport, SoakRequest } from '../harness/soak-coordinator.ts';

const ROUNDS = 20;
const DEADLINE_MS = 3_000;
const SETTINGS: Partial<Settings> = {
  model: 'mlp',
  rounds: ROUNDS,
  targetAccuracy: 1, // never reached: all 20 rounds run
  roundDeadlineMs: DEADLINE_MS, // a tab that left or stalls is cut off after this
  fractionClients: 0.5, // about half the ready tabs train in a round: being selected or not both happen
  minClientsToStart: 6,
  minClientsPerRound: 2,
  shards: 12, // one shard per participant: "kept its shard" is a real check
};
// Every participant comes from 127.0.0.1.
const LIMITS = { ...DEFAULT_LIMITS, maxConnectionsPerAddress: 1_000, joinsPerMinute: 10_000 };

const PARTICIPANTS = 12;
const FIRST_COHORT = 8;
/** The other four join for the first time during the first round ≥ each of these they find training. */
const NEWCOMER_FROM_ROUND = [3, 6, 9, 12];
/** The sleeper stops answering from this round, until it has ignored this many round:starts (or round 14). */
const SLEEP_FROM_ROUND = 4;
const SLEEP_IGNORED_STARTS = 2;
const SLEEP_UNTIL_ROUND = 14;
/** The churn never takes the awake, connected participants below this. */
const MIN_ONLINE = 5;
const SEED = 20_240_611;
const RUN_TIMEOUT_MS = 200_000;

// The heap after a forced GC: the highest of rounds 15–20 against the highest of rounds 3–6
// (rounds 1–2 still warm up: lazy compilation, first-use caches in tfjs and Socket.IO).
const EARLY_ROUNDS = [3, 6];
const LATE_ROUNDS = [15, 20];
// Measured: within ±0.3 MB of zero, on a heap of 62 MB. 4 MB catches a leak of 350 kB a round.
const HEAP_GROWTH_LIMIT_BYTES = 4 * 2 ** 20;
// Weights and deltas live in ArrayBuffers, outside heapUsed: a leaked copy per round would show only here.
// Buffers in flight (a round:start going out to six tabs, updates coming in) make peaks; a leak lifts
// the floor, so the lowest of rounds 15–20 is compared with the lowest of rounds 3–6.
const ARRAY_BUFFER_FLOOR_GROWTH_LIMIT_BYTES = 4 * 2 ** 20;
// RSS moves with the allocator and the WASM memory's high-water mark: a looser bound, for leaks outside the heap.
const RSS_GROWTH_LIMIT_BYTES = 64 * 2 ** 20;

/** Participant errors that churn causes by design; anything else fails the test. */
const EXPECTED_PARTICIPANT_ERRORS = [
  /no acknowledgement for the update: socket has been disconnected/, // it left mid-round
  /\(late update\?\)|no round is collecting updates/, // it came back into a round that closed before its update arrived
  /\(an update for an earlier attempt of this round\?\)/, // the round was retried without it while it trained
];

const SOAK_COORDINATOR_SCRIPT = fileURLToPath(new URL('../harness/soak-coordinator.ts', import.meta.url));
const MB = 2 ** 20;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, describe = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`gave up after ${timeoutMs} ms waiting for ${what}${describe()}`);
    await pause(50);
  }
}

interface SoakCoordinator {
  url: string;
  memory: MemorySample[];
  logs: { level: number; line: string }[];
  rejections: string[];
  /** Non-null once the process has exited. */
  exitCode(): number | null;
  /** What it printed on stdout and stderr. */
  output(): string;
  status(): Promise<RunState>;
  stop(): Promise<void>;
}

async function startSoakCoordinator(config: SoakCoordinatorConfig): Promise<SoakCoordinator> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SOAK_COORDINATOR_SCRIPT, JSON.stringify(config)], {
    cwd: ROOT_DIR,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let printed = '';
  child.stdout!.on('data', (chunk) => (printed += chunk));
  child.stderr!.on('data', (chunk) => (printed += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const memory: MemorySample[] = [];
  const logs: SoakCoordinator['logs'] = [];
  const rejections: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (message: SoakReport) => {
      if (message.kind === 'listening') resolve(message.url);
      else if (message.kind === 'memory') memory.push(message.sample);
      else if (message.kind === 'log') logs.push({ level: message.level, line: message.line });
      else if (message.kind === 'unhandledRejection') rejections.push(message.reason);
    });
    void exited.then(() => reject(new Error(`the soak coordinator exited (code ${child.exitCode}) before listening:\n${printed}`)));
  });
  return {
    url,
    memory,
    logs,
    rejections,
    exitCode: () => child.exitCode,
    output: () => printed,
    status: async () => (await (await fetch(`${url}/api/status`)).json()) as RunState,
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ kind: 'close' } satisfies SoakRequest); // it closes the app, reporting its last log lines, and exits
      const stopped = await Promise.race([exited.then(() => true), pause(10_000).then(() => false)]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

interface Tab {
  name: string;
  participant: HeadlessParticipant;
  /** The reply to its first join: the public id and shard it must keep when it comes back. */
  first: JoinReply | null;
  online: boolean;
  leftAt: number;
}

interface RoundId {
  round: number;
  attempt: number;
}
const later = (a: RoundId, b: RoundId) => a.round > b.round || (a.round === b.round && a.attempt > b.attempt);
const roundName = ({ round, attempt }: RoundId) => `round ${round} attempt ${attempt}`;

interface NewcomerJoin {
  tab: Tab;
  /** The round attempt in flight when it joined. */
  during: RoundId;
  /** The same attempt was still training once its ready report was in: it joined in the middle of it. */
  midRound: boolean;
}

interface MidRoundLeave {
  tab: Tab;
  during: RoundId;
}

test('churn soak: 12 participants leave, return, arrive and stall through 20 MLP rounds; every round completes, the heap stays flat', { timeout: 300_000 }, async () => {
  const startedAt = Date.now();
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  const coordinator = await startSoakCoordinator({ settings: SETTINGS, limits: LIMITS });
  const rng = createRng(SEED);
  const tabs: Tab[] = Array.from({ length: PARTICIPANTS }, (_, i) => ({
    name: `p${i + 1}`,
    // 300–1200 ms of "training": rounds stay open long enough for churn to land in them
    participant: new HeadlessParticipant({ url: coordinator.url, seed: i + 1, trainingMs: 300 + rng.int(900) }),
    first: null,
    online: false,
    leftAt: 0,
  }));
  const sleeper = tabs[0];
  const newcomers = tabs.slice(FIRST_COHORT);
  const newcomerJoins: NewcomerJoin[] = [];
  const midRoundLeaves: MidRoundLeave[] = [];
  const tally = { idleLeaves: 0, returns: 0, returnsIntoOwedRound: 0 };
  let sleep: { from: number; until: number | null } | null = null;
  const ignoredBySleeper = (): RoundStartSeen[] =>
    sleep ? sleeper.participant.roundStarts.filter((s) => s.receivedAt >= sleep!.from && (sleep!.until === null || s.receivedAt <= sleep!.until)) : [];

  const join = async (tab: Tab) => {
    const reply = await tab.participant.join();
    tab.online = true;
    tab.first ??= reply;
    return reply;
  };
  const leave = (tab: Tab) => {
    tab.participant.close();
    tab.online = false;
    tab.leftAt = Date.now();
  };
  const comeBack = async (tab: Tab) => {
    const startsBefore = tab.participant.roundStarts.length;
    const reply = await join(tab);
    assert.equal(reply.clientId, tab.first!.clientId, `${tab.name} came back with its resume token as another tab`);
    assert.equal(reply.shard.index, tab.first!.shard.index, `${tab.name} came back with its resume token and got another shard`);
    assert.equal(reply.resumeToken, tab.first!.resumeToken, `${tab.name}'s resume token changed`);
    tally.returns++;
    await pause(50);
    if (tab.participant.roundStarts.length > startsBefore) tally.returnsIntoOwedRound++;
  };

  /** One random (seeded) change, chosen from what the coordinator's state allows. */
  const churnStep = async (state: RunState) => {
    if (!sleep && state.round >= SLEEP_FROM_ROUND) {
      sleeper.participant.asleep = true;
      sleep = { from: epochMs(), until: null };
    } else if (sleep && sleep.until === null && (new Set(ignoredBySleeper().map(roundName)).size >= SLEEP_IGNORED_STARTS || state.round >= SLEEP_UNTIL_ROUND)) {
      sleeper.participant.asleep = false;
      sleep.until = epochMs();
    }

    const newcomer = newcomers[newcomerJoins.length];
    if (newcomer && state.round >= NEWCOMER_FROM_ROUND[newcomerJoins.length]) {
      // Mid-round, with time to spare: its join and ready report land inside this attempt.
      if (state.phase !== 'training' || state.deadlineAt === null || state.deadlineAt - state.serverNow < DEADLINE_MS / 2) return;
      const during = { round: state.round, attempt: state.attempt };
      const { clientId } = await join(newcomer);
      let after = state;
      await until(`${newcomer.name}'s ready report`, async () => {
        after = await coordinator.status();
        return after.clients.some((c) => c.clientId === clientId && c.backend !== null);
      }, 10_000);
      const midRound = after.phase === 'training' && after.round === during.round && after.attempt === during.attempt;
      if (midRound) assert.ok(!after.selected.includes(clientId), `${newcomer.name} joined during ${roundName(during)} and was selected for it`);
      newcomerJoins.push({ tab: newcomer, during, midRound });
      return;
    }

    // The sleeper stays connected (late, not dropped); a newcomer stays until its first round:start.
    const churnable = tabs.filter((t) => t !== sleeper && t.first !== null && (!newcomers.includes(t) || t.participant.roundStarts.length > 0));
    const online = churnable.filter((t) => t.online);
    const away = churnable.filter((t) => !t.online && Date.now() - t.leftAt >= 300);
    if (online.length > MIN_ONLINE && (away.length === 0 || rng.next() < 0.5)) {
      const training = state.phase === 'training' ? online.filter((t) => state.selected.includes(t.first!.clientId) && !state.answered.includes(t.first!.clientId)) : [];
      if (training.length > 0 && rng.next() < 0.85) {
        const tab = training[rng.int(training.length)];
        leave(tab);
        midRoundLeaves.push({ tab, during: { round: state.round, attempt: state.attempt } });
        // Half of them reload: back while their round may still be open, which owes them its round:start again.
        if (rng.next() < 0.5) {
          await pause(100 + rng.int(200));
          await comeBack(tab);
        }
      } else {
        leave(online[rng.int(online.length)]);
        tally.idleLeaves++;
      }
    } else if (away.length > 0) {
      await comeBack(away[rng.int(away.length)]);
    }
  };

  let final: RunState;
  try {
    for (const tab of tabs.slice(0, FIRST_COHORT)) await join(tab);
    await until('the first cohort to be ready', async () => (await coordinator.status()).clients.filter((c) => c.backend !== null).length === FIRST_COHORT, 30_000);
    const started = await fetch(`${coordinator.url}/api/run/start`, { method: 'POST', headers: adminHeaders() });
    assert.equal(started.status, 200, await started.text());

    for (;;) {
      await pause(200 + rng.int(400));
      const state = await coordinator.status();
      if (state.phase === 'done' || state.phase === 'stopped') {
        final = state;
        break;
      }
      if (Date.now() - startedAt > RUN_TIMEOUT_MS) assert.fail(`the run did not finish in ${RUN_TIMEOUT_MS} ms: phase ${state.phase}, round ${state.round}, "${state.message}"`);
      await churnStep(state);
    }
    await until('the memory sample after the last round', () => coordinator.memory.some((s) => s.round === ROUNDS), 10_000);

  } finally {
    for (const tab of tabs) tab.participant.close();
    await coordinator.stop();
    process.off('unhandledRejection', onRejection);
  }
  const runtimeMs = Date.now() - startedAt;

  // The figures, for quoting.
  const samples = [...coordinator.memory].sort((a, b) => a.round - b.round);
  console.log(`\nchurn soak: ${ROUNDS} rounds in ${(runtimeMs / 1000).toFixed(1)} s (coordinator heap after a forced GC at the end of each round)`);
  console.log('round  heapUsed MB  rss MB  external MB  arrayBuffers MB  tabs connected');
  for (const s of samples) {
    console.log(
      `${String(s.round).padStart(5)}  ${(s.heapUsedBytes / MB).toFixed(1).padStart(11)}  ${(s.rssBytes / MB).toFixed(1).padStart(6)}  ` +
        `${(s.externalBytes / MB).toFixed(1).padStart(11)}  ${(s.arrayBuffersBytes / MB).toFixed(1).padStart(15)}  ${String(s.tabsConnected).padStart(14)}`,
    );
  }
  const history = final!.history;
  console.log('\nround  attempt  selected  answered  late  dropped  duration ms');
  for (const m of history) {
    console.log(
      `${String(m.round).padStart(5)}  ${String(m.attempt).padStart(7)}  ${String(m.selected).padStart(8)}  ${String(m.answered.length).padStart(8)}  ` +
        `${String(m.late.length).padStart(4)}  ${String(m.dropped.length).padStart(7)}  ${String(m.durationMs).padStart(11)}`,
    );
  }
  const retries = coordinator.logs.filter((l) => l.line.includes('; retrying')).length;
  const warnings = coordinator.logs.filter((l) => l.level === 40);
  console.log(
    `\nchurn: ${midRoundLeaves.length} mid-round leaves, ${tally.idleLeaves} idle leaves, ${tally.returns} returns ` +
      `(${tally.returnsIntoOwedRound} got their owed round again), ${newcomerJoins.length} first joins mid-run ` +
      `(${newcomerJoins.filter((n) => n.midRound).length} inside one attempt), sleeper ignored ${ignoredBySleeper().length} round:starts, ` +
      `${retries} round attempts retried, ${warnings.length} warnings logged`,
  );

  // Every round completed, in order, and nothing broke on the way.
  assert.equal(final!.phase, 'done', final!.message);
  assert.deepEqual(
    history.map((m) => m.round),
    Array.from({ length: ROUNDS }, (_, i) => i + 1),
  );
  for (const tab of tabs) {
    // close() is not a drop: a reason here means the coordinator cut the connection.
    assert.equal(tab.participant.disconnectReason, null, `${tab.name} lost its connection`);
    const unexpected = tab.participant.errors.filter((e) => !EXPECTED_PARTICIPANT_ERRORS.some((pattern) => pattern.test(e)));
    assert.deepEqual(unexpected, [], `${tab.name}: errors churn does not explain`);
  }
  const connectedIds = final!.clients.map((c) => c.clientId);
  assert.equal(new Set(connectedIds).size, connectedIds.length, `a tab is listed twice: ${connectedIds.join(', ')}`);
  for (const tab of tabs.filter((t) => t.online)) {
    const view = final!.clients.find((c) => c.clientId === tab.first!.clientId);
    assert.ok(view, `${tab.name} is connected but not listed`);
    assert.equal(view.shard, tab.first!.shard.index, `${tab.name}'s shard`);
  }
  const errorLines = coordinator.logs.filter((l) => l.level >= 50).map((l) => l.line);
  assert.deepEqual(errorLines, [], 'the coordinator logged at error level');
  assert.deepEqual(coordinator.rejections, [], 'unhandled rejections in the coordinator');
  assert.deepEqual(rejections, [], 'unhandled rejections among the participants');
  assert.equal(coordinator.exitCode(), 0, `the coordinator did not exit cleanly:\n${coordinator.output()}`);

  // The churn happened as planned.
  assert.ok(midRoundLeaves.length >= 3, `only ${midRoundLeaves.length} participants left mid-round`);
  assert.ok(tally.returns >= 3, `only ${tally.returns} participants came back`);
  const ids = new Map(tabs.filter((t) => t.first).map((t) => [t.first!.clientId, t.name]));
  const leftAtSomePoint = new Set([...midRoundLeaves.map((l) => l.tab.first!.clientId), ...tabs.filter((t) => t.leftAt > 0).map((t) => t.first!.clientId)]);
  for (const m of history) {
    for (const id of [...m.answered, ...m.late, ...m.dropped]) assert.ok(ids.has(id), `round ${m.round} lists ${id}, not one of the participants`);
    for (const id of m.dropped) assert.ok(leftAtSomePoint.has(id), `round ${m.round}: ${ids.get(id)} is listed as dropped but never left`);
  }
  const findRound = (r: RoundId): RoundMetrics | undefined => history.find((m) => m.round === r.round && m.attempt === r.attempt);
  for (const { tab, during } of midRoundLeaves) {
    const m = findRound(during);
    const id = tab.first!.clientId;
    if (m) assert.ok(m.answered.includes(id) || m.late.includes(id) || m.dropped.includes(id), `${tab.name} left during ${roundName(during)} and is not accounted for in it`);
  }
  assert.ok(
    midRoundLeaves.some(({ tab, during }) => findRound(during)?.dropped.includes(tab.first!.clientId)),
    'no participant that left mid-round is listed as dropped',
  );

  // First joins mid-run waited for a later round.
  assert.equal(newcomerJoins.length, newcomers.length, 'not every newcomer joined');
  assert.ok(newcomerJoins.filter((n) => n.midRound).length >= 2, 'fewer than 2 newcomers joined inside one round attempt');
  for (const { tab, during } of newcomerJoins) {
    const firstStart = tab.participant.roundStarts[0];
    if (firstStart) assert.ok(later(firstStart, during), `${tab.name} joined during ${roundName(during)} and got ${roundName(firstStart)}`);
  }
  assert.ok(newcomerJoins.filter((n) => n.tab.participant.roundStarts.length > 0).length >= 2, 'fewer than 2 newcomers were ever selected');

  // The sleeper: selected, silent, connected; the round waited out the deadline and lists it as late.
  const sleeperId = sleeper.first!.clientId;
  const ignoredRounds = ignoredBySleeper().map((s) => findRound(s)).filter((m): m is RoundMetrics => m !== undefined);
  assert.ok(ignoredRounds.length >= 1, `the sleeper ignored ${ignoredBySleeper().length} round:starts, none of them in a completed round`);
  for (const m of ignoredRounds) {
    assert.ok(m.late.includes(sleeperId), `round ${m.round}: the sleeper is not listed as late (late: ${m.late.join(', ') || 'none'})`);
    assert.ok(m.durationMs >= DEADLINE_MS - 50, `round ${m.round} closed after ${m.durationMs} ms, before the ${DEADLINE_MS} ms deadline, with the sleeper silent`);
  }

  // The coordinator's memory stays flat.
  assert.deepEqual(
    samples.map((s) => s.round),
    Array.from({ length: ROUNDS + 1 }, (_, i) => i),
    'one memory sample before the run and one after each round',
  );
  const inRounds = (field: 'heapUsedBytes' | 'rssBytes' | 'arrayBuffersBytes', [from, to]: number[]) =>
    samples.filter((s) => s.round >= from && s.round <= to).map((s) => s[field]);
  const highest = (field: 'heapUsedBytes' | 'rssBytes', rounds: number[]) => Math.max(...inRounds(field, rounds));
  const heapGrowth = highest('heapUsedBytes', LATE_ROUNDS) - highest('heapUsedBytes', EARLY_ROUNDS);
  const rssGrowth = highest('rssBytes', LATE_ROUNDS) - highest('rssBytes', EARLY_ROUNDS);
  const arrayBufferFloorGrowth = Math.min(...inRounds('arrayBuffersBytes', LATE_ROUNDS)) - Math.min(...inRounds('arrayBuffersBytes', EARLY_ROUNDS));
  console.log(
    `growth from rounds ${EARLY_ROUNDS.join('–')} to rounds ${LATE_ROUNDS.join('–')}: heap (highest) ${(heapGrowth / MB).toFixed(2)} MB ` +
      `(${((100 * heapGrowth) / highest('heapUsedBytes', EARLY_ROUNDS)).toFixed(1)} %), arrayBuffers (lowest) ${(arrayBufferFloorGrowth / MB).toFixed(2)} MB, ` +
      `rss (highest) ${(rssGrowth / MB).toFixed(1)} MB`,
  );
  assert.ok(heapGrowth < HEAP_GROWTH_LIMIT_BYTES, `the heap grew by ${(heapGrowth / MB).toFixed(2)} MB (limit ${HEAP_GROWTH_LIMIT_BYTES / MB} MB)`);
  assert.ok(
    arrayBufferFloorGrowth < ARRAY_BUFFER_FLOOR_GROWTH_LIMIT_BYTES,
    `the lowest arrayBuffers figure rose by ${(arrayBufferFloorGrowth / MB).toFixed(2)} MB (limit ${ARRAY_BUFFER_FLOOR_GROWTH_LIMIT_BYTES / MB} MB)`,
  );
  assert.ok(rssGrowth < RSS_GROWTH_LIMIT_BYTES, `RSS grew by ${(rssGrowth / MB).toFixed(1)} MB (limit ${RSS_GROWTH_LIMIT_BYTES / MB} MB)`);
});
