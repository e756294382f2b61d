// The call history as the agent reads it: how each call went, and the earlier calls of the
// party on the line now.

import { partyKey } from './number';
import type { CallRecord } from './protocol';

export type Outcome =
  | 'answered'
  | 'transferred'
  | 'missed'
  | 'declined'
  | 'not_reached'
  | 'cancelled'
  | 'failed'
  | 'in_progress';

/** How a call went, from the agent's side. */
export function outcome(r: CallRecord): Outcome {
  const reason = r.end_reason;
  if (reason === null) return r.ended_at === null ? 'in_progress' : 'failed';
  if (r.answered_at !== null) return reason === 'transferred' ? 'transferred' : 'answered';
  if (r.direction === 'inbound') {
    if (reason === 'declined') return 'declined';
    if (reason === 'caller_cancelled' || reason === 'missed') return 'missed';
    return 'failed';
  }
  if (reason === 'local_hangup') return 'cancelled';
  if (reason === 'rejected') return 'not_reached';
  return 'failed';
}

/** How long the parties talked, in ms; `null` when they did not. */
export function talkTime(r: CallRecord): number | null {
  return r.answered_at !== null && r.ended_at !== null ? r.ended_at - r.answered_at : null;
}

/** What to dial to call the party back. */
export function callbackTarget(r: CallRecord): string {
  return r.remote_user ?? r.remote;
}

/**
 * The history's calls with the same party, newest first, without the call itself (which
 * the history holds too once it has been written: it started at the same moment).
 */
export function earlierCalls(
  history: readonly CallRecord[],
  party: { remote: string; remoteUser?: string; startedAt: number },
): CallRecord[] {
  const key = partyKey(party.remoteUser ?? party.remote);
  if (key === '') return [];
  return history.filter(
    (r) => r.started_at < party.startedAt - 1000 && partyKey(callbackTarget(r)) === key,
  );
}
