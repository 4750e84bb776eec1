// Five real tabs, one of them a sign-flip ×10 attacker: FedAvg is wrecked by it, while the
// coordinate-wise median and Multi-Krum end within 3 points of the clean run. Every rule runs
// with and without the attacker, and the table is printed. The same five tabs serve every run;
// the attacker is switched on and off from the admin API, as the dashboard does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright';
import type { RoundMetrics } from '../shared/protocol/records.ts';
import type { Settings } from '../shared/settings.ts';
import { launchChromium, openTabs } from '../harness/browser.ts';
import { adminHeaders, startCoordinator, type RunningCoordinator } from '../harness/coordinator.ts';

const TABS = 5;
const ROUNDS = 3;
let browser: Browser;
let coordinator: RunningCoordinator;
let attackerId: string;

before(async () => {
  coordinator = await startCoordinator({
    shards: TABS,
    rounds: ROUNDS,
    targetAccuracy: 1,
    localEpochs: 1,
    minClientsToStart: TABS,
    minClientsPerRound: TABS,
    roundDeadlineMs: 180_000,
    byzantineClients: 1,
    trimFraction: 0.2, // of 5 updates, one trimmed at each end
  });
  browser = await launchChromium();
  await openTabs(browser, (i) => `${coordinator.url}/?backend=wasm${i === TABS - 1 ? '&attack=sign-flip' : ''}`, TABS);
  const ready = await coordinator.waitFor(`${TABS} ready tabs`, (s) => s.clients.filter((c) => c.backend).length === TABS, 180_000);
  const attackers = ready.clients.filter((c) => c.attack === 'sign-flip');
  assert.equal(attackers.length, 1, 'the ?attack= tab reported itself');
  attackerId = attackers[0].clientId;
});

after(async () => {
  await browser?.close();
  await coordinator?.close();
});

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const reply = await fetch(`${coordinator.url}${path}`, {
    method,
    headers: { ...adminHeaders(), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.equal(reply.status, 200, await reply.text());
}

async function run(aggregation: Settings['aggregation'], attack: 'none' | 'sign-flip'): Promise<RoundMetrics[]> {
  await admin('PUT', `/api/clients/${attackerId}/attack`, { mode: attack });
  await admin('PUT', '/api/settings', { aggregation });
  await admin('POST', '/api/run/start');
  const state = await coordinator.waitFor(`the ${aggregation} run`, (s) => s.phase === 'done' || s.phase === 'stopped', 300_000);
  assert.equal(state.phase, 'done', state.message);
  assert.equal(state.history.length, ROUNDS);
  const accuracies = state.history.map((m) => m.accuracy.toFixed(4)).join(' · ');
  console.log(`${aggregation.padEnd(10)} attacker ${attack.padEnd(9)} accuracy per round: ${accuracies}`);
  return state.history;
}

const finalAccuracy = (history: RoundMetrics[]) => history.at(-1)!.accuracy;

const RULES: Settings['aggregation'][] = ['fedavg', 'median', 'trimmed-mean', 'krum', 'multi-krum', 'norm-bound'];

test('FedAvg falls to a sign-flip ×10 attacker; median and Multi-Krum end within 3 points of the clean run', { timeout: 900_000 }, async () => {
  const final: Record<string, { clean: number; attacked: number; attackedHistory: RoundMetrics[] }> = {};
  for (const rule of RULES) {
    const clean = finalAccuracy(await run(rule, 'none'));
    const attackedHistory = await run(rule, 'sign-flip');
    final[rule] = { clean, attacked: finalAccuracy(attackedHistory), attackedHistory };
  }
  console.log(`final accuracy after ${ROUNDS} rounds, ${TABS} tabs (one of them a sign-flip ×10 attacker when attacked):`);
  console.log('rule          clean    attacked');
  for (const rule of RULES) console.log(`${rule.padEnd(12)}  ${final[rule].clean.toFixed(4)}   ${final[rule].attacked.toFixed(4)}`);

  const clean = final.fedavg.clean;
  assert.ok(clean >= 0.85, `the clean run reaches ${clean}`);
  assert.ok(final.fedavg.attacked < clean - 0.3, `FedAvg with the attacker should stay low: ${final.fedavg.attacked} vs clean ${clean}`);
  for (const rule of ['median', 'multi-krum'] as const) {
    assert.ok(final[rule].attacked >= clean - 0.03, `${rule} ${final[rule].attacked} is more than 3 points under clean FedAvg ${clean}`);
  }
  for (const m of final['multi-krum'].attackedHistory) {
    assert.deepEqual(m.discarded, [attackerId], `round ${m.round}: Multi-Krum discards the attacker, and only it`);
    assert.match(m.aggregation, /Krum/);
  }
});
