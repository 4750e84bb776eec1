// A tab's resume token is its secret; the coordinator keeps only its hash (server/room.ts), and a
// tab sends the hash in the handshake's URL so that a known tab gets through its address's
// connection cap (server/plugins/socket.ts): the hash lets nobody join as the tab, which needs the
// token itself. One definition for both sides, so they cannot disagree on it.
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { bytesToBase64Url } from './base64url.ts';

/** SHA-256 of the token's UTF-8 bytes, base64url without padding. */
export const resumeTokenHash = (token: string): string => bytesToBase64Url(sha256(utf8ToBytes(token)));

/** The handshake URL's query parameter the hash travels in. */
export const TOKEN_HASH_PARAM = 'tab';
