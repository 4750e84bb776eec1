// The HTTP API through app.inject(): no port needed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDataset } from '../../shared/dataset-format.ts';
import { MODEL_SPECS, modelSpec } from '../../shared/model-spec.ts';
import { createRng } from '../../shared/fl/rng.ts';
import { resolveSettings } from '../../shared/settings.ts';
import { decodeWeights } from '../../shared/wire.ts';
import * as tf from '@tensorflow/tfjs';
import { buildApp, type AppOptions, type FlockApp } from '../app.ts';
import { ScriptedEvaluator } from '../../harness/scripted-evaluator.ts';

let flock: FlockApp;
const admin = { authorization: 'Bearer test-admin-token' };

/** Seeded values spread over [−1, 1): an export that loses, zeroes or reorders weights shows. */
function seededWeights(count: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const weights = new Float32Array(count);
  for (let i = 0; i < count; i++) weights[i] = 2 * rng.next() - 1;
  return weights;
}

/** The scripted evaluator's answers, but the run starts from seeded non-zero weights instead of zeros. */
const scripted = new ScriptedEvaluator();
const seededStart: NonNullable<AppOptions['evaluator']> = {
  initialWeights: (model, seed) => seededWeights(modelSpec(model).paramCount, seed),
  evaluate: (model, weights) => scripted.evaluate(model, weights),
};

before(async () => {
  flock = await buildApp({
    settings: resolveSettings({ shards: 4 }),
    access: { adminToken: 'test-admin-token', roomCode: null },
    distDir: mkdtempSync(join(tmpdir(), 'flock-dist-')),
    evaluator: seededStart,
  });
});
after(() => flock.app.close());

test('status reports the phase, settings and model', async () => {
  const status = (await flock.app.inject('/api/status')).json();
  assert.equal(status.phase, 'idle');
  assert.equal(status.settings.shards, 4);
  assert.equal(status.paramCount, MODEL_SPECS.mlp.paramCount);
});

test('shards: each tab gets a quarter of the 8,000 training digits; a missing shard is a 404', async () => {
  const shard = await flock.app.inject('/api/shards/3');
  assert.equal(shard.statusCode, 200);
  assert.equal(decodeDataset(shard.rawPayload).count, 2000);
  const missing = await flock.app.inject('/api/shards/4');
  assert.equal(missing.statusCode, 404);
  assert.match(missing.json().error, /shard 4 does not exist \(4 shards\)/);
  assert.equal((await flock.app.inject('/api/shards/abc')).statusCode, 400);
});

test('global weights download as the binary wire format', async () => {
  const reply = await flock.app.inject('/api/weights');
  assert.equal(reply.headers['content-type'], 'application/octet-stream');
  assert.equal(decodeWeights(MODEL_SPECS.mlp, reply.rawPayload).length, MODEL_SPECS.mlp.paramCount);
});

test('settings: bad values are refused with the field named, good ones apply', async () => {
  const bad = await flock.app.inject({ method: 'PUT', url: '/api/settings', headers: admin, payload: { learningRate: -1 } });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().error, /learningRate/);
  const cross = await flock.app.inject({ method: 'PUT', url: '/api/settings', headers: admin, payload: { noiseMultiplier: 1 } });
  assert.equal(cross.statusCode, 400);
  assert.match(cross.json().error, /needs clipNorm > 0/);
  const good = await flock.app.inject({ method: 'PUT', url: '/api/settings', headers: admin, payload: { rounds: 3 } });
  assert.equal(good.statusCode, 200);
  assert.equal(flock.coordinator.settings.rounds, 3);
});

test('steering needs the admin token: without it or with a wrong one nothing changes', async () => {
  for (const url of ['/api/run/start', '/api/run/stop', '/api/run/reset']) {
    const missing = await flock.app.inject({ method: 'POST', url });
    assert.equal(missing.statusCode, 401, url);
    assert.match(missing.json().error, /admin token required/);
    const wrong = await flock.app.inject({ method: 'POST', url, headers: { authorization: 'Bearer guess' } });
    assert.equal(wrong.statusCode, 403, url);
    assert.match(wrong.json().error, /wrong admin token: nothing was changed/);
  }
  const settings = await flock.app.inject({ method: 'PUT', url: '/api/settings', payload: { rounds: 99 } });
  assert.equal(settings.statusCode, 401);
  const badBody = await flock.app.inject({ method: 'PUT', url: '/api/settings', payload: { rounds: -1 } });
  assert.equal(badBody.statusCode, 401, 'the token is checked before the body');
  assert.notEqual(flock.coordinator.settings.rounds, 99);
  assert.equal(flock.coordinator.phase, 'idle');
});

test('start and stop: 409 when the request does not fit the phase, settings frozen during a run', async () => {
  assert.equal((await flock.app.inject({ method: 'POST', url: '/api/run/stop', headers: admin })).statusCode, 409);
  const start = await flock.app.inject({ method: 'POST', url: '/api/run/start', headers: admin });
  assert.deepEqual(start.json(), { ok: true, phase: 'waiting' });
  const again = await flock.app.inject({ method: 'POST', url: '/api/run/start', headers: admin });
  assert.equal(again.statusCode, 409);
  assert.match(again.json().error, /already in progress/);
  const frozen = await flock.app.inject({ method: 'PUT', url: '/api/settings', headers: admin, payload: { rounds: 4 } });
  assert.equal(frozen.statusCode, 409);
  assert.deepEqual((await flock.app.inject({ method: 'POST', url: '/api/run/stop', headers: admin })).json(), { ok: true, phase: 'stopped' });
  assert.deepEqual((await flock.app.inject({ method: 'POST', url: '/api/run/reset', headers: admin })).json(), { ok: true, phase: 'idle' });
});

test('the global model downloads in TensorFlow.js format and loads back with exactly its weights', async () => {
  const spec = MODEL_SPECS.mlp;
  const expected = seededWeights(spec.paramCount, flock.coordinator.settings.seed);
  assert.deepEqual(flock.coordinator.global, expected, 'the run starts from the seeded weights');
  const json = await flock.app.inject('/api/model/model.json');
  assert.equal(json.statusCode, 200, json.body);
  const modelJson = json.json();
  assert.deepEqual(modelJson.weightsManifest[0].paths, ['weights.bin']);
  const weights = (await flock.app.inject('/api/model/weights.bin')).rawPayload;
  assert.equal(weights.byteLength, spec.paramCount * 4, 'float32, nothing else');
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
  try {
    const tensors = model.getWeights();
    assert.deepEqual(tensors.map((t) => t.shape), spec.tensorShapes, 'the tensors in the layout of shared/model-spec.ts');
    // Tensor by tensor, so a swapped or transposed tensor is named, then every value exactly.
    let offset = 0;
    for (const [i, tensor] of tensors.entries()) {
      const values = tensor.dataSync() as Float32Array;
      assert.deepEqual(values, expected.subarray(offset, offset + values.length), `tensor ${i} (${tensor.shape.join('×')})`);
      offset += values.length;
    }
    assert.equal(offset, spec.paramCount);
    assert.deepEqual(model.outputs[0].shape, [null, 10]);
  } finally {
    model.dispose();
  }
});

test('unknown fields in a body are refused, not quietly dropped', async () => {
  const reply = await flock.app.inject({ method: 'PUT', url: '/api/settings', headers: admin, payload: { rounds: 4, nope: 1 } });
  assert.equal(reply.statusCode, 400);
  assert.match(reply.json().error, /must NOT have additional properties/);
  assert.notEqual(flock.coordinator.settings.rounds, 4, 'nothing changed');
});
