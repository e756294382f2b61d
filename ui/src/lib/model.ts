// The window's picture of the agent, and the pure functions that change it: an overview
// or an event goes in, a new model comes out. Nothing here touches the DOM or the backend,
// so all of it is unit-tested.

import type { CallView, Event, Status, TeamsView } from './protocol';
import type { DemoCustomer, Mode, Overview, Preferences, Resolved } from './shell';

export interface Call {
  id: string;
  /** `inbound` or `outbound`. */
  direction: string;
  remote: string;
  remoteName?: string;
  remoteUser?: string;
  headers: Record<string, string>;
  state: string;
  heldBy?: string;
  muted: boolean;
  codec?: string;
  /** The media direction from the last `media` event (`sendrecv`, `sendonly`...). */
  media?: string;
  /** The E-model score of the last `call_quality` event (1 to 4.5). */
  mos?: number;
  /** The received audio is recorded; the recording is paused (silence recorded). */
  recorded?: boolean;
  recordingPaused?: boolean;
  /** No audio from the other side for this many ms (a `media_inactivity` event). */
  silentMs?: number;
  /** Unix milliseconds. */
  startedAt: number;
  connectedAt?: number;
  endedAt?: number;
  endReason?: string;
  endCode?: number;
  /** The last progress of a transfer of this call (`trying`... `failed`). */
  transfer?: string;
  /** DTMF digits the other party sent. */
  received: string;
  /** The call replaces one of ours: the backend answers it by itself. */
  replaces?: string;
}

export interface Registration {
  state: string;
  reason?: string;
  code?: number;
  /** Seconds until the next attempt after a failure. */
  retryIn?: number;
}

export interface Connection {
  /** `up` or `down`; absent before the first report. */
  state?: string;
  server?: string;
  reason?: string;
}

export interface AgentState {
  state: string;
  reason?: string;
}

export interface Model {
  /** The first overview has been applied. */
  ready: boolean;
  version: string;
  mode?: Mode;
  account: string | null;
  problem: string | null;
  preferencesProblem: string | null;
  preferences: Preferences;
  language: Resolved;
  customers: DemoCustomer[];
  /** An agent runs (the overview had a status, and it has not stopped since). */
  running: boolean;
  registration: Registration;
  connection: Connection;
  agent: AgentState;
  /** The calls that have not ended, oldest first. */
  calls: Call[];
  /** The call that ended last, kept for wrap-up until a new call begins. */
  lastCall?: Call;
  /** The Teams presence sync; absent when it is not configured (or the agent stopped). */
  teams?: TeamsView;
}

/** The backend's defaults (src-tauri/src/preferences.rs), shown until the overview comes. */
export const DEFAULT_PREFERENCES: Preferences = {
  language: 'system',
  link_action: 'confirm',
  not_ready_reasons: ['break', 'lunch', 'meeting', 'training', 'back_office'],
  notifications: true,
  ringtone: true,
  auto_answer: false,
  close_to_tray: true,
  demo_offer_seconds: 30,
  hotkeys: {
    answer: 'F2',
    decline: 'F3',
    hangup: 'F4',
    hold: 'F5',
    mute: 'F6',
    ready: 'F7',
    not_ready: 'F8',
    dial: 'Control+d',
  },
  audio: { input: null, output: null, ring: null },
};

export function initialModel(): Model {
  return {
    ready: false,
    version: '',
    account: null,
    problem: null,
    preferencesProblem: null,
    preferences: DEFAULT_PREFERENCES,
    language: 'en',
    customers: [],
    running: false,
    registration: { state: 'unregistered' },
    connection: {},
    agent: { state: 'offline' },
    calls: [],
  };
}

function fromView(v: CallView): Call {
  return {
    id: v.call,
    direction: v.direction,
    remote: v.remote,
    remoteName: v.remote_name,
    remoteUser: v.remote_user,
    headers: v.headers,
    state: v.state,
    heldBy: v.held_by,
    muted: v.muted,
    recorded: v.recorded,
    recordingPaused: v.recording_paused,
    codec: v.codec,
    startedAt: v.started_at,
    connectedAt: v.connected_at,
    received: '',
  };
}

/**
 * The sync as a `teams` event or a status reports it. `off` (the settings turned it off
 * while the agent runs) is the same as no Teams sync at all: no chip, no directory.
 */
function teamsOf(view: TeamsView | undefined): TeamsView | undefined {
  if (!view || view.sync === 'off') return undefined;
  const { sync, reason, busy, availability, activity, deflected, directory } = view;
  return { sync, reason, busy, availability, activity, deflected, directory };
}

function withStatus(model: Model, status: Status): Model {
  return {
    ...model,
    running: true,
    registration: { state: status.registration, reason: status.registration_reason },
    agent: { state: status.agent_state, reason: status.agent_reason },
    connection: { ...model.connection, state: status.connection },
    calls: [...status.calls].sort((a, b) => a.started_at - b.started_at).map(fromView),
    teams: teamsOf(status.teams),
  };
}

/** The model after an overview: everything the backend knows now replaces what we had. */
export function applyOverview(model: Model, o: Overview): Model {
  const base: Model = {
    ...initialModel(),
    ready: true,
    version: o.version,
    mode: o.mode,
    account: o.account,
    problem: o.problem,
    preferencesProblem: o.preferences_problem,
    preferences: o.preferences,
    language: o.language,
    customers: o.customers,
    // A window reload keeps the ended call on screen; a new session does not have it.
    lastCall: o.mode === model.mode && o.account === model.account ? model.lastCall : undefined,
  };
  return o.status ? withStatus(base, o.status) : base;
}

function updateCall(model: Model, id: string, change: (c: Call) => Call): Model {
  return { ...model, calls: model.calls.map((c) => (c.id === id ? change(c) : c)) };
}

/** Adds a call (or updates it when already known); a new call ends the wrap-up view. */
function addCall(model: Model, call: Call): Model {
  if (model.calls.some((c) => c.id === call.id)) {
    return updateCall(model, call.id, (c) => ({ ...call, ...c, remote: c.remote || call.remote }));
  }
  return { ...model, lastCall: undefined, calls: [...model.calls, call] };
}

function unknownCall(id: string, now: number): Call {
  return {
    id,
    direction: 'outbound',
    remote: '',
    headers: {},
    state: 'dialing',
    muted: false,
    startedAt: now,
    received: '',
  };
}

/** Whether the agent talked on the call or placed it: only such a call stays on screen. */
function worthKeeping(call: Call): boolean {
  return call.connectedAt !== undefined || call.direction === 'outbound';
}

function endCall(model: Model, ended: Call): Model {
  const calls = model.calls.filter((c) => c.id !== ended.id);
  // In a consultation the customer's call began first: it stays the one shown.
  const keepPrevious =
    model.lastCall !== undefined && model.lastCall.startedAt <= ended.startedAt;
  const lastCall = worthKeeping(ended) && !keepPrevious ? ended : model.lastCall;
  return { ...model, calls, lastCall };
}

function applyCallState(
  model: Model,
  e: Extract<Event, { event: 'call_state' }>,
  now: number,
): Model {
  const known = model.calls.find((c) => c.id === e.call);
  const call = known ?? unknownCall(e.call, now);
  const next: Call = {
    ...call,
    state: e.state,
    heldBy: e.held_by,
    connectedAt: call.connectedAt ?? (e.state === 'connected' ? now : undefined),
  };
  if (e.state === 'ended') {
    return endCall(model, { ...next, endedAt: now, endReason: e.reason, endCode: e.code });
  }
  return known ? updateCall(model, e.call, () => next) : addCall(model, next);
}

/** The model after one of the agent's events; `now` is when it arrived (Unix ms). */
export function applyEvent(model: Model, e: Event, now: number): Model {
  switch (e.event) {
    case 'started':
      return { ...model, running: true, version: model.version || e.version };
    case 'connection':
      return { ...model, connection: { state: e.state, server: e.server, reason: e.reason } };
    case 'registration':
      return {
        ...model,
        registration: { state: e.state, reason: e.reason, code: e.code, retryIn: e.retry_in },
      };
    case 'agent_state':
      return { ...model, agent: { state: e.state, reason: e.reason } };
    case 'incoming_call':
      return addCall(model, {
        id: e.call,
        direction: 'inbound',
        remote: e.from,
        remoteName: e.from_name,
        remoteUser: e.from_user,
        headers: e.headers,
        state: 'offered',
        muted: false,
        startedAt: now,
        received: '',
        replaces: e.replaces,
      });
    case 'outgoing_call':
      return addCall(model, {
        id: e.call,
        direction: 'outbound',
        remote: e.to,
        remoteUser: e.to,
        headers: {},
        state: 'dialing',
        muted: false,
        startedAt: now,
        received: '',
      });
    case 'call_state':
      return applyCallState(model, e, now);
    case 'media':
      return updateCall(model, e.call, (c) => ({
        ...c,
        codec: e.codec,
        media: e.direction,
        recorded: e.recording !== undefined,
      }));
    case 'recording':
      return updateCall(model, e.call, (c) => ({ ...c, recordingPaused: e.paused }));
    case 'media_inactivity':
      return updateCall(model, e.call, (c) => ({
        ...c,
        silentMs: e.inactive ? (e.silent_ms ?? 0) : undefined,
      }));
    case 'call_quality':
      return updateCall(model, e.call, (c) => ({ ...c, mos: e.mos }));
    case 'dtmf':
      return updateCall(model, e.call, (c) => ({ ...c, received: c.received + e.digit }));
    case 'transfer':
      return updateCall(model, e.call, (c) => ({ ...c, transfer: e.state }));
    case 'teams':
      return { ...model, teams: teamsOf(e) };
    case 'status':
      return withStatus(model, e);
    case 'stopped':
      // The Teams sync is the agent's: it stops with it.
      return {
        ...model,
        running: false,
        calls: [],
        registration: { state: 'unregistered' },
        connection: {},
        teams: undefined,
      };
    // Shown elsewhere or not at all.
    case 'result':
    case 'call_deflected':
    case 'audio_device':
    case 'error':
      return model;
  }
}

/** The call the agent dialled, as soon as `dial` gave its id (its events may come later). */
export function trackDialled(model: Model, id: string, target: string, now: number): Model {
  return addCall(model, {
    ...unknownCall(id, now),
    remote: target,
    remoteUser: target,
  });
}

export function setMuted(model: Model, id: string, muted: boolean): Model {
  return updateCall(model, id, (c) => ({ ...c, muted }));
}

export function dismissLastCall(model: Model): Model {
  return { ...model, lastCall: undefined };
}

// Which call is which. One call is active at a time; a second one is the consultation of
// an attended transfer.

/** A call that rings for the agent (not one the backend answers itself). */
export function offeredCall(model: Model): Call | undefined {
  return model.calls.find((c) => c.state === 'offered' && c.direction === 'inbound' && !c.replaces);
}

function liveCalls(model: Model): Call[] {
  return model.calls.filter((c) => c.state !== 'offered');
}

/** The customer's call: the oldest that is not merely offered. */
export function primaryCall(model: Model): Call | undefined {
  return liveCalls(model)[0];
}

/** The second call, dialled to consult before an attended transfer. */
export function consultCall(model: Model): Call | undefined {
  return liveCalls(model)[1];
}

/** The call whose audio the agent hears now. */
export function talkingCall(model: Model): Call | undefined {
  return consultCall(model) ?? primaryCall(model);
}

/** The call the call panel shows: the active one, else the one that just ended. */
export function shownCall(model: Model): Call | undefined {
  return primaryCall(model) ?? model.lastCall;
}

/** Whose details the customer panel shows. */
export function customerCall(model: Model): Call | undefined {
  return primaryCall(model) ?? offeredCall(model) ?? model.lastCall;
}

export function heldLocally(call: Call): boolean {
  return call.state === 'held' && (call.heldBy === 'local' || call.heldBy === 'both');
}

/** Media flows (DTMF, mute and hold make sense). */
export function inConversation(call: Call): boolean {
  return call.state === 'connected' || call.state === 'held';
}
