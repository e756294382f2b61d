// The backend's commands and events (src-tauri/src/commands.rs, events.rs, links.rs), one
// typed function per command. Arguments are named exactly as the Rust parameters.

import { invoke, type Channel } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { CallRecord, Colleague, DemoEvent, Event } from './protocol';
import type {
  AccountForm,
  AudioDevices,
  AudioPreferences,
  DeviceCodeView,
  LinkDialled,
  LinkOffer,
  LinkRefused,
  Overview,
  Preferences,
  RegistrationTest,
  TeamsForm,
  TestSound,
  UiError,
} from './shell';

export type AgentStateRequest = 'ready' | 'not_ready' | 'offline';

/** Whatever a command threw, as the `UiError` the backend sends (IPC failures included). */
export function toUiError(thrown: unknown): UiError {
  if (typeof thrown === 'object' && thrown !== null && 'code' in thrown && 'message' in thrown) {
    const e = thrown as { code: unknown; message: unknown; field?: unknown };
    return {
      code: String(e.code),
      message: String(e.message),
      ...(typeof e.field === 'string' ? { field: e.field } : {}),
    };
  }
  return { code: 'internal', message: thrown instanceof Error ? thrown.message : String(thrown) };
}

async function command<T>(name: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(name, args);
  } catch (thrown) {
    throw toUiError(thrown);
  }
}

export const overview = () => command<Overview>('overview');
export const dial = (to: string) => command<string>('dial', { to });
export const answer = (call: string) => command<void>('answer', { call });
export const decline = (call: string) => command<void>('decline', { call });
export const hangup = (call: string) => command<void>('hangup', { call });
export const hold = (call: string) => command<void>('hold', { call });
export const resume = (call: string) => command<void>('resume', { call });
export const mute = (call: string, muted: boolean) => command<void>('mute', { call, muted });
export const pauseRecording = (call: string, paused: boolean) =>
  command<void>('pause_recording', { call, paused });
export const transfer = (call: string, to: string) => command<void>('transfer', { call, to });
export const transferAttended = (call: string, consult: string) =>
  command<void>('transfer_attended', { call, consult });
export const sendDtmf = (call: string, digits: string) =>
  command<void>('send_dtmf', { call, digits });
export const setState = (state: AgentStateRequest, reason?: string) =>
  command<void>('set_state', reason === undefined ? { state } : { state, reason });
export const history = (limit: number) => command<CallRecord[]>('history', { limit });
export const demoOffer = (customer?: string) =>
  command<void>('demo_offer', customer === undefined ? {} : { customer });
export const savePreferences = (preferences: Preferences) =>
  command<void>('save_preferences', { preferences });
export const account = () => command<AccountForm | null>('account');
export const saveAccount = (form: AccountForm, password?: string) =>
  command<void>('save_account', password === undefined ? { form } : { form, password });
export const removeAccount = () => command<void>('remove_account');
export const testAccount = (form: AccountForm, password?: string) =>
  command<RegistrationTest>('test_account', password === undefined ? { form } : { form, password });
export const linksRegistered = () => command<boolean>('links_registered');
export const registerLinks = () => command<void>('register_links');
export const audioDevices = () => command<AudioDevices>('audio_devices');
/** Plays a test sound with the devices of `audio` (as the form has them, not saved yet). */
export const testSound = (audio: AudioPreferences, sound: TestSound) =>
  command<void>('test_sound', { audio, sound });
/**
 * Starts the level meter of `input` (null: the system default): `levels` gets the peak in
 * dBFS (-90..0) every 50 ms. A new meter replaces the one before; `stopLevel` ends it.
 */
export const watchLevel = (input: string | null, levels: Channel<number>) =>
  command<void>('watch_level', { input, levels });
export const stopLevel = () => command<void>('stop_level');
/** The Teams sync settings; null without a SIP account (demo mode: no Teams sync). */
export const teamsSettings = () => command<TeamsForm | null>('teams_settings');
/** Rejects with the `field` at fault when a value is wrong. */
export const saveTeamsSettings = (form: TeamsForm) =>
  command<void>('save_teams_settings', { form });
/**
 * Signs in to Teams: in the system browser (resolves when done, up to 5 minutes), or with a
 * device code, which `onCode` gets once (resolves when the user has entered it). Tauri
 * hands the camelCase names to the Rust parameters `device_code` and `on_code`.
 */
export const teamsSignIn = (deviceCode: boolean, onCode: Channel<DeviceCodeView>) =>
  command<void>('teams_sign_in', { deviceCode, onCode });
export const teamsSignOut = () => command<void>('teams_sign_out');
/** Searches the Teams directory by name or mail; the colleagues come with their presence. */
export const colleagues = (query: string) => command<Colleague[]>('colleagues', { query });

/** Each backend event's payload. */
export interface EventPayloads {
  'agent-started': Event;
  'connection-changed': Event;
  'registration-changed': Event;
  'agent-state-changed': Event;
  'call-offered': Event;
  'call-placed': Event;
  'call-state-changed': Event;
  'call-deflected': Event;
  'media-changed': Event;
  'dtmf-received': Event;
  'audio-device-changed': Event;
  'teams-changed': Event;
  'call-quality': Event;
  'recording-changed': Event;
  'media-inactivity': Event;
  'transfer-progressed': Event;
  'error-occurred': Event;
  'agent-stopped': Event;
  'session-changed': null;
  'link-opened': LinkOffer;
  'link-dialled': LinkDialled;
  'link-refused': LinkRefused;
  'demo-progressed': DemoEvent;
}

export type EventName = keyof EventPayloads;

/** The events that carry the agent's `Event` (the rest have payloads of their own). */
export const AGENT_EVENTS = [
  'agent-started',
  'connection-changed',
  'registration-changed',
  'agent-state-changed',
  'call-offered',
  'call-placed',
  'call-state-changed',
  'call-deflected',
  'media-changed',
  'dtmf-received',
  'audio-device-changed',
  'teams-changed',
  'call-quality',
  'recording-changed',
  'media-inactivity',
  'transfer-progressed',
  'error-occurred',
  'agent-stopped',
] as const satisfies readonly EventName[];

export function on<K extends EventName>(
  name: K,
  handler: (payload: EventPayloads[K]) => void,
): Promise<UnlistenFn> {
  return listen<EventPayloads[K]>(name, (e) => handler(e.payload));
}
