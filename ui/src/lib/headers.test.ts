import { describe, expect, it } from 'vitest';
import { MARIA_HEADERS } from '../test/fixtures';
import { displayValue, header, headerLabel, orderedHeaders, profile } from './headers';

describe('headers', () => {
  it('are looked up without regard to case', () => {
    expect(header({ 'x-queue': 'Billing' }, 'X-Queue')).toBe('Billing');
    expect(header({ 'X-Queue': '  ' }, 'X-Queue')).toBeUndefined();
    expect(headerLabel('x-customer-name')).toBe('header_customer_name');
    expect(headerLabel('X-Ticket')).toBeUndefined();
  });

  it('come known ones first, then the rest by name', () => {
    const names = orderedHeaders({ 'X-Ticket': 'T-9', 'X-Queue': 'Billing', 'X-Customer-Name': 'Ann' }).map(
      ([name]) => name,
    );
    expect(names).toEqual(['X-Customer-Name', 'X-Queue', 'X-Ticket']);
  });

  it('make a profile, with the display name standing in for a missing name', () => {
    expect(profile(MARIA_HEADERS)).toMatchObject({
      name: 'Maria Schmidt',
      company: 'Schmidt Logistik GmbH',
      tier: 'gold',
      queue: 'Support DE',
    });
    expect(profile({}, 'Bob')).toEqual({ name: 'Bob' });
  });
});

describe('displayValue', () => {
  it('decodes printable hex User-to-User data and leaves the rest as sent', () => {
    expect(displayValue('User-to-User', '432d31303031;encoding=hex')).toBe('C-1001');
    expect(displayValue('user-to-user', '432d31303031')).toBe('C-1001');
    expect(displayValue('User-to-User', '00ff;encoding=hex')).toBe('00ff;encoding=hex');
    expect(displayValue('User-to-User', 'abc;encoding=base64')).toBe('abc;encoding=base64');
    expect(displayValue('User-to-User', '<b>;encoding=hex')).toBe('<b>;encoding=hex');
    expect(displayValue('X-Queue', '432d')).toBe('432d');
  });
});
