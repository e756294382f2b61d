import { afterEach, describe, expect, it } from 'vitest';
import { setLanguage } from './i18n/index.svelte';
import {
  agentStateLabel,
  callStateLabel,
  errorLabel,
  partyName,
  qualityLabel,
  reasonLabel,
  registrationLabel,
} from './labels';
import type { Call } from './model';

const call: Call = {
  id: 'c1',
  direction: 'inbound',
  remote: 'sip:+4930123@h',
  headers: {},
  state: 'connected',
  muted: false,
  startedAt: 0,
  received: '',
};

afterEach(() => setLanguage('en'));

describe('labels', () => {
  it('translate built-in reasons and keep an administrator’s as written', () => {
    expect(reasonLabel('lunch')).toBe('Lunch');
    expect(reasonLabel('Coaching')).toBe('Coaching');
    expect(agentStateLabel('not_ready', 'network_lost')).toBe('Not Ready: No connection');
    setLanguage('de');
    expect(agentStateLabel('not_ready', 'break')).toBe('Nicht bereit: Pause');
    expect(agentStateLabel('on_call')).toBe('Im Gespräch');
  });

  it('say why a registration failed and when it is tried again', () => {
    expect(registrationLabel({ state: 'failed', reason: 'Forbidden', code: 403, retryIn: 30 })).toBe(
      'Registration failed: 403 Forbidden — retrying in 30 s',
    );
    expect(registrationLabel({ state: 'registered' })).toBe('Registered');
  });

  it('name call states, remote hold and end reasons', () => {
    expect(callStateLabel({ ...call, state: 'held', heldBy: 'remote' })).toBe('Caller put you on hold');
    expect(callStateLabel({ ...call, state: 'ended', endReason: 'rejected', endCode: 486 })).toBe(
      'Not reached (SIP 486)',
    );
    expect(callStateLabel({ ...call, state: 'ended', endReason: 'something_new' })).toBe('Ended');
  });

  it('describe the audio honestly', () => {
    expect(qualityLabel({ ...call, codec: 'PCMU', media: 'sendrecv' })).toBe('PCMU · two-way audio');
    expect(qualityLabel({ ...call, codec: 'PCMA', state: 'held' })).toBe('PCMA · on hold');
    expect(qualityLabel({ ...call, codec: 'PCMU' })).toBe('PCMU');
    expect(qualityLabel(call)).toBe('no audio yet');
    expect(qualityLabel({ ...call, codec: 'PCMU', media: 'sendrecv', mos: 4.41 })).toBe(
      'PCMU · two-way audio · quality 4.4 of 4.5',
    );
  });

  it('translate error codes, with a generic sentence for unknown ones', () => {
    expect(errorLabel('not_connected')).toBe('Not connected to the phone system.');
    expect(errorLabel('brand_new')).toBe('Something went wrong.');
  });

  it('name the other party by name, else number', () => {
    expect(partyName({ remote: 'sip:+4930123@h', remoteName: 'Ann' })).toBe('Ann');
    expect(partyName({ remote: 'sip:+4930123@h' })).toBe('+4930123');
  });
});
