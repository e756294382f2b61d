import { describe, expect, it } from 'vitest';
import { record } from '../test/fixtures';
import { callbackTarget, earlierCalls, outcome, talkTime } from './history';

describe('outcome', () => {
  it('tells how a call went', () => {
    expect(outcome(record())).toBe('answered');
    expect(outcome(record({ end_reason: 'transferred' }))).toBe('transferred');
    const unanswered = { answered_at: null };
    expect(outcome(record({ ...unanswered, end_reason: 'caller_cancelled' }))).toBe('missed');
    expect(outcome(record({ ...unanswered, end_reason: 'declined' }))).toBe('declined');
    const dialled = { ...unanswered, direction: 'outbound' };
    expect(outcome(record({ ...dialled, end_reason: 'rejected' }))).toBe('not_reached');
    expect(outcome(record({ ...dialled, end_reason: 'local_hangup' }))).toBe('cancelled');
    expect(outcome(record({ ...dialled, end_reason: 'failed' }))).toBe('failed');
    expect(outcome(record({ ended_at: null, end_reason: null }))).toBe('in_progress');
  });
});

describe('talkTime and callbackTarget', () => {
  it('measure from the answer and dial the number', () => {
    expect(talkTime(record())).toBe(90_000);
    expect(talkTime(record({ answered_at: null }))).toBeNull();
    expect(callbackTarget(record())).toBe('+4930123456');
    expect(callbackTarget(record({ remote_user: null }))).toBe('sip:+4930123456@127.0.0.1');
  });
});

describe('earlierCalls', () => {
  it('finds the same party, however its number is written, and not the call itself', () => {
    const now = record({ id: 3, started_at: 1_700_000_000_000 });
    const history = [
      now,
      record({ id: 2, remote_user: '0049 30 123456', started_at: 1_699_500_000_000 }),
      record({ id: 1, remote_user: '+4940999', started_at: 1_699_400_000_000 }),
    ];
    const found = earlierCalls(history, {
      remote: 'sip:+4930123456@127.0.0.1',
      remoteUser: '+4930123456',
      startedAt: 1_700_000_000_000,
    });
    expect(found.map((r) => r.id)).toEqual([2]);
  });
});
