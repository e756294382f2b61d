import { describe, expect, it } from 'vitest';
import { callView, incomingCall, overview } from '../test/fixtures';
import {
  applyEvent,
  applyOverview,
  consultCall,
  customerCall,
  dismissLastCall,
  heldLocally,
  initialModel,
  offeredCall,
  primaryCall,
  setMuted,
  shownCall,
  talkingCall,
  trackDialled,
  type Model,
} from './model';
import type { Event, TeamsView } from './protocol';

const T0 = 1_700_000_000_000;

function play(model: Model, events: Event[], start = T0): Model {
  return events.reduce((m, e, i) => applyEvent(m, e, start + i * 1000), model);
}

describe('applyOverview', () => {
  it('takes mode, preferences, language and the status', () => {
    const m = applyOverview(
      initialModel(),
      overview({
        language: 'de',
        status: {
          registration: 'failed',
          registration_reason: 'Forbidden',
          agent_state: 'not_ready',
          agent_reason: 'lunch',
          connection: 'up',
          calls: [callView({ call: 'c2', started_at: T0 + 5 }), callView({ call: 'c1', started_at: T0 })],
        },
      }),
    );
    expect(m.ready).toBe(true);
    expect(m.mode).toBe('demo');
    expect(m.language).toBe('de');
    expect(m.registration).toEqual({ state: 'failed', reason: 'Forbidden' });
    expect(m.agent).toEqual({ state: 'not_ready', reason: 'lunch' });
    expect(m.connection.state).toBe('up');
    expect(m.calls.map((c) => c.id)).toEqual(['c1', 'c2']);
    expect(m.calls[0]?.connectedAt).toBe(T0 + 2000);
  });

  it('without an agent shows the problem and no calls', () => {
    const m = applyOverview(initialModel(), overview({ mode: 'account', status: null, problem: 'bad' }));
    expect(m.running).toBe(false);
    expect(m.problem).toBe('bad');
    expect(m.calls).toEqual([]);
  });
});

describe('applyEvent', () => {
  const ready = applyOverview(initialModel(), overview());

  it('follows a whole inbound call: offered, connected, held, connected, ended', () => {
    const offered = applyEvent(ready, incomingCall(), T0);
    expect(offeredCall(offered)?.id).toBe('c1');
    expect(primaryCall(offered)).toBeUndefined();
    expect(customerCall(offered)?.headers['X-Customer-Name']).toBe('Maria Schmidt');

    const connected = play(
      offered,
      [
        { event: 'call_state', call: 'c1', state: 'connecting' },
        { event: 'call_state', call: 'c1', state: 'connected' },
        {
          event: 'media',
          call: 'c1',
          codec: 'PCMU',
          local: '127.0.0.1:40000',
          remote: '127.0.0.1:40002',
          direction: 'sendrecv',
        },
      ],
      T0 + 1000,
    );
    const call = primaryCall(connected);
    expect(offeredCall(connected)).toBeUndefined();
    expect(call?.state).toBe('connected');
    expect(call?.connectedAt).toBe(T0 + 2000);
    expect(call?.codec).toBe('PCMU');
    expect(call?.media).toBe('sendrecv');
    const rated = applyEvent(
      connected,
      {
        event: 'call_quality',
        call: 'c1',
        codec: 'PCMU',
        jitter_ms: 1.5,
        loss_pct: 0,
        late_pct: 0,
        concealed_pct: 0,
        buffer_ms: 22.5,
        target_ms: 25,
        send_kbps: 80,
        receive_kbps: 80,
        one_way_ms: 72.5,
        mos: 4.38,
      },
      T0 + 5000,
    );
    expect(primaryCall(rated)?.mos).toBe(4.38);
    const recorded = play(
      rated,
      [
        {
          event: 'media',
          call: 'c1',
          codec: 'PCMU',
          local: '127.0.0.1:40000',
          remote: '127.0.0.1:40002',
          direction: 'sendrecv',
          recording: '/tmp/c1.wav',
        },
        { event: 'recording', call: 'c1', paused: true },
        { event: 'media_inactivity', call: 'c1', inactive: true, silent_ms: 10_000 },
      ],
      T0 + 6000,
    );
    expect(primaryCall(recorded)).toMatchObject({
      recorded: true,
      recordingPaused: true,
      silentMs: 10_000,
    });
    const flowing = applyEvent(
      recorded,
      { event: 'media_inactivity', call: 'c1', inactive: false },
      T0 + 7000,
    );
    expect(primaryCall(flowing)?.silentMs).toBeUndefined();

    const held = applyEvent(connected, { event: 'call_state', call: 'c1', state: 'held', held_by: 'local' }, T0 + 9000);
    expect(primaryCall(held)?.state).toBe('held');
    expect(heldLocally(primaryCall(held)!)).toBe(true);

    const resumed = applyEvent(held, { event: 'call_state', call: 'c1', state: 'connected' }, T0 + 12000);
    expect(primaryCall(resumed)?.heldBy).toBeUndefined();
    expect(primaryCall(resumed)?.connectedAt).toBe(T0 + 2000);

    const ended = applyEvent(
      resumed,
      { event: 'call_state', call: 'c1', state: 'ended', reason: 'remote_hangup' },
      T0 + 60000,
    );
    expect(ended.calls).toEqual([]);
    expect(shownCall(ended)).toMatchObject({
      id: 'c1',
      state: 'ended',
      endReason: 'remote_hangup',
      endedAt: T0 + 60000,
    });
    expect(shownCall(dismissLastCall(ended))).toBeUndefined();
  });

  it('forgets an offer that was never answered', () => {
    const m = play(ready, [
      incomingCall(),
      { event: 'call_state', call: 'c1', state: 'ended', reason: 'caller_cancelled' },
    ]);
    expect(m.calls).toEqual([]);
    expect(m.lastCall).toBeUndefined();
  });

  it('does not ring for a call that replaces one of ours', () => {
    const m = applyEvent(ready, incomingCall({ call: 'c3', replaces: 'c1' }), T0);
    expect(offeredCall(m)).toBeUndefined();
  });

  it('keeps the customer on screen through an attended transfer', () => {
    let m = applyOverview(initialModel(), overview({ status: { registration: 'registered', agent_state: 'on_call', calls: [callView()] } }));
    m = applyEvent(m, { event: 'call_state', call: 'c1', state: 'held', held_by: 'local' }, T0 + 10_000);
    m = trackDialled(m, 'c2', '2000', T0 + 11_000);
    expect(primaryCall(m)?.id).toBe('c1');
    expect(consultCall(m)?.id).toBe('c2');
    expect(talkingCall(m)?.id).toBe('c2');
    m = play(
      m,
      [
        { event: 'call_state', call: 'c2', state: 'connected' },
        { event: 'call_state', call: 'c1', state: 'ended', reason: 'transferred' },
        { event: 'call_state', call: 'c2', state: 'ended', reason: 'remote_hangup' },
      ],
      T0 + 20_000,
    );
    expect(shownCall(m)).toMatchObject({ id: 'c1', endReason: 'transferred' });
  });

  it('tracks registration, connection, agent state, DTMF, transfers and mute', () => {
    let m = play(ready, [
      { event: 'registration', state: 'failed', reason: 'Forbidden', code: 403, retry_in: 30 },
      { event: 'connection', state: 'down', server: 'udp:127.0.0.1:5060', reason: 'refused' },
      { event: 'agent_state', state: 'not_ready', reason: 'network_lost' },
    ]);
    expect(m.registration).toEqual({ state: 'failed', reason: 'Forbidden', code: 403, retryIn: 30 });
    expect(m.connection).toEqual({ state: 'down', server: 'udp:127.0.0.1:5060', reason: 'refused' });
    expect(m.agent).toEqual({ state: 'not_ready', reason: 'network_lost' });

    m = applyOverview(m, overview({ status: { registration: 'registered', agent_state: 'on_call', calls: [callView()] } }));
    m = play(m, [
      { event: 'dtmf', call: 'c1', digit: '4', method: 'rfc4733' },
      { event: 'dtmf', call: 'c1', digit: '2', method: 'rfc4733' },
      { event: 'transfer', call: 'c1', state: 'trying' },
    ]);
    m = setMuted(m, 'c1', true);
    expect(primaryCall(m)).toMatchObject({ received: '42', transfer: 'trying', muted: true });
  });

  it('creates a call it hears of first from a state change, and fills it in on dial', () => {
    let m = applyEvent(ready, { event: 'call_state', call: 'c9', state: 'dialing' }, T0);
    m = trackDialled(m, 'c9', '+4930123', T0 + 5);
    expect(m.calls).toHaveLength(1);
    expect(primaryCall(m)).toMatchObject({ remote: '+4930123', remoteUser: '+4930123', state: 'dialing' });
  });

  it('drops the calls when the agent stops', () => {
    const m = applyEvent(
      applyOverview(initialModel(), overview({ status: { registration: 'registered', agent_state: 'ready', calls: [callView()] } })),
      { event: 'stopped' },
      T0,
    );
    expect(m.running).toBe(false);
    expect(m.calls).toEqual([]);
    expect(m.registration.state).toBe('unregistered');
  });
});

describe('Teams presence sync', () => {
  const ready = applyOverview(initialModel(), overview());
  const meeting: TeamsView = {
    sync: 'active',
    busy: true,
    availability: 'Busy',
    activity: 'InAMeeting',
    deflected: 2,
    directory: true,
  };
  const status = (teams?: TeamsView) => ({
    registration: 'registered',
    agent_state: 'not_ready',
    agent_reason: 'teams_busy',
    calls: [],
    ...(teams ? { teams } : {}),
  });

  it('is absent until the backend reports it', () => {
    expect(initialModel().teams).toBeUndefined();
    expect(ready.teams).toBeUndefined();
  });

  it('comes with the overview and with a status', () => {
    expect(applyOverview(initialModel(), overview({ status: status(meeting) })).teams).toEqual(meeting);
    const m = applyEvent(ready, { event: 'status', ...status(meeting) }, T0);
    expect(m.teams).toEqual(meeting);
    // A status without it: Teams sync is no longer configured.
    expect(applyEvent(m, { event: 'status', ...status() }, T0).teams).toBeUndefined();
  });

  it('follows the teams event', () => {
    const starting = applyEvent(
      ready,
      { event: 'teams', sync: 'starting', busy: false, deflected: 0, directory: false },
      T0,
    );
    expect(starting.teams).toEqual({ sync: 'starting', busy: false, deflected: 0, directory: false });
    expect(starting.teams).not.toHaveProperty('event');

    const busy = applyEvent(starting, { event: 'teams', ...meeting }, T0 + 1000);
    expect(busy.teams).toEqual(meeting);

    const signedOut = applyEvent(
      busy,
      { event: 'teams', sync: 'signed_out', reason: 'sign in to Teams', busy: false, deflected: 2, directory: false },
      T0 + 2000,
    );
    expect(signedOut.teams).toMatchObject({ sync: 'signed_out', reason: 'sign in to Teams', directory: false });
    expect(signedOut.agent).toEqual(busy.agent);
  });

  it('is gone when the settings turn it off, or the agent stops', () => {
    const m = applyEvent(ready, { event: 'teams', ...meeting }, T0);
    const off = applyEvent(m, { event: 'teams', sync: 'off', busy: false, deflected: 0, directory: false }, T0);
    expect(off.teams).toBeUndefined();
    expect(applyEvent(m, { event: 'stopped' }, T0).teams).toBeUndefined();
  });
});

describe('a call placed elsewhere (a click-to-dial link)', () => {
  it('gets its number from outgoing_call, then follows its states', () => {
    const m = play(initialModel(), [
      { event: 'outgoing_call', call: 'c7', to: '+4930123456' },
      { event: 'call_state', call: 'c7', state: 'dialing' },
      { event: 'call_state', call: 'c7', state: 'connected' },
    ]);
    expect(m.calls).toHaveLength(1);
    expect(m.calls[0]).toMatchObject({
      id: 'c7',
      direction: 'outbound',
      remote: '+4930123456',
      remoteUser: '+4930123456',
      state: 'connected',
      connectedAt: T0 + 2000,
    });
  });
});
