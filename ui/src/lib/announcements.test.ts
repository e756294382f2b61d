import { describe, expect, it } from 'vitest';
import { callView, incomingCall, overview } from '../test/fixtures';
import { announcement } from './announcements';
import { applyEvent, applyOverview, initialModel } from './model';
import type { Event } from './protocol';

const before = applyOverview(
  initialModel(),
  overview({ status: { registration: 'registered', agent_state: 'on_call', calls: [callView()] } }),
);
const say = (e: Event) => announcement(before, applyEvent(before, e, 0), e);

describe('announcement', () => {
  it('announces an offered call assertively', () => {
    const e = incomingCall({ call: 'c2', from_name: 'Ann' });
    expect(say(e)).toEqual({ assertive: 'Incoming call from Ann' });
    expect(say({ ...e, replaces: 'c1' })).toEqual({});
  });

  it('announces state changes politely', () => {
    expect(say({ event: 'agent_state', state: 'wrapup' })).toEqual({ polite: 'Agent state: Wrap-up' });
    expect(say({ event: 'agent_state', state: 'on_call' })).toEqual({});
    expect(say({ event: 'registration', state: 'failed', reason: 'Forbidden', code: 403 })).toEqual({
      polite: 'Registration: Registration failed: 403 Forbidden',
    });
    expect(say({ event: 'call_state', call: 'c1', state: 'held', held_by: 'remote' })).toEqual({
      polite: 'Call: Caller put you on hold',
    });
    expect(say({ event: 'call_state', call: 'c1', state: 'ended', reason: 'remote_hangup' })).toEqual({
      polite: 'Call: The other party hung up',
    });
    expect(say({ event: 'call_deflected', from: 'sip:+4940@h', reason: 'not_ready', code: 480 })).toEqual({
      polite: 'A call from +4940 went to another agent because you were not ready.',
    });
  });
});
