// The words for the backend's codes: agent states and reasons, registration, call states,
// end reasons and error codes. Unknown codes fall back to something readable.

import { locale, t, tMaybe } from './i18n/index.svelte';
import type { Call, Registration } from './model';
import { userPart } from './number';

/** A Not Ready reason: translated when built in, else as the administrator wrote it. */
export function reasonLabel(code: string): string {
  return tMaybe(`reason_${code}`) ?? code;
}

export function agentStateLabel(state: string, reason?: string): string {
  const name = tMaybe(`state_${state}`) ?? state;
  return state === 'not_ready' && reason
    ? t('state_with_reason', { state: name, reason: reasonLabel(reason) })
    : name;
}

/** "Registration failed: 403 Forbidden — retrying in 30 s", or just the state. */
export function registrationLabel(r: Registration): string {
  const name = tMaybe(`registration_${r.state}`) ?? r.state;
  if (r.state !== 'failed') return name;
  const why = [r.code, r.reason].filter((p) => p !== undefined && p !== '').join(' ');
  const text = why === '' ? name : t('registration_failed_because', { reason: why });
  return r.retryIn === undefined
    ? text
    : t('registration_retry', { text, seconds: Math.round(r.retryIn) });
}

export function connectionLabel(state: string): string {
  return state === 'up' || state === 'down' ? t(`connection_${state}`) : t('connection_unknown');
}

export function callStateLabel(call: Call): string {
  if (call.state === 'held' && call.heldBy === 'remote') return t('held_remote');
  if (call.state === 'held' && call.heldBy === 'both') return t('held_both');
  if (call.state === 'ended') return endLabel(call);
  return tMaybe(`call_state_${call.state}`) ?? call.state;
}

function endLabel(call: Call): string {
  const reason =
    (call.endReason && tMaybe(`end_${call.endReason}`)) || t('call_state_ended');
  return call.endCode === undefined ? reason : t('end_with_code', { reason, code: call.endCode });
}

/** "PCMU · two-way audio": what is honestly known of the audio now. */
export function qualityLabel(call: Call): string {
  const direction =
    call.state === 'held'
      ? t('media_held')
      : call.media
        ? (tMaybe(`media_${call.media}`) ?? call.media)
        : call.codec
          ? undefined
          : t('media_pending');
  const score =
    call.mos === undefined
      ? undefined
      : t('media_mos', {
          mos: call.mos.toLocaleString(locale(), {
            minimumFractionDigits: 1,
            maximumFractionDigits: 1,
          }),
        });
  return [call.codec, direction, score].filter(Boolean).join(' · ');
}

/** The translated sentence for an error code; unknown codes get a generic one. */
export function errorLabel(code: string): string {
  return tMaybe(`error_${code}`) ?? t('error_generic');
}

type Party = Pick<Call, 'remote' | 'remoteName' | 'remoteUser'>;

/** The other party's number or user, without the SIP address around it. */
export function partyNumber(call: Party): string {
  return call.remoteUser || userPart(call.remote);
}

/** How to name the other party: the display name, else the number or address. */
export function partyName(call: Party): string {
  return call.remoteName || partyNumber(call) || t('unknown_caller');
}
