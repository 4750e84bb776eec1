// Tests' stand-in for the coordinator and its transport: one attempt of secure aggregation among
// tabs in this process, with tabs leaving at chosen steps. Messages go through exactly the calls
// the coordinator would make (buildRoster, SecureSumUnmasker) and nothing else.
import { SecAggParticipant } from '../shared/secagg/participant.ts';
import { buildRoster } from '../shared/secagg/roster.ts';
import { SecureSumUnmasker, type UnmaskedSum } from '../shared/secagg/unmasker.ts';
import type { EncryptedShares, RosterMessage } from '../shared/secagg/messages.ts';

export interface RoundPlan {
  round?: number;
  attempt?: number;
  threshold: number;
  /** Each tab's fixed-point input, by clientId; every tab advertises. */
  inputs: ReadonlyMap<string, Uint32Array>;
  /** Advertised, then left before sending shares: not in U2. */
  leaveBeforeSharing?: readonly string[];
  /** Sent shares, then left before sending a masked input: in U2 \ U3. */
  leaveBeforeMasking?: readonly string[];
  /** Survivors that never answer the unmask request. */
  silentAtReveal?: readonly string[];
}

export async function advertiseAll(ids: readonly string[], round = 1, attempt = 1): Promise<{ tabs: Map<string, SecAggParticipant>; roster: RosterMessage['clients'] }> {
  const tabs = new Map<string, SecAggParticipant>();
  for (const clientId of ids) tabs.set(clientId, await SecAggParticipant.create({ clientId, round, attempt }));
  const { roster, refused } = buildRoster(new Map([...tabs].map(([id, tab]) => [id, tab.advertise()])));
  if (refused.length > 0) throw new Error(`fixture: adverts refused: ${JSON.stringify(refused)}`);
  return { tabs, roster };
}

/** Ciphertexts addressed to `to`, as the coordinator forwards them. */
export function sharesFor(to: string, sent: ReadonlyMap<string, EncryptedShares>): { from: string; ciphertext: Uint8Array }[] {
  return [...sent].flatMap(([from, msg]) => msg.shares.filter((s) => s.to === to).map((s) => ({ from, ciphertext: s.ciphertext })));
}

export async function runRound(plan: RoundPlan): Promise<UnmaskedSum> {
  const { round = 1, attempt = 1, threshold } = plan;
  const leaveBeforeSharing = new Set(plan.leaveBeforeSharing);
  const leaveBeforeMasking = new Set(plan.leaveBeforeMasking);
  const silentAtReveal = new Set(plan.silentAtReveal);
  const { tabs, roster } = await advertiseAll([...plan.inputs.keys()], round, attempt);
  const rosterMessage: RosterMessage = { round, attempt, threshold, clients: roster };

  const sent = new Map<string, EncryptedShares>();
  for (const [id, tab] of tabs) if (!leaveBeforeSharing.has(id)) sent.set(id, await tab.shareKeys(rosterMessage));
  const shared = [...sent.keys()].sort();
  const unmasker = new SecureSumUnmasker({ round, attempt, threshold, roster, shared, length: plan.inputs.values().next().value!.length });

  for (const id of shared) await tabs.get(id)!.receiveShares({ round, attempt, shared, shares: sharesFor(id, sent) });
  for (const id of shared) if (!leaveBeforeMasking.has(id)) unmasker.addMaskedInput(id, await tabs.get(id)!.maskInput(plan.inputs.get(id)!));

  const request = unmasker.unmaskRequest();
  for (const id of request.survivors) if (!silentAtReveal.has(id)) unmasker.addReveal(id, tabs.get(id)!.reveal(request));
  return unmasker.unmask();
}
