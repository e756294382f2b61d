import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { AGENT_EVENTS } from './lib/api';
import { setLanguage } from './lib/i18n/index.svelte';
import { DEFAULT_PREFERENCES } from './lib/model';
import { app } from './lib/state.svelte';
import { incomingCall, microphoneLost, overview, record, resetApp } from './test/fixtures';
import { emit, invoke, listen, reply, resetTauri } from './test/tauri';

vi.mock('@tauri-apps/api/core', () => import('./test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('./test/tauri'));

beforeEach(() => {
  resetTauri();
  resetApp({ ready: false, mode: undefined });
  setLanguage('en');
  reply({ overview: overview(), history: [record()], dial: 'c2' });
});

async function started(): Promise<HTMLElement> {
  render(App);
  const root = screen.getByTestId('app');
  await vi.waitFor(() => expect(root.dataset.ready).toBe('true'));
  return root;
}

describe('App', () => {
  it('listens to every event before it asks for the overview', async () => {
    const root = await started();
    const listened = listen.mock.invocationCallOrder.at(-1) ?? Infinity;
    const asked = invoke.mock.invocationCallOrder[invoke.mock.calls.findIndex(([c]) => c === 'overview')];
    expect(asked).toBeGreaterThan(listened);
    const names = listen.mock.calls.map(([name]) => name);
    for (const name of [...AGENT_EVENTS, 'session-changed', 'link-opened', 'link-refused', 'demo-progressed']) {
      expect(names).toContain(name);
    }
    expect(root.dataset.mode).toBe('demo');
    expect(await screen.findAllByTestId('history-item')).toHaveLength(1);
  });

  it('applies an event that came while the overview was on its way, after it', async () => {
    let answer: (o: ReturnType<typeof overview>) => void = () => {};
    reply({
      overview: () => new Promise((resolve) => (answer = resolve)),
      history: [],
    });
    render(App);
    const root = screen.getByTestId('app');
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('overview', undefined));
    // The registration changed after the backend took its snapshot.
    emit('registration-changed', { event: 'registration', state: 'failed', reason: 'Forbidden' });
    answer(overview());
    await vi.waitFor(() => expect(root.dataset.ready).toBe('true'));
    await vi.waitFor(() =>
      expect(screen.getByTestId('registration').dataset.state).toBe('failed'),
    );
  });

  it('shows the German texts when the overview says so', async () => {
    reply({ overview: overview({ language: 'de' }), history: [] });
    await started();
    expect(document.documentElement.lang).toBe('de');
    expect(screen.getByTestId('mode-badge').textContent).toBe('Demo-Modus');
  });

  it('rings, answers by shortcut, and follows the call to its end', async () => {
    await started();
    emit('call-offered', incomingCall());
    const banner = await screen.findByTestId('incoming-banner');
    expect(banner.dataset.call).toBe('c1');
    expect(screen.getByTestId('customer-name').textContent).toBe('Maria Schmidt');

    await fireEvent.keyDown(window, { key: 'F2' });
    expect(invoke).toHaveBeenCalledWith('answer', { call: 'c1' });

    emit('call-state-changed', { event: 'call_state', call: 'c1', state: 'connected' });
    const panel = await screen.findByTestId('call-panel');
    expect(screen.queryByTestId('incoming-banner')).toBeNull();
    expect(panel.dataset.state).toBe('connected');

    invoke.mockClear();
    emit('call-state-changed', { event: 'call_state', call: 'c1', state: 'ended', reason: 'remote_hangup' });
    await vi.waitFor(() => expect(panel.dataset.state).toBe('ended'));
    expect(invoke).toHaveBeenCalledWith('history', { limit: 50 });
  });

  it('dials what was typed, and shows a dial error next to the field', async () => {
    await started();
    const input = screen.getByTestId('number-input') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: '+49 (30) 123-456' } });
    expect(screen.getByText('Dials +4930123456')).toBeTruthy();
    await fireEvent.click(screen.getByTestId('dial-button'));
    expect(invoke).toHaveBeenCalledWith('dial', { to: '+49 (30) 123-456' });
    expect(await screen.findByTestId('call-panel')).toBeTruthy();

    reply({
      dial: () => {
        throw { code: 'not_connected', message: 'not connected to the SIP server yet' };
      },
    });
    await fireEvent.input(input, { target: { value: '2000' } });
    await fireEvent.submit(input.form!);
    const error = await screen.findByTestId('dial-error');
    expect(error.textContent).toContain('Not connected to the phone system.');
    expect(input.getAttribute('aria-describedby')).toContain('dial-error');
  });

  it('shows backend errors as toasts and refused links as alerts', async () => {
    await started();
    emit('error-occurred', { event: 'error', code: 'media', message: 'c1: no port' });
    const toast = await screen.findByTestId('toast');
    expect(toast.dataset.code).toBe('media');
    expect(toast.textContent).toContain('The audio could not be started.');
    expect(toast.textContent).toContain('c1: no port');

    emit('link-refused', { link: 'javascript:alert(1)', code: 'link_scheme', message: 'no' });
    const refused = await screen.findByTestId('link-refused');
    expect(refused.dataset.code).toBe('link_scheme');
    expect(refused.textContent).toContain('javascript:alert(1)');
  });

  it('starts over on a new session', async () => {
    await started();
    reply({ overview: overview({ mode: 'account', status: null, problem: 'no route to host' }), history: [] });
    emit('session-changed', null);
    const problem = await screen.findByTestId('problem');
    expect(problem.textContent).toContain('no route to host');
    expect(screen.getByTestId('app').dataset.mode).toBe('account');
    expect(screen.queryByTestId('demo-panel')).toBeNull();
  });

  it('tells of a lost or switched audio device in a toast and to screen readers', async () => {
    await started();
    const polite = document.querySelector('[aria-live="polite"]');
    const assertive = document.querySelector('[aria-live="assertive"]');
    const lost = microphoneLost();
    emit('audio-device-changed', lost);
    const notice = await screen.findByTestId('audio-device-notice');
    expect(notice.textContent).toContain('Microphone lost: alsa_input.usb-Jabra. The call goes on.');
    expect(notice.dataset.state).toBe('lost');
    expect(assertive?.textContent).toBe('Microphone lost: alsa_input.usb-Jabra. The call goes on.');

    // News of the same device replaces the older; the speaker's comes beside it.
    emit('audio-device-changed', {
      ...lost,
      state: 'switched',
      device: 'alsa_input.pci',
      name: 'Built-in Microphone',
      fell_back: true,
    });
    await vi.waitFor(() =>
      expect(screen.getByTestId('audio-device-notice').textContent).toContain(
        'Microphone switched to Built-in Microphone (the chosen one is missing).',
      ),
    );
    expect(polite?.textContent).toBe('Microphone switched to Built-in Microphone (the chosen one is missing).');
    emit('audio-device-changed', { ...lost, direction: 'output' });
    await vi.waitFor(() => expect(screen.getAllByTestId('audio-device-notice')).toHaveLength(2));
    expect(screen.queryByTestId('toast')).toBeNull();

    setLanguage('de');
    await vi.waitFor(() =>
      expect(screen.getAllByTestId('audio-device-notice')[1]?.textContent).toContain(
        'Lautsprecher nicht mehr verfügbar: alsa_input.usb-Jabra. Das Gespräch läuft weiter.',
      ),
    );
    const first = screen.getAllByTestId('audio-device-notice')[0]!;
    await fireEvent.click(within(first).getByRole('button', { name: 'Ausblenden' }));
    expect(screen.getAllByTestId('audio-device-notice')).toHaveLength(1);
  });

  it('follows the Teams sync: the chip, the colleagues, the Teams settings', async () => {
    const teams = { sync: 'starting', busy: false, deflected: 0, directory: false };
    reply({
      overview: overview({
        mode: 'account',
        status: { registration: 'registered', agent_state: 'ready', connection: 'up', calls: [], teams },
      }),
      history: [],
      colleagues: [{ id: 'u-anna', name: 'Anna Meier', phone: '+4930123456', availability: 'Available' }],
      dial: 'c2',
      teams_settings: null,
      account: null,
      audio_devices: { inputs: [], outputs: [] },
    });
    await started();
    const chip = screen.getByTestId('teams-chip');
    expect(chip.dataset.sync).toBe('starting');
    expect(screen.queryByTestId('colleagues')).toBeNull();

    emit('teams-changed', { event: 'teams', ...teams, sync: 'active', directory: true });
    await vi.waitFor(() => expect(screen.getByTestId('teams-chip').dataset.sync).toBe('active'));
    const search = within(await screen.findByTestId('colleagues')).getByTestId('colleague-search');
    await fireEvent.input(search, { target: { value: 'anna' } });
    await fireEvent.submit((search as HTMLInputElement).form!);
    await fireEvent.click(await screen.findByTestId('colleague-call'));
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('dial', { to: '+4930123456' }));
    // The call is on: the colleague can now be consulted instead.
    emit('call-state-changed', { event: 'call_state', call: 'c2', state: 'connected' });
    expect(await screen.findByTestId('colleague-consult')).toBeTruthy();

    emit('teams-changed', {
      event: 'teams',
      sync: 'active',
      busy: true,
      availability: 'Busy',
      activity: 'InAMeeting',
      deflected: 1,
      directory: true,
    });
    await vi.waitFor(() => expect(screen.getByTestId('teams-chip').dataset.busy).toBe('true'));
    expect(screen.getByTestId('teams-chip').textContent).toContain('In a Teams meeting');
    await fireEvent.click(screen.getByTestId('teams-chip'));
    const dialog = await screen.findByTestId('settings-dialog');
    expect(within(dialog).getByTestId('settings-teams')).toBeTruthy();
    await vi.waitFor(() =>
      expect(document.activeElement).toBe(within(dialog).getByRole('heading', { name: 'Microsoft Teams' })),
    );
  });

  it('beeps before answering by itself, and leaves the ringtone to the shell', async () => {
    const beep = vi.spyOn(app.beeper, 'beep').mockImplementation(() => {});
    reply({
      overview: overview({ preferences: { ...DEFAULT_PREFERENCES, auto_answer: true } }),
      history: [],
    });
    await started();
    emit('call-offered', incomingCall());
    await screen.findByTestId('incoming-banner');
    expect(beep).toHaveBeenCalledTimes(1);
    reply({ overview: overview(), history: [] });
    emit('session-changed', null);
    await vi.waitFor(() => expect(app.model.preferences.auto_answer).toBe(false));
    emit('call-offered', incomingCall({ call: 'c2' }));
    await vi.waitFor(() => expect(app.offered?.id).toBe('c2'));
    expect(beep).toHaveBeenCalledTimes(1);
    beep.mockRestore();
  });
});
