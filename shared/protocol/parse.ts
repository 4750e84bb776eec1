// Parsing a message by its row of the protocol table (messages.ts). What a stranger sends is
// refused cheaply whatever its size: first a shape gate that costs the same for 10 bytes or
// 10 MB (a plain object with no more keys than the schema has, short strings, binary only where
// the schema has a binary field and no larger than it allows, lists only where it has a list and
// no longer), then the schema itself. Exact sizes that depend on the run (the model, the roster)
// are the field decoders' business.
import { Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { isBinary, isBinarySchema } from './binary.ts';
import { MESSAGES, type AckReply, type InboundName, type MessageName, type Payload } from './messages.ts';

/** Something a peer sent does not fit the protocol: the sender's fault, with a message that says what. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** Longest string field when the schema sets no maxLength of its own. */
const MAX_STRING_LENGTH = 1000;

/** What the gate needs to know of one payload schema, worked out once per row. */
interface Gate {
  keys: number;
  binary: Map<string, { maxBytes: number; exactBytes?: number }>;
  lists: Map<string, number>;
  strings: Map<string, number>;
}

const gates = new Map<string, Gate>();

function gateOf(name: InboundName): Gate {
  let gate = gates.get(name);
  if (!gate) {
    const properties = (MESSAGES[name].payload as TObject).properties as Record<string, TSchema>;
    gate = { keys: Object.keys(properties).length, binary: new Map(), lists: new Map(), strings: new Map() };
    for (const [key, schema] of Object.entries(properties)) {
      if (isBinarySchema(schema)) gate.binary.set(key, { maxBytes: schema.maxBytes, exactBytes: schema.exactBytes });
      else if (schema[Kind] === 'Array') gate.lists.set(key, (schema.maxItems as number | undefined) ?? 0);
      else if (schema[Kind] === 'String') gate.strings.set(key, (schema.maxLength as number | undefined) ?? MAX_STRING_LENGTH);
    }
    gates.set(name, gate);
  }
  return gate;
}

export const describe = (value: unknown): string => {
  if (value === null) return 'null';
  if (isBinary(value)) return `binary (${value.byteLength} bytes)`;
  return Array.isArray(value) ? 'an array' : typeof value;
};

/** O(fields) whatever the message's size; throws ProtocolError naming the field. */
function requireShape(what: string, gate: Gate, raw: unknown): void {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || isBinary(raw)) {
    throw new ProtocolError(`malformed ${what}: expected an object, got ${describe(raw)}`);
  }
  const proto = Object.getPrototypeOf(raw);
  if (proto !== Object.prototype && proto !== null) throw new ProtocolError(`malformed ${what}: expected a plain object`);
  let keys = 0;
  for (const key in raw) {
    if (++keys > gate.keys) throw new ProtocolError(`malformed ${what}: too many fields`);
    const value = (raw as Record<string, unknown>)[key];
    const binary = gate.binary.get(key);
    if (binary) {
      if (!isBinary(value)) throw new ProtocolError(`malformed ${what}: ${key} must be binary, got ${describe(value)}`);
      if (binary.exactBytes !== undefined && value.byteLength !== binary.exactBytes) {
        throw new ProtocolError(`${what} rejected: ${key} has ${value.byteLength} bytes, ${binary.exactBytes} expected`);
      }
      if (value.byteLength > binary.maxBytes) throw new ProtocolError(`${what} rejected: ${key} has ${value.byteLength} bytes, at most ${binary.maxBytes}`);
      continue;
    }
    const maxItems = gate.lists.get(key);
    if (maxItems !== undefined && Array.isArray(value)) {
      if (value.length > maxItems) throw new ProtocolError(`malformed ${what}: ${key} has more than ${maxItems} entries`);
      continue; // its entries are checked by the schema, which walks at most maxItems of them
    }
    if (typeof value === 'string' && value.length > (gate.strings.get(key) ?? MAX_STRING_LENGTH)) throw new ProtocolError(`malformed ${what}: ${key} is too long`);
    if (typeof value === 'object' && value !== null) throw new ProtocolError(`malformed ${what}: ${key} must not be ${describe(value)}`);
  }
}

function check<S extends TSchema>(what: string, schema: S, raw: unknown): void {
  if (Value.Check(schema, raw)) return;
  const first = [...Value.Errors(schema, raw)][0];
  const where = first?.path ? `${first.path.replace(/^\//, '')}: ` : '';
  throw new ProtocolError(`malformed ${what}: ${where}${first?.message ?? 'invalid'}`);
}

/** A message a tab or the dashboard sent, through the gate and the schema (an absent payload counts as {}). */
export function parseInbound<K extends InboundName>(name: K, raw: unknown): Payload<K> {
  const what = MESSAGES[name].what;
  const payload = raw ?? {};
  requireShape(what, gateOf(name), payload);
  check(what, MESSAGES[name].payload, payload);
  return payload as Payload<K>;
}

/** A message the coordinator sent, checked against its schema before the tab acts on it. */
export function parseOutbound<K extends MessageName>(name: K, raw: unknown): Payload<K> {
  check(MESSAGES[name].what, MESSAGES[name].payload, raw);
  return raw as Payload<K>;
}

/** The coordinator's acknowledgement of a message a tab sent (a join reply, an update's ack), checked against its schema. */
export function parseReply<K extends InboundName>(name: K, raw: unknown): AckReply<K> {
  const ack = MESSAGES[name].ack;
  if (!ack) throw new Error(`${name} has no acknowledgement in the protocol table`);
  check(`answer to the ${MESSAGES[name].what}`, ack.reply, raw);
  return raw as AckReply<K>;
}
