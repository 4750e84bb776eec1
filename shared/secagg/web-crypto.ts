// The part of WebCrypto that secure aggregation uses, typed here because shared/ is compiled
// without the DOM lib (shared/tsconfig.json). Node 20, the page and the worker all have it at
// globalThis.crypto; a browser hides crypto.subtle from pages that are not a secure context.

/** An opaque WebCrypto key: only WebCrypto looks inside. */
export interface WebCryptoKey {
  readonly type: 'public' | 'private' | 'secret';
}

/** The fields of an EC JSON Web Key we read and write: coordinates and private scalar, base64url. */
export interface EcJsonWebKey {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  d?: string;
  ext?: boolean;
}

export interface EcdhP256 {
  name: 'ECDH';
  namedCurve: 'P-256';
}

export interface HkdfSha256Params {
  name: 'HKDF';
  hash: 'SHA-256';
  salt: Uint8Array;
  info: Uint8Array;
}

export interface AesGcmParams {
  name: 'AES-GCM';
  iv: Uint8Array;
  additionalData: Uint8Array;
}

export interface AesCtrParams {
  name: 'AES-CTR';
  counter: Uint8Array;
  /** Bits of the counter block that count: the rest is a fixed nonce. */
  length: number;
}

export interface WebCryptoSubtle {
  generateKey(algorithm: EcdhP256, extractable: boolean, usages: readonly 'deriveBits'[]): Promise<{ publicKey: WebCryptoKey; privateKey: WebCryptoKey }>;
  exportKey(format: 'raw', key: WebCryptoKey): Promise<ArrayBuffer>;
  exportKey(format: 'jwk', key: WebCryptoKey): Promise<EcJsonWebKey>;
  importKey(format: 'raw', keyData: Uint8Array, algorithm: EcdhP256, extractable: boolean, usages: readonly never[]): Promise<WebCryptoKey>;
  importKey(format: 'raw', keyData: Uint8Array, algorithm: 'HKDF', extractable: false, usages: readonly 'deriveKey'[]): Promise<WebCryptoKey>;
  importKey(format: 'jwk', keyData: EcJsonWebKey, algorithm: EcdhP256, extractable: boolean, usages: readonly 'deriveBits'[]): Promise<WebCryptoKey>;
  deriveBits(algorithm: { name: 'ECDH'; public: WebCryptoKey }, baseKey: WebCryptoKey, length: number): Promise<ArrayBuffer>;
  deriveKey(
    algorithm: HkdfSha256Params,
    baseKey: WebCryptoKey,
    derivedKeyType: { name: 'AES-GCM' | 'AES-CTR'; length: 256 },
    extractable: false,
    usages: readonly ('encrypt' | 'decrypt')[],
  ): Promise<WebCryptoKey>;
  encrypt(algorithm: AesGcmParams | AesCtrParams, key: WebCryptoKey, data: Uint8Array): Promise<ArrayBuffer>;
  decrypt(algorithm: AesGcmParams, key: WebCryptoKey, data: Uint8Array): Promise<ArrayBuffer>;
}

export interface WebCrypto {
  readonly subtle: WebCryptoSubtle;
  getRandomValues<T extends Uint8Array>(array: T): T;
}

/**
 * globalThis.crypto, checked. Asked for at each use, not at import, so that a page which never
 * turns secure aggregation on loads fine without a secure context.
 */
export function webCrypto(): WebCrypto {
  const crypto = (globalThis as unknown as { crypto?: Partial<WebCrypto> }).crypto;
  if (!crypto || typeof crypto.getRandomValues !== 'function' || !crypto.subtle) {
    throw new Error('secure aggregation needs WebCrypto, which browsers give only to secure contexts: open the page over https or on localhost');
  }
  return crypto as WebCrypto;
}

/** `count` bytes from the operating system's CSPRNG (getRandomValues fills at most 65,536 per call). */
export function randomBytes(count: number): Uint8Array {
  const bytes = new Uint8Array(count);
  const crypto = webCrypto();
  for (let at = 0; at < count; at += 65_536) crypto.getRandomValues(bytes.subarray(at, Math.min(count, at + 65_536)));
  return bytes;
}
