// The round's updates, held: rules that need every update at once (median, trimmed mean, Krum)
// copy each delta here instead of folding it into a running sum. One buffer holds them all, as
// rows at a fixed stride, plus a scratch area after the rows for the rule's kernels; it is
// allocated once, grown when more clients arrive than ever before, and reused across rounds.
//
// The buffer is a WebAssembly.Memory when the SIMD kernels can run on it, a plain ArrayBuffer
// otherwise; the layout is the same, so the plain-JS kernels are drop-in references.
import type { ClientUpdate } from './aggregation-rule.ts';

const WASM_PAGE_BYTES = 65536;
const WASM_MAX_PAGES = 65536; // 4 GB: a 32-bit address space
const CACHE_LINE_BYTES = 64;
/** Coordinates are padded to a multiple of this, with zeros, so kernels work in whole chunks (the trimmed mean's are 256). */
export const HELD_COORDINATE_ALIGN = 256;
/**
 * Rows past the last update that must exist in memory: Krum's kernel computes 2×4 tiles of dot
 * products and may read up to 3 rows past the last one (their results are not used).
 */
export const HELD_SPARE_ROWS = 4;
const FIRST_CAPACITY = 4;

export class HeldUpdates {
  /** Bytes from one row to the next. */
  readonly rowStride: number;
  /** Coordinates per row including the zero padding (a multiple of HELD_COORDINATE_ALIGN). */
  readonly paddedLength: number;
  private readonly ids: string[] = [];
  private readonly weightList: number[] = [];
  private capacity = 0;
  private scratchBytes = 0;
  private wasmMemory: WebAssembly.Memory | null = null;
  private buffer: ArrayBuffer = new ArrayBuffer(0);
  private floats = new Float32Array(0);

  /** `wasm: false` keeps the rows in a plain ArrayBuffer (no SIMD kernels; for tests and comparison). */
  constructor(
    readonly paramCount: number,
    private readonly options: { wasm: boolean },
  ) {
    if (!Number.isInteger(paramCount) || paramCount < 1) throw new RangeError(`parameter count must be an integer >= 1, got ${paramCount}`);
    this.paddedLength = Math.ceil(paramCount / HELD_COORDINATE_ALIGN) * HELD_COORDINATE_ALIGN;
    // An odd number of cache lines from row to row: the ~100 rows a kernel reads side by side then
    // start in different cache sets instead of piling into a few (a stride of 2^k bytes would).
    const lines = (this.paddedLength * 4) / CACHE_LINE_BYTES;
    this.rowStride = (lines % 2 === 0 ? lines + 1 : lines) * CACHE_LINE_BYTES;
  }

  /** `deltas` held as rows 0, 1, … (ids "0", "1", …, weight 1 each): for the pure functions over Float32Array[]. */
  static holding(deltas: readonly Float32Array[]): HeldUpdates {
    const held = new HeldUpdates(deltas[0].length, { wasm: true });
    deltas.forEach((delta, index) => held.add({ clientId: String(index), delta, weight: 1 }));
    return held;
  }

  get count(): number {
    return this.ids.length;
  }

  /** Client ids, in the order their updates arrived (row order). */
  get clientIds(): readonly string[] {
    return this.ids;
  }

  get weights(): readonly number[] {
    return this.weightList;
  }

  /** The memory the SIMD kernels run on; null when the rows live in a plain ArrayBuffer. */
  get memory(): WebAssembly.Memory | null {
    return this.wasmMemory;
  }

  /** The whole buffer as float32 (rows, then scratch). Replaced when the buffer grows: fetch it again after add() or reserveScratch(). */
  get heap(): Float32Array {
    return this.floats;
  }

  /** Byte offset of the scratch area: right after the rows (and spare rows) of the current capacity. */
  get scratchOffset(): number {
    return (this.capacity + HELD_SPARE_ROWS) * this.rowStride;
  }

  /** Byte offset of row `index`. */
  rowOffset(index: number): number {
    return index * this.rowStride;
  }

  /** Forgets the updates; the buffer is kept. */
  clear(): void {
    this.ids.length = 0;
    this.weightList.length = 0;
  }

  /** Copies the delta into the next row. Throws RangeError for a wrong length or weight. */
  add(update: ClientUpdate): void {
    const { delta, weight } = update;
    if (delta.length !== this.paramCount) throw new RangeError(`delta has ${delta.length} values, the model has ${this.paramCount}`);
    if (!(weight >= 0) || !Number.isFinite(weight)) throw new RangeError(`weight must be a finite number >= 0, got ${weight}`);
    if (this.count === this.capacity) this.allocate(this.nextCapacity(), Math.max(this.scratchBytes, this.likelyScratchBytes));
    // The padding after paramCount is never written, so it stays 0.
    this.floats.set(delta, this.rowOffset(this.count) / 4);
    this.ids.push(update.clientId);
    this.weightList.push(weight);
  }

  /** Makes sure the scratch area has at least `bytes` bytes and returns its offset. Its contents are not kept across calls that grow it. */
  reserveScratch(bytes: number): number {
    if (bytes > this.scratchBytes) this.allocate(this.capacity, bytes);
    return this.scratchOffset;
  }

  /** Twice the rows (amortised growth), but no more than fit WebAssembly's 4 GB when that is the limit. */
  private nextCapacity(): number {
    const doubled = Math.max(FIRST_CAPACITY, 2 * this.capacity);
    if (!this.options.wasm) return doubled;
    const scratch = Math.max(this.scratchBytes, this.likelyScratchBytes);
    const fitting = Math.floor((WASM_MAX_PAGES * WASM_PAGE_BYTES - scratch) / this.rowStride) - HELD_SPARE_ROWS;
    return fitting > this.capacity ? Math.min(doubled, fitting) : doubled; // doubled: allocate() explains the limit
  }

  /** Every rule's scratch holds a mean (paddedLength floats) and a little more: reserving it with the rows saves a copy of them at the first finish. */
  private get likelyScratchBytes(): number {
    return this.paddedLength * 4 + (1 << 20);
  }

  /** A new buffer for `capacity` rows + spare rows + `scratchBytes`, with the current rows copied over. */
  private allocate(capacity: number, scratchBytes: number): void {
    const bytes = (capacity + HELD_SPARE_ROWS) * this.rowStride + Math.ceil(scratchBytes / 16) * 16;
    let memory: WebAssembly.Memory | null = null;
    let buffer: ArrayBuffer;
    if (this.options.wasm && typeof WebAssembly === 'object') {
      const pages = Math.ceil(bytes / WASM_PAGE_BYTES);
      if (pages > WASM_MAX_PAGES) {
        throw new RangeError(
          `holding ${capacity} updates of ${this.paramCount} parameters needs ${(bytes / 1e9).toFixed(1)} GB, over WebAssembly's 4 GB: ` +
            'use fewer clients per round, or FedAvg / norm bound, which stream',
        );
      }
      memory = new WebAssembly.Memory({ initial: pages });
      buffer = memory.buffer;
    } else {
      buffer = new ArrayBuffer(bytes);
    }
    new Uint8Array(buffer).set(new Uint8Array(this.buffer, 0, this.count * this.rowStride));
    this.wasmMemory = memory;
    this.buffer = buffer;
    this.floats = new Float32Array(buffer);
    this.capacity = capacity;
    this.scratchBytes = scratchBytes;
  }
}
