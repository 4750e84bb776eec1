// The line between a refusal and a bug. A ClientFaultError is something the caller did wrong
// (a malformed message (ProtocolError, shared/protocol/parse.ts), a rejected update, a wrong token, a run in the wrong phase): it is
// answered with its message and logged briefly. Anything else is our bug: logged with its stack,
// and the caller only hears that something went wrong on our side.
import { SettingsError } from '../shared/settings.ts';
import { ProtocolError } from '../shared/protocol/parse.ts';
import { SecAggRefusal } from '../shared/secagg/secagg-error.ts';

export class ClientFaultError extends Error {
  override name = 'ClientFaultError';
}

export function isClientFault(error: unknown): error is ClientFaultError | SettingsError | ProtocolError | SecAggRefusal {
  return error instanceof ClientFaultError || error instanceof SettingsError || error instanceof ProtocolError || error instanceof SecAggRefusal;
}

/** What a tab or an HTTP caller is told when the fault is ours. */
export const INTERNAL_ERROR_MESSAGE = 'internal error in the coordinator (logged); try again';
