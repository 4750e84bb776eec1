// Token buckets: `perSecond` tokens refill continuously up to `burst`; each message takes one.
// Pure bookkeeping over a clock, so limits are tested without waiting.

export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  /** Takes one token if there is one. */
  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  isFull(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.burst;
  }

  private refill(nowMs: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) / 1000) * this.perSecond);
    this.lastMs = nowMs;
  }
}

/** One bucket per key (e.g. per address), forgotten once full again so the map cannot grow without bound. */
export class KeyedRateLimit {
  private readonly buckets = new Map<string, TokenBucket>();
  private sweptAtMs = 0;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  take(key: string, nowMs: number): boolean {
    this.sweep(nowMs);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.perSecond, this.burst, nowMs);
      this.buckets.set(key, bucket);
    }
    return bucket.take(nowMs);
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Every bucket untouched for the time it takes to refill is as good as new: drop it. */
  private sweep(nowMs: number): void {
    const refillMs = (this.burst / this.perSecond) * 1000;
    if (nowMs - this.sweptAtMs < refillMs) return;
    this.sweptAtMs = nowMs;
    for (const [key, bucket] of this.buckets) if (bucket.isFull(nowMs)) this.buckets.delete(key);
  }
}
