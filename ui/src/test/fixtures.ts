// Sample data as the backend sends it.

import { DEFAULT_PREFERENCES, initialModel, type Call, type Model } from '../lib/model';
import type { CallRecord, CallView, Event } from '../lib/protocol';
import type { Overview } from '../lib/shell';
import { app } from '../lib/state.svelte';

export const MARIA_HEADERS = {
  'X-Customer-Id': 'C-1001',
  'X-Customer-Name': 'Maria Schmidt',
  'X-Company': 'Schmidt Logistik GmbH',
  'X-Tier': 'gold',
  'X-Language': 'de',
  'X-Queue': 'Support DE',
  'X-Reason': 'Delivery delayed',
  'User-to-User': '432d31303031;encoding=hex',
};

export function callView(over: Partial<CallView> = {}): CallView {
  return {
    call: 'c1',
    direction: 'inbound',
    remote: 'sip:+4930123456@127.0.0.1',
    remote_name: 'Maria Schmidt',
    remote_user: '+4930123456',
    headers: MARIA_HEADERS,
    state: 'connected',
    muted: false,
    recorded: false,
    recording_paused: false,
    codec: 'PCMU',
    started_at: 1_700_000_000_000,
    connected_at: 1_700_000_002_000,
    ...over,
  };
}

/** Maria calls, as the agent's `incoming_call` event. */
export function incomingCall(
  over: Partial<Extract<Event, { event: 'incoming_call' }>> = {},
): Extract<Event, { event: 'incoming_call' }> {
  return {
    event: 'incoming_call',
    call: 'c1',
    from: 'sip:+4930123456@127.0.0.1',
    from_name: 'Maria Schmidt',
    from_user: '+4930123456',
    to: 'sip:agent@127.0.0.1',
    sip_call_id: 'abc',
    headers: MARIA_HEADERS,
    ...over,
  };
}

/** Maria's call as the model holds it, connected since `startedAt`. */
export function modelCall(over: Partial<Call> = {}): Call {
  return {
    id: 'c1',
    direction: 'inbound',
    remote: 'sip:+4930123456@127.0.0.1',
    remoteName: 'Maria Schmidt',
    remoteUser: '+4930123456',
    headers: MARIA_HEADERS,
    state: 'connected',
    muted: false,
    startedAt: 1_700_000_000_000,
    connectedAt: 1_700_000_000_000,
    received: '',
    ...over,
  };
}

export function overview(over: Partial<Overview> = {}): Overview {
  return {
    version: '0.1.0',
    mode: 'demo',
    account: 'sip:agent@127.0.0.1',
    problem: null,
    status: {
      registration: 'registered',
      agent_state: 'ready',
      connection: 'up',
      calls: [],
    },
    preferences: DEFAULT_PREFERENCES,
    preferences_problem: null,
    language: 'en',
    customers: [
      { id: 'C-1001', name: 'Maria Schmidt', company: 'Schmidt Logistik GmbH', reason: 'Delivery delayed' },
    ],
    ...over,
  };
}

export function record(over: Partial<CallRecord> = {}): CallRecord {
  return {
    id: 1,
    direction: 'inbound',
    remote: 'sip:+4930123456@127.0.0.1',
    remote_name: 'Maria Schmidt',
    remote_user: '+4930123456',
    headers: {},
    started_at: 1_699_000_000_000,
    answered_at: 1_699_000_003_000,
    ended_at: 1_699_000_093_000,
    end_reason: 'remote_hangup',
    ...over,
  };
}

/** The app singleton as after start, with `model` changes applied. */
export function resetApp(model: Partial<Model> = {}): void {
  app.model = { ...initialModel(), ready: true, mode: 'demo', ...model };
  app.history = [];
  app.toasts = [];
  app.notice = undefined;
  app.linkOffer = undefined;
  app.linkRefused = undefined;
  app.demoLog = [];
  app.settingsOpen = false;
  app.settingsSection = undefined;
  app.dialError = undefined;
}

/** The headset microphone is gone during call c1. */
export function microphoneLost(): Extract<Event, { event: 'audio_device' }> {
  return {
    event: 'audio_device',
    call: 'c1',
    direction: 'input',
    state: 'lost',
    device: 'alsa_input.usb-Jabra',
    fell_back: false,
  };
}
