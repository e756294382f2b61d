// What a screen reader hears when something changes: agent state, registration, call
// states, the Teams sync and a switched audio device politely; an offered call and a lost
// audio device assertively.

import { t, tMaybe } from './i18n/index.svelte';
import { agentStateLabel, callStateLabel, partyName, registrationLabel } from './labels';
import type { Event } from './protocol';
import type { Model } from './model';
import { userPart } from './number';
import { teamsLabel } from './teams';

export interface Announcement {
  polite?: string;
  assertive?: string;
}

/** The announcement for an event that turned `before` into `after`. */
export function announcement(before: Model, after: Model, e: Event): Announcement {
  switch (e.event) {
    case 'agent_state':
      if (e.state === before.agent.state && e.reason === before.agent.reason) return {};
      return { polite: t('announce_agent_state', { state: agentStateLabel(e.state, e.reason) }) };
    case 'registration':
      if (e.state === before.registration.state && e.state !== 'failed') return {};
      return { polite: t('announce_registration', { state: registrationLabel(after.registration) }) };
    case 'incoming_call':
      if (e.replaces !== undefined) return {};
      return {
        assertive: t('incoming_from', {
          caller: partyName({ remote: e.from, remoteName: e.from_name, remoteUser: e.from_user }),
        }),
      };
    case 'call_state': {
      const call = before.calls.find((c) => c.id === e.call);
      // An offer that was never answered is not news once the banner is gone.
      if (!call || e.state === 'offered' || (e.state === 'ended' && call.state === 'offered')) {
        return {};
      }
      const label = callStateLabel({
        ...call,
        state: e.state,
        heldBy: e.held_by,
        endReason: e.reason,
        endCode: e.code,
      });
      return { polite: t('announce_call', { state: label }) };
    }
    case 'transfer':
      return { polite: tMaybe(`transfer_${e.state}`) ?? e.state };
    case 'call_deflected':
      return { polite: deflectedText(e) };
    case 'audio_device':
      return e.state === 'lost' ? { assertive: audioDeviceText(e) } : { polite: audioDeviceText(e) };
    case 'teams':
      // Only the sync itself: a block by Teams is heard as the agent state it sets.
      if (!after.teams || after.teams.sync === before.teams?.sync || after.teams.sync === 'starting') {
        return {};
      }
      return { polite: teamsLabel({ ...after.teams, busy: false }) };
    default:
      return {};
  }
}

export function deflectedText(e: Extract<Event, { event: 'call_deflected' }>): string {
  const caller = userPart(e.from);
  if (e.reason === 'busy') return t('deflected_busy', { caller });
  if (e.reason === 'not_ready') return t('deflected_not_ready', { caller });
  return t('deflected_untrusted_source');
}

export type AudioDeviceEvent = Extract<Event, { event: 'audio_device' }>;

/** A device as an `audio_device` event names it: its name, else its id (empty: the system default). */
function deviceName(e: AudioDeviceEvent): string {
  return e.name || e.device || t('audio_system_default');
}

/** "Microphone lost: … The call goes on." / "Speaker switched to … (the chosen one is missing)." */
export function audioDeviceText(e: AudioDeviceEvent): string {
  const side = e.direction === 'input' ? 'input' : 'output';
  if (e.state === 'lost') return t(`audio_${side}_lost`, { device: deviceName(e) });
  return t(e.fell_back ? `audio_${side}_fell_back` : `audio_${side}_switched`, {
    name: deviceName(e),
  });
}
