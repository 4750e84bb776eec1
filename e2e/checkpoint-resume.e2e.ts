// A coordinator that never loses a run: SIGKILL it in the middle of a round, start it again on
// the same data directory and port, and the tabs come back by themselves and training goes on
// from the last completed round, with the global model bit-identical to the one checkpointed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders } from '../harness/coordinator.ts';
import { freePort, startCoordinatorProcess, type CoordinatorProcess } from '../harness/coordinator-process.ts';
import { tabView } from '../harness/participant-page.ts';

const ROUNDS = 4;
const KILL_IN_ROUND = 3;
let browser: Browser;
let running: CoordinatorProcess | null = null;

before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await running?.kill('SIGTERM');
  await browser?.close();
});

const weightsOf = async (url: string) => Buffer.from(await (await fetch(`${url}/api/weights`)).arrayBuffer());

test('SIGKILL mid-round, restart on the same data dir: tabs reconnect, no completed round is lost, the model is bit-identical', { timeout: 600_000 }, async () => {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'flock-data-'));
  const flags = ['--data-dir', dataDir, '--shards', '2', '--rounds', String(ROUNDS), '--targetAccuracy', '1', '--localEpochs', '2',
    '--minClientsToStart', '2', '--minClientsPerRound', '2', '--roundDeadlineMs', '120000'];
  running = await startCoordinatorProcess(port, flags);
  const tabs = await openTabs(browser, `${running.url}/?backend=wasm`, 2);
  await running.waitFor('2 ready tabs', (s) => s.clients.filter((c) => c.backend).length === 2, 120_000);
  const idsBefore = (await running.state()).clients.map((c) => c.clientId).sort();
  assert.equal((await fetch(`${running.url}/api/run/start`, { method: 'POST', headers: adminHeaders() })).status, 200);

  // Mid-round: round KILL_IN_ROUND is training and every earlier round is evaluated (and checkpointed).
  const atKill = await running.waitFor(`round ${KILL_IN_ROUND} in training`, (s) => s.phase === 'training' && s.round === KILL_IN_ROUND && s.history.length === KILL_IN_ROUND - 1, 300_000);
  await new Promise((resolve) => setTimeout(resolve, 300)); // let the checkpoint of the last round reach the disk
  const modelAtKill = await weightsOf(running.url);
  await running.kill('SIGKILL');

  const restartedAt = Date.now();
  running = await startCoordinatorProcess(port, flags);
  const listeningAfterMs = Date.now() - restartedAt;
  const resumed = await running.state();
  // The log goes through pino's pretty-printer, which may print it a moment after the server is up.
  for (let waited = 0; !/resumed from /.test(running.output()) && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.match(running.output(), /resumed from .*checkpoint-\d+\.flock: 2 rounds done/);
  assert.deepEqual(resumed.history.map((m) => m.round), atKill.history.map((m) => m.round), 'the history is intact');
  // The tabs' evaluations of the last model may land on either side of the kill; the rest is exact.
  const withoutFederated = (history: typeof atKill.history) => history.map(({ federatedEvaluation: _, ...m }) => m);
  assert.deepEqual(withoutFederated(resumed.history), withoutFederated(atKill.history));
  assert.ok(resumed.history[0].federatedEvaluation, 'round 1\'s federated evaluation was checkpointed with the run');
  assert.ok((await weightsOf(running.url)).equals(modelAtKill), 'the global model after resume is bit-identical to the checkpointed one');
  assert.equal(resumed.round, KILL_IN_ROUND, 'the round in flight is redone');

  const redo = await running.waitFor(`round ${KILL_IN_ROUND} to start again`, (s) => s.phase === 'training' && s.round === KILL_IN_ROUND, 120_000);
  const restartToRoundMs = Date.now() - restartedAt;
  console.log(`restart → listening: ${listeningAfterMs} ms; → round ${KILL_IN_ROUND} training again: ${restartToRoundMs} ms`);
  assert.deepEqual(redo.clients.map((c) => c.clientId).sort(), idsBefore, 'the same tabs came back, as themselves');

  const done = await running.waitFor('the run to finish', (s) => s.phase === 'done' || s.phase === 'stopped', 300_000);
  assert.equal(done.phase, 'done', done.message);
  assert.deepEqual(done.history.map((m) => m.round), [1, 2, 3, 4], 'no completed round lost, none counted twice');
  assert.ok(done.history.at(-1)!.accuracy > 0.85, `accuracy ${done.history.at(-1)!.accuracy}`);
  for (const page of tabs) assert.equal((await tabView(page)).connected, true);
});
