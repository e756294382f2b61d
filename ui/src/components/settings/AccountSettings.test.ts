import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { resetApp } from '../../test/fixtures';
import { invoke, reply, resetTauri } from '../../test/tauri';
import AccountSettings from './AccountSettings.svelte';

vi.mock('@tauri-apps/api/core', () => import('../../test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('../../test/tauri'));

const FORM = {
  username: '1001',
  domain: 'pbx.example.com',
  display_name: null,
  auth_username: null,
  registrar: null,
  outbound_proxy: null,
  transport: 'tls',
  codecs: ['PCMU', 'PCMA'],
  password_stored: true,
};

beforeEach(() => {
  resetTauri();
  resetApp();
});

async function field(testid: string): Promise<HTMLInputElement> {
  return (await screen.findByTestId(testid)) as HTMLInputElement;
}

describe('AccountSettings', () => {
  it('shows the stored account', async () => {
    reply({ account: FORM });
    render(AccountSettings);
    await vi.waitFor(async () => expect((await field('account-username')).value).toBe('1001'));
    expect((await field('account-transport')).value).toBe('tls');
    expect((await field('account-password')).placeholder).toBe('stored in the keychain');
    expect(screen.getByTestId('account-remove')).toBeTruthy();
  });

  it('shows a field error from a rejected save next to the field', async () => {
    reply({
      account: FORM,
      save_account: () => {
        throw { code: 'invalid_account', message: 'username: "a b" has a space', field: 'username' };
      },
    });
    render(AccountSettings);
    const username = await field('account-username');
    await vi.waitFor(() => expect(username.value).toBe('1001'));
    await fireEvent.input(username, { target: { value: 'a b' } });
    await fireEvent.click(screen.getByTestId('account-save'));

    await vi.waitFor(() => expect(username.getAttribute('aria-invalid')).toBe('true'));
    const error = document.getElementById(username.getAttribute('aria-describedby') ?? '');
    expect(error?.textContent).toContain('Please check this entry.');
    expect(error?.textContent).toContain('has a space');
    expect(invoke).toHaveBeenCalledWith('save_account', {
      form: { ...FORM, username: 'a b' },
    });
    expect((await field('account-domain')).getAttribute('aria-invalid')).toBeNull();
  });

  it('sends a typed password and reports the registration test', async () => {
    reply({ account: null, test_account: { registered: false, reason: 'Forbidden', code: 403 } });
    render(AccountSettings);
    await fireEvent.input(await field('account-username'), { target: { value: '1001' } });
    await fireEvent.input(await field('account-domain'), { target: { value: 'pbx.example.com' } });
    await fireEvent.input(await field('account-password'), { target: { value: 's3cret' } });
    await fireEvent.click(screen.getByTestId('account-test'));
    const result = await screen.findByTestId('account-test-result');
    expect(result.textContent).toContain('Registration failed: 403 Forbidden');
    expect(invoke).toHaveBeenCalledWith('test_account', {
      form: expect.objectContaining({ username: '1001', transport: null, password_stored: false }),
      password: 's3cret',
    });
    expect(screen.queryByTestId('account-remove')).toBeNull();
  });
});
