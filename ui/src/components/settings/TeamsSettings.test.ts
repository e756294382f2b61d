import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setLanguage } from '../../lib/i18n/index.svelte';
import type { DeviceCodeView, TeamsForm } from '../../lib/shell';
import { app } from '../../lib/state.svelte';
import { overview, resetApp } from '../../test/fixtures';
import { Channel, invoke, reply, resetTauri } from '../../test/tauri';
import SettingsDialog from './SettingsDialog.svelte';
import TeamsSettings from './TeamsSettings.svelte';
import { applyOverview, initialModel } from '../../lib/model';

vi.mock('@tauri-apps/api/core', () => import('../../test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('../../test/tauri'));

const FORM: TeamsForm = {
  enabled: true,
  tenant: 'contoso.onmicrosoft.com',
  client_id: '00000000-0000-0000-0000-000000000001',
  block_in_meeting: true,
  block_do_not_disturb: true,
  clear_at: 'hang_up',
  poll_seconds: 10,
  directory: false,
  signed_in: false,
};
const CODE: DeviceCodeView = {
  user_code: 'ABCD-EFGH',
  verification_uri: 'https://microsoft.com/devicelogin',
  message: 'To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD-EFGH.',
};

beforeEach(() => {
  resetTauri();
  resetApp();
});

afterEach(() => setLanguage('en'));

const calls = (command: string) => invoke.mock.calls.filter(([c]) => c === command);
const input = (testid: string) => screen.getByTestId(testid) as HTMLInputElement;

/** Renders the section with the form loaded. */
async function loaded(): Promise<HTMLElement> {
  render(TeamsSettings);
  await screen.findByTestId('teams-signed-in');
  return screen.getByTestId('settings-teams');
}

/** A backend that answers `teams_sign_in` when the test says, and holds `signed_in`. */
function signInBackend() {
  let form = { ...FORM };
  let finish: (ok: boolean) => void = () => {};
  reply({
    teams_settings: () => ({ ...form }),
    teams_sign_in: () =>
      new Promise<void>((resolve, reject) => {
        finish = (ok) => {
          if (ok) {
            form = { ...form, signed_in: true };
            resolve();
          } else {
            reject({ code: 'teams_sign_in', message: 'Admin approval is needed: ask your IT department' });
          }
        };
      }),
    teams_sign_out: () => {
      form = { ...form, signed_in: false };
    },
  });
  return { finish: (ok: boolean) => finish(ok) };
}

describe('TeamsSettings', () => {
  it('shows the saved settings and the sign-in state', async () => {
    reply({ teams_settings: FORM });
    const section = await loaded();
    expect(section.getAttribute('aria-labelledby')).toBe('settings-teams-title');
    const state = screen.getByTestId('teams-signed-in');
    expect(state.dataset.state).toBe('no');
    expect(state.textContent).toContain('Not signed in to Teams.');
    expect(input('teams-enabled').checked).toBe(true);
    expect(input('teams-tenant').value).toBe('contoso.onmicrosoft.com');
    expect(input('teams-client-id').value).toBe(FORM.client_id);
    expect(input('teams-poll').value).toBe('10');
    expect(input('teams-block-meeting').checked).toBe(true);
    expect(input('teams-block-dnd').checked).toBe(true);
    expect(input('teams-directory').checked).toBe(false);
    expect((screen.getByTestId('teams-clear-at') as HTMLSelectElement).value).toBe('hang_up');
    expect(screen.getByLabelText('Directory (tenant) ID')).toBe(input('teams-tenant'));
    expect(screen.getByLabelText('Clear “In a call” in Teams')).toBe(screen.getByTestId('teams-clear-at'));
    expect(screen.queryByTestId('teams-sign-out')).toBeNull();
    expect(screen.getByTestId('teams-sign-in').textContent?.trim()).toBe('Sign in with the browser');
  });

  it('says that Teams sync needs a SIP account in demo mode', async () => {
    reply({ teams_settings: null });
    render(TeamsSettings);
    const note = await screen.findByTestId('teams-demo-note');
    expect(note.textContent).toContain('needs a SIP account');
    expect(screen.queryByTestId('teams-sign-in')).toBeNull();
    expect(screen.queryByTestId('teams-save')).toBeNull();
  });

  it('signs in with the browser, waits, and reads the form again', async () => {
    const backend = signInBackend();
    await loaded();
    await fireEvent.click(screen.getByTestId('teams-sign-in'));
    expect(invoke).toHaveBeenCalledWith('teams_sign_in', { deviceCode: false, onCode: expect.any(Channel) });
    expect((await screen.findByTestId('teams-signing-in')).textContent).toContain('Finish the sign-in in your browser');
    // Unavailable while signing in, but still focusable (aria-disabled keeps the focus).
    expect(input('teams-sign-in').getAttribute('aria-disabled')).toBe('true');
    expect(input('teams-sign-in-code').getAttribute('aria-disabled')).toBe('true');
    await fireEvent.click(screen.getByTestId('teams-sign-in-code'));
    expect(calls('teams_sign_in')).toHaveLength(1);

    backend.finish(true);
    await vi.waitFor(() => expect(screen.getByTestId('teams-signed-in').dataset.state).toBe('yes'));
    expect(calls('teams_settings')).toHaveLength(2);
    expect(screen.queryByTestId('teams-signing-in')).toBeNull();
    expect(screen.getByTestId('teams-done').textContent).toBe('Signed in to Teams.');
    expect(screen.getByTestId('teams-done').getAttribute('role')).toBe('status');
    expect(input('teams-sign-in').getAttribute('aria-disabled')).toBe('false');
    expect(screen.getByTestId('teams-sign-out')).toBeTruthy();
  });

  it('shows the device code from the channel, as text', async () => {
    const backend = signInBackend();
    await loaded();
    await fireEvent.click(screen.getByTestId('teams-sign-in-code'));
    expect(invoke).toHaveBeenCalledWith('teams_sign_in', { deviceCode: true, onCode: expect.any(Channel) });
    expect(screen.queryByTestId('teams-device-code')).toBeNull();
    expect((await screen.findByTestId('teams-signing-in')).textContent).toContain('Waiting for you to enter the code');

    const channel = calls('teams_sign_in')[0]?.[1]?.onCode as Channel<DeviceCodeView>;
    channel.send(CODE);
    const shown = await screen.findByTestId('teams-device-code');
    expect(shown.parentElement?.getAttribute('aria-live')).toBe('polite');
    expect(within(shown).getByTestId('teams-user-code').textContent).toBe('ABCD-EFGH');
    expect(within(shown).getByTestId('teams-verification-uri').textContent).toBe(
      'https://microsoft.com/devicelogin',
    );
    expect(shown.textContent).toContain(CODE.message);
    // Text to copy: the window opens no links.
    expect(shown.querySelector('a')).toBeNull();

    backend.finish(true);
    await vi.waitFor(() => expect(screen.queryByTestId('teams-device-code')).toBeNull());
    expect(screen.getByTestId('teams-signed-in').dataset.state).toBe('yes');
  });

  it('says why a sign-in failed, in the backend’s words', async () => {
    const backend = signInBackend();
    await loaded();
    await fireEvent.click(screen.getByTestId('teams-sign-in'));
    backend.finish(false);
    const error = await screen.findByTestId('teams-auth-error');
    expect(error.getAttribute('role')).toBe('alert');
    expect(error.textContent).toContain('The sign-in to Teams did not succeed.');
    expect(error.textContent).toContain('Admin approval is needed: ask your IT department');
    expect(screen.getByTestId('teams-signed-in').dataset.state).toBe('no');
  });

  it('offers the sign-out only when signed in, and signs out', async () => {
    const backend = signInBackend();
    await loaded();
    expect(screen.queryByTestId('teams-sign-out')).toBeNull();
    await fireEvent.click(screen.getByTestId('teams-sign-in'));
    backend.finish(true);
    await fireEvent.click(await screen.findByTestId('teams-sign-out'));
    expect(invoke).toHaveBeenCalledWith('teams_sign_out', undefined);
    await vi.waitFor(() => expect(screen.getByTestId('teams-signed-in').dataset.state).toBe('no'));
    expect(screen.queryByTestId('teams-sign-out')).toBeNull();
    expect(screen.getByTestId('teams-done').textContent).toBe('Signed out of Teams.');
  });

  it('keeps what was typed when a sign-in reads the form again', async () => {
    const backend = signInBackend();
    await loaded();
    await fireEvent.input(input('teams-tenant'), { target: { value: 'fabrikam.com' } });
    await fireEvent.click(screen.getByTestId('teams-sign-in'));
    backend.finish(true);
    await vi.waitFor(() => expect(screen.getByTestId('teams-signed-in').dataset.state).toBe('yes'));
    expect(input('teams-tenant').value).toBe('fabrikam.com');
  });

  it('saves the form, and shows a field error next to its field', async () => {
    reply({
      teams_settings: FORM,
      save_teams_settings: ({ form }: { form: TeamsForm }) => {
        if (form.poll_seconds > 300) {
          throw { code: 'invalid_teams', message: 'poll_seconds: 900 is not in 1..=300', field: 'poll_seconds' };
        }
      },
    });
    await loaded();
    await fireEvent.input(input('teams-poll'), { target: { value: '900' } });
    await fireEvent.change(screen.getByTestId('teams-clear-at'), { target: { value: 'wrapup_end' } });
    await fireEvent.click(input('teams-directory'));
    await fireEvent.click(screen.getByTestId('teams-save'));
    expect(invoke).toHaveBeenCalledWith('save_teams_settings', {
      form: { ...FORM, poll_seconds: 900, clear_at: 'wrapup_end', directory: true },
    });
    const poll = input('teams-poll');
    await vi.waitFor(() => expect(poll.getAttribute('aria-invalid')).toBe('true'));
    const error = document.getElementById(poll.getAttribute('aria-describedby') ?? '');
    expect(error?.textContent).toContain('Please check this entry.');
    expect(error?.textContent).toContain('900 is not in 1..=300');
    expect(input('teams-tenant').getAttribute('aria-invalid')).toBeNull();
    expect(calls('teams_settings')).toHaveLength(1);

    await fireEvent.input(poll, { target: { value: '30' } });
    await fireEvent.click(screen.getByTestId('teams-save'));
    await vi.waitFor(() => expect(screen.getByTestId('teams-done').textContent).toContain('Saved.'));
    expect(poll.getAttribute('aria-invalid')).toBeNull();
    expect(calls('teams_settings')).toHaveLength(2);
  });

  it('shows an error without a field for the whole form', async () => {
    reply({
      teams_settings: FORM,
      save_teams_settings: () => {
        throw { code: 'preferences_file', message: 'permission denied' };
      },
    });
    await loaded();
    await fireEvent.click(screen.getByTestId('teams-save'));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The settings file could not be written. Nothing was saved.');
  });

  it('speaks German', async () => {
    setLanguage('de');
    reply({ teams_settings: { ...FORM, signed_in: true } });
    await loaded();
    expect(screen.getByTestId('teams-signed-in').textContent).toContain('Bei Teams angemeldet.');
    expect(screen.getByTestId('teams-sign-out').textContent?.trim()).toBe('Von Teams abmelden');
    expect(screen.getByLabelText('Kollegenverzeichnis anbieten')).toBe(input('teams-directory'));
    const options = [...(screen.getByTestId('teams-clear-at') as HTMLSelectElement).options];
    expect(options.map((o) => o.textContent)).toEqual(['beim Auflegen', 'am Ende der Nachbearbeitung']);
  });
});

describe('the settings dialog', () => {
  const model = applyOverview(initialModel(), overview());

  it('opens at the Teams section when asked to', async () => {
    reply({ teams_settings: FORM, account: null, audio_devices: { inputs: [], outputs: [] } });
    app.openSettings('teams');
    render(SettingsDialog, { model });
    const heading = screen.getByRole('heading', { name: 'Microsoft Teams' });
    await vi.waitFor(() => expect(document.activeElement).toBe(heading));
    expect(heading.closest('[data-testid="settings-teams"]')).toBeTruthy();
    await fireEvent.click(screen.getByTestId('settings-close'));
    expect(app.settingsOpen).toBe(false);
    expect(app.settingsSection).toBeUndefined();
  });

  it('opens at the top otherwise', async () => {
    reply({ teams_settings: FORM, account: null, audio_devices: { inputs: [], outputs: [] } });
    app.openSettings();
    render(SettingsDialog, { model });
    await vi.waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('settings-close')));
    expect(screen.getByTestId('settings-teams')).toBeTruthy();
  });
});
