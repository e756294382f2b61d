import { describe, expect, it } from 'vitest';
import { partyKey, previewNumber, userPart } from './number';

describe('previewNumber', () => {
  it('normalises numbers written in any common way', () => {
    expect(previewNumber('+49 (30) 123-456')).toBe('+4930123456');
    expect(previewNumber('0049 30 123456')).toBe('+4930123456');
    expect(previewNumber(' 030/123 45-6 ')).toBe('030123456');
    expect(previewNumber('2000')).toBe('2000');
    expect(previewNumber('*21#')).toBe('*21#');
    expect(previewNumber('tel:+49-30-1234;ext=2')).toBe('+49301234');
  });

  it('turns a bare address into a SIP address', () => {
    expect(previewNumber('bob@example.com')).toBe('sip:bob@example.com');
    expect(previewNumber('sip:bob@x')).toBe('sip:bob@x');
  });

  it('refuses what will not dial', () => {
    expect(previewNumber('')).toBeNull();
    expect(previewNumber('call me')).toBeNull();
    expect(previewNumber('+12')).toBeNull();
    expect(previewNumber('+1234567890123456')).toBeNull();
    expect(previewNumber('http://example.com')).toBeNull();
  });
});

describe('partyKey and userPart', () => {
  it('compare a number however it is written', () => {
    expect(userPart('sip:+4930123456@127.0.0.1')).toBe('+4930123456');
    expect(partyKey('sip:+4930123456@127.0.0.1')).toBe(partyKey('0049 30 123456'));
    expect(partyKey('sip:Bob@example.com')).toBe('bob');
  });
});
