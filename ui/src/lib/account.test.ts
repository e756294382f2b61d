import { describe, expect, it } from 'vitest';
import { codecRows, toDraft, toForm } from './account';
import type { AccountForm } from './shell';

const form: AccountForm = {
  username: '1001',
  domain: 'pbx.example.com',
  display_name: 'Agent 1001',
  auth_username: null,
  registrar: null,
  outbound_proxy: 'sbc.example.com:5061',
  transport: 'tls',
  codecs: ['PCMA'],
  password_stored: true,
};

describe('account form', () => {
  it('round-trips through the draft', () => {
    expect(toForm(toDraft(form))).toEqual(form);
  });

  it('sends empty optional fields as null and trims the rest', () => {
    const draft = { ...toDraft(null), username: ' 1002 ', domain: 'x.org', registrar: '  ' };
    expect(toForm(draft)).toMatchObject({ username: '1002', registrar: null, transport: null });
  });

  it('lists the enabled codecs in order, then the others switched off', () => {
    expect(codecRows(['PCMA'])).toEqual([
      { name: 'PCMA', enabled: true },
      { name: 'PCMU', enabled: false },
    ]);
    expect(toDraft(null).codecs.every((c) => c.enabled)).toBe(true);
  });
});
