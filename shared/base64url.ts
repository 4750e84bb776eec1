// Base64url without padding (RFC 4648 §5): the encoding of a JSON Web Key's coordinates and
// private scalar (WebCrypto hands the private scalar of an ECDH key out only as JWK `d`, and takes
// a recovered one back only that way), and of a resume token's hash. atob/btoa are DOM and Node
// globals, not ES2022.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUE_OF = new Map([...ALPHABET].map((c, i) => [c, i]));

export function bytesToBase64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += ALPHABET[(chunk >> (18 - 6 * k)) & 63];
  }
  return out;
}

/** Throws on characters outside the alphabet and on lengths no byte string encodes to. */
export function base64UrlToBytes(text: string): Uint8Array {
  if (text.length % 4 === 1) throw new RangeError(`not base64url: ${text.length} characters encode no whole number of bytes`);
  const bytes = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let bitCount = 0;
  let at = 0;
  for (const c of text) {
    const value = VALUE_OF.get(c);
    if (value === undefined) throw new RangeError(`not base64url: unexpected character "${c}"`);
    bits = ((bits << 6) | value) & 0xffffff;
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      bytes[at++] = (bits >> bitCount) & 0xff;
    }
  }
  return bytes;
}
