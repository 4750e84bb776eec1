// The one tfjs bundle of the training worker, with all four backends registered:
// cpu and webgl come with @tensorflow/tfjs, webgpu and wasm are separate packages.
// Nothing here picks a backend; web/backend-probe.ts measures, then calls activateBackend.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { BackendName } from '../shared/protocol/records.ts';

export { tf };

// Vite fingerprints the binaries, so tfjs must be told each file's URL.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlainUrl,
  'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
});
// Threads only pay off with many cores and need cross-origin isolation; measured: nothing gained on 2 cores.
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
  constructor(
    readonly backend: BackendName,
    message: string,
  ) {
    super(message);
  }
}

/** Makes `name` the active backend or throws BackendUnavailableError saying why it cannot run here. */
export async function activateBackend(name: BackendName): Promise<void> {
  if (!tf.findBackendFactory(name)) {
    throw new BackendUnavailableError(name, await whyUnavailable(name));
  }
  // setBackend answers false (and logs a warning) when the backend's initialisation fails.
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new BackendUnavailableError(name, await whyUnavailable(name));
  }
}

/**
 * Frees a backend that lost the probe (its GPU context, device or wasm heap).
 * It cannot be activated again in this worker afterwards.
 */
export function releaseBackend(name: BackendName): void {
  if (tf.getBackend() === name) throw new Error(`cannot release ${name}: it is the active backend`);
  if (tf.findBackendFactory(name)) tf.removeBackend(name);
}

async function whyUnavailable(name: BackendName): Promise<string> {
  switch (name) {
    case 'webgpu': {
      if (!('gpu' in navigator)) return 'this browser has no WebGPU';
      const adapter = await navigator.gpu.requestAdapter().catch(() => null);
      if (!adapter) return 'no WebGPU adapter (no GPU, or WebGPU disabled for it)';
      return 'WebGPU device could not be created';
    }
    case 'webgl': {
      if (typeof OffscreenCanvas === 'undefined') return 'no OffscreenCanvas in workers, so no WebGL here';
      if (!new OffscreenCanvas(1, 1).getContext('webgl2')) return 'no WebGL2 context (GPU blocklisted or disabled)';
      return 'WebGL backend failed to initialise (see the console)';
    }
    case 'wasm':
      return 'WebAssembly backend failed to load its .wasm binary (see the console)';
    case 'cpu':
      return 'cpu backend failed to initialise';
  }
}

/** Whether WebGPU runs on a software fallback adapter (e.g. SwiftShader): shown next to its speed. */
export async function isSoftwareWebGpu(): Promise<boolean> {
  const adapter = 'gpu' in navigator ? await navigator.gpu.requestAdapter().catch(() => null) : null;
  // Chromium reports it on adapter.info, newer than the @webgpu/types tfjs ships with.
  const info = (adapter as { info?: { isFallbackAdapter?: boolean } } | null)?.info;
  return info?.isFallbackAdapter === true || adapter?.isFallbackAdapter === true;
}
