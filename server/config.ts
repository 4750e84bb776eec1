// Turns command-line flags and environment variables into validated settings.
// Every setting can be given as --name value, --name=value or FLOCK_NAME (UPPER_SNAKE); a
// boolean one also as a bare --name (true). Each text is read by the setting's schema type.
import { KindGuard } from '@sinclair/typebox';
import { resolveSettings, SettingsError, SettingsSchema, type Settings } from '../shared/settings.ts';
import { join } from 'node:path';
import { generateAdminToken, generateRoomCode, type Access } from './access.ts';
import { ROOT_DIR } from './data-paths.ts';
import { DEFAULT_LIMITS, type TransportLimits } from './limits/transport-limits.ts';

export interface ServerConfig {
  host: string;
  port: number;
  settings: Settings;
  access: Access;
  /** Where the run is checkpointed; the coordinator resumes from it at start. */
  dataDir: string;
  /** Start a new run, removing the checkpoints in dataDir. */
  fresh: boolean;
  limits: TransportLimits;
  /** Which secrets were made up at this start (not given): main.ts keeps those across restarts. */
  generated: { adminToken: boolean; roomCode: boolean };
}

export const DEFAULT_DATA_DIR = join(ROOT_DIR, '.flock-data');
const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as (keyof TransportLimits)[];

type ValueKind = 'text' | 'number' | 'boolean';
/** The coordinator's own keys, beside the run's settings (whose kinds come from SettingsSchema). */
export const SERVER_KEYS: Record<string, ValueKind> = {
  host: 'text',
  port: 'number',
  adminToken: 'text',
  roomCode: 'text',
  dataDir: 'text',
  fresh: 'boolean',
  ...Object.fromEntries(LIMIT_KEYS.map((key) => [key, 'number'])),
};
const SETTING_KEYS: Record<string, ValueKind> = Object.fromEntries(
  Object.entries(SettingsSchema.properties).map(([key, schema]) => [
    key,
    // The unions are of string literals (model, aggregation, …): resolveSettings names the allowed ones.
    KindGuard.IsBoolean(schema) ? 'boolean' : KindGuard.IsNumber(schema) || KindGuard.IsInteger(schema) ? 'number' : 'text',
  ]),
);
const KINDS: Record<string, ValueKind> = { ...SETTING_KEYS, ...SERVER_KEYS };

const envName = (key: string) => `FLOCK_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

function parseValue(key: string, text: string): string | number | boolean {
  switch (KINDS[key]) {
    case 'boolean':
      if (text !== 'true' && text !== 'false') throw new SettingsError(`${key}: expected true or false, got "${text}"`);
      return text === 'true';
    case 'number': {
      const value = Number(text);
      if (text.trim() === '' || Number.isNaN(value)) throw new SettingsError(`${key}: expected a number, got "${text}"`);
      return value;
    }
    default:
      return text;
  }
}

function readFlags(argv: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new SettingsError(`unexpected argument "${arg}" (settings look like --rounds 10)`);
    const [given, inline] = arg.slice(2).split('=', 2);
    const name = given.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()); // --data-dir is --dataDir
    // A boolean flag alone (last, or before another flag) means true: `--fresh`, `--secure-aggregation`.
    if (KINDS[name] === 'boolean' && inline === undefined && (i + 1 === argv.length || argv[i + 1].startsWith('--'))) {
      flags[name] = 'true';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new SettingsError(`--${name} needs a value`);
    flags[name] = value;
  }
  return flags;
}

export function loadConfig(argv: string[], env: Record<string, string | undefined>): ServerConfig {
  const known = new Set(Object.keys(KINDS));
  const given: Record<string, string> = {};
  for (const key of known) {
    const fromEnv = env[envName(key)];
    if (fromEnv !== undefined) given[key] = fromEnv;
  }
  if (env.PORT !== undefined && given.port === undefined) given.port = env.PORT;
  for (const [name, value] of Object.entries(readFlags(argv))) {
    if (!known.has(name)) throw new SettingsError(`unknown setting --${name}; known: ${[...known].join(', ')}`);
    given[name] = value;
  }
  const partial: Record<string, string | number | boolean> = {};
  for (const [key, text] of Object.entries(given)) partial[key] = parseValue(key, text);
  const { host = '0.0.0.0', port = 8080, adminToken = generateAdminToken(), roomCode = generateRoomCode(), dataDir = DEFAULT_DATA_DIR, fresh = false, ...others } = partial;
  const limits = { ...DEFAULT_LIMITS };
  const rest: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(others)) {
    if (!(LIMIT_KEYS as string[]).includes(key)) rest[key] = value;
    else if (Number.isInteger(value) && (value as number) >= 1) limits[key as keyof TransportLimits] = value as number;
    else throw new SettingsError(`${key}: expected an integer >= 1, got ${value}`);
  }
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
    throw new SettingsError(`port: expected an integer 0..65535, got ${port}`);
  }
  if (String(adminToken).length < 8) throw new SettingsError('adminToken: use at least 8 characters');
  const code = String(roomCode).toUpperCase();
  if (code !== 'NONE' && !/^[A-Z0-9]{3,12}$/.test(code)) {
    throw new SettingsError(`roomCode: 3 to 12 letters or digits (or "none" for an open room), got "${roomCode}"`);
  }
  return {
    host: String(host),
    port: port as number,
    settings: resolveSettings(rest),
    access: { adminToken: String(adminToken), roomCode: code === 'NONE' ? null : code },
    dataDir: String(dataDir),
    fresh: fresh === true,
    limits,
    generated: { adminToken: partial.adminToken === undefined, roomCode: partial.roomCode === undefined },
  };
}

export { envName };
