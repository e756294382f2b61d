import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setLanguage } from '../../lib/i18n/index.svelte';
import { DEFAULT_PREFERENCES } from '../../lib/model';
import type { AudioDevices, AudioPreferences } from '../../lib/shell';
import { resetApp } from '../../test/fixtures';
import { Channel, invoke, reply, resetTauri } from '../../test/tauri';
import AudioSettings from './AudioSettings.svelte';
import PreferenceSettings from './PreferenceSettings.svelte';

vi.mock('@tauri-apps/api/core', () => import('../../test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('../../test/tauri'));

const DEVICES: AudioDevices = {
  inputs: [
    { id: 'mic-usb', name: 'Jabra Evolve2 65', is_default: false },
    { id: 'mic-int', name: 'Built-in Microphone', is_default: true },
  ],
  outputs: [
    { id: 'out-usb', name: 'Jabra Evolve2 65', is_default: false },
    { id: 'out-int', name: 'Speakers', is_default: true },
  ],
};
const AUDIO: AudioPreferences = { input: null, output: 'out-usb', ring: 'out-gone' };

beforeEach(() => {
  resetTauri();
  resetApp();
  reply({ audio_devices: DEVICES, links_registered: true });
});

afterEach(() => setLanguage('en'));

const select = (testid: string) => screen.getByTestId(testid) as HTMLSelectElement;
const options = (testid: string) =>
  [...select(testid).options].map((o) => [o.value, o.textContent?.trim()]);
const calls = (command: string) => invoke.mock.calls.filter(([c]) => c === command);

/** The channel of the meter started last. */
function meter(): Channel<number> {
  const args = calls('watch_level').at(-1)?.[1];
  expect(args?.levels).toBeInstanceOf(Channel);
  return args?.levels as Channel<number>;
}

/** The preferences form around the section: the selects bind to its draft. */
function renderForm(audio: AudioPreferences = { input: null, output: null, ring: null }) {
  return render(PreferenceSettings, { preferences: { ...DEFAULT_PREFERENCES, audio }, demo: false });
}

describe('AudioSettings', () => {
  it('offers the system default, the devices by name, and a saved device that is missing', async () => {
    render(AudioSettings, { audio: { ...AUDIO } });
    await vi.waitFor(() => expect(select('audio-input').options).toHaveLength(3));
    expect(options('audio-input')).toEqual([
      ['', 'System default'],
      ['mic-usb', 'Jabra Evolve2 65'],
      ['mic-int', 'Built-in Microphone (default)'],
    ]);
    expect(options('audio-output')).toEqual([
      ['', 'System default'],
      ['out-usb', 'Jabra Evolve2 65'],
      ['out-int', 'Speakers (default)'],
    ]);
    expect(options('audio-ring').at(-1)).toEqual(['out-gone', 'out-gone (not connected)']);
    expect(select('audio-input').value).toBe('');
    expect(select('audio-output').value).toBe('out-usb');
    expect(select('audio-ring').value).toBe('out-gone');
    expect(screen.getByLabelText('Microphone')).toBe(select('audio-input'));
    expect(screen.getByLabelText('Speaker / headset')).toBe(select('audio-output'));
    expect(screen.getByLabelText('Ring device')).toBe(select('audio-ring'));
  });

  it('lists the devices again on Refresh', async () => {
    render(AudioSettings, { audio: { ...AUDIO } });
    await vi.waitFor(() => expect(select('audio-ring').options).toHaveLength(4));
    reply({
      audio_devices: { ...DEVICES, outputs: [...DEVICES.outputs, { id: 'out-gone', name: 'Dock', is_default: false }] },
    });
    await fireEvent.click(screen.getByTestId('audio-refresh'));
    await vi.waitFor(() => expect(options('audio-ring').at(-1)).toEqual(['out-gone', 'Dock']));
    expect(calls('audio_devices')).toHaveLength(2);
    expect(screen.getByText('Device list updated.')).toBeTruthy();
  });

  it('shows the microphone level as the channel reports it', async () => {
    render(AudioSettings, { audio: { ...AUDIO } });
    await vi.waitFor(() =>
      expect(invoke).toHaveBeenCalledWith('watch_level', { input: null, levels: expect.any(Channel) }),
    );
    const level = screen.getByTestId('audio-level');
    const bar = level.firstElementChild as HTMLElement;
    expect(level.getAttribute('role')).toBe('meter');
    expect(level.getAttribute('aria-label')).toBe('Microphone level');
    expect(level.getAttribute('aria-valuemin')).toBe('-60');
    expect(level.getAttribute('aria-valuemax')).toBe('0');
    expect(level.getAttribute('aria-valuenow')).toBe('-60');
    expect(level.getAttribute('aria-valuetext')).toBe('Opening the microphone…');
    expect(level.dataset.level).toBeUndefined();

    meter().send(-15.4);
    await vi.waitFor(() => expect(level.dataset.level).toBe('-15.4'));
    expect(level.getAttribute('aria-valuenow')).toBe('-15');
    expect(level.getAttribute('aria-valuetext')).toBe('-15 dB');
    expect(parseFloat(bar.style.width)).toBeCloseTo(74.33, 1);
    expect(screen.getByText('-15 dB')).toBeTruthy();

    meter().send(-90);
    await vi.waitFor(() => expect(level.dataset.level).toBe('-90'));
    expect(level.getAttribute('aria-valuenow')).toBe('-60');
    expect(bar.style.width).toBe('0%');
    meter().send(0);
    await vi.waitFor(() => expect(bar.style.width).toBe('100%'));
    expect(level.getAttribute('aria-valuenow')).toBe('0');
  });

  it('restarts the meter for another microphone, and stops it when closed', async () => {
    const { unmount } = renderForm();
    await vi.waitFor(() => expect(calls('watch_level')).toHaveLength(1));
    const first = meter();
    await vi.waitFor(() => expect(select('audio-input').options).toHaveLength(3));
    await fireEvent.change(select('audio-input'), { target: { value: 'mic-usb' } });
    await vi.waitFor(() => expect(calls('watch_level')).toHaveLength(2));
    expect(calls('watch_level')[1]?.[1]).toEqual({ input: 'mic-usb', levels: expect.any(Channel) });
    const second = meter();
    expect(second).not.toBe(first);

    // The old meter's last words are not shown.
    const level = screen.getByTestId('audio-level');
    second.send(-30);
    await vi.waitFor(() => expect(level.dataset.level).toBe('-30'));
    first.send(-10);
    await tick();
    expect(level.dataset.level).toBe('-30');

    expect(calls('stop_level')).toHaveLength(0);
    unmount();
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('stop_level', undefined));
  });

  it('plays the test sounds with the devices as chosen in the form, before saving', async () => {
    renderForm({ input: 'mic-usb', output: null, ring: null });
    await vi.waitFor(() => expect(select('audio-output').options).toHaveLength(3));
    await fireEvent.change(select('audio-output'), { target: { value: 'out-usb' } });
    await fireEvent.change(select('audio-ring'), { target: { value: 'out-int' } });
    await fireEvent.click(screen.getByTestId('audio-test-speaker'));
    const chosen = { input: 'mic-usb', output: 'out-usb', ring: 'out-int' };
    expect(invoke).toHaveBeenCalledWith('test_sound', { audio: chosen, sound: 'speaker' });
    await fireEvent.click(screen.getByTestId('audio-test-ring'));
    expect(invoke).toHaveBeenCalledWith('test_sound', { audio: chosen, sound: 'ring' });
    expect(await screen.findByText('Playing the test sound…')).toBeTruthy();
    expect(calls('save_preferences')).toHaveLength(0);

    // Back to the system default.
    await fireEvent.change(select('audio-ring'), { target: { value: '' } });
    await fireEvent.click(screen.getByTestId('audio-test-ring'));
    expect(invoke).toHaveBeenLastCalledWith('test_sound', {
      audio: { ...chosen, ring: null },
      sound: 'ring',
    });
  });

  it('says why the devices, the meter or a test sound failed', async () => {
    const refuse = (message: string) => () => {
      throw { code: 'audio_device', message };
    };
    reply({
      audio_devices: refuse('the audio server is not running'),
      watch_level: refuse('no microphone'),
      test_sound: refuse('no such device: out-usb'),
    });
    render(AudioSettings, { audio: { ...AUDIO } });
    await fireEvent.click(screen.getByTestId('audio-test-speaker'));
    await vi.waitFor(() => expect(screen.getAllByRole('alert')).toHaveLength(3));
    const texts = screen.getAllByRole('alert').map((a) => a.textContent);
    expect(texts[0]).toContain('The audio devices could not be listed.');
    expect(texts[0]).toContain('the audio server is not running');
    expect(texts[1]).toContain('The microphone level cannot be shown.');
    expect(texts[2]).toContain('The test sound could not be played.');
    expect(texts[2]).toContain('no such device: out-usb');
    // The saved choice stays, even unlisted.
    expect(select('audio-output').value).toBe('out-usb');
  });

  it('speaks German', async () => {
    setLanguage('de');
    render(AudioSettings, { audio: { ...AUDIO } });
    await vi.waitFor(() => expect(select('audio-ring').options).toHaveLength(4));
    const section = screen.getByRole('region', { name: 'Audio' });
    expect(within(section).getByLabelText('Mikrofon')).toBe(select('audio-input'));
    expect(within(section).getByLabelText('Lautsprecher / Headset')).toBe(select('audio-output'));
    expect(within(section).getByLabelText('Gerät für den Klingelton')).toBe(select('audio-ring'));
    expect(options('audio-input')[2]).toEqual(['mic-int', 'Built-in Microphone (Standard)']);
    expect(options('audio-ring').at(-1)).toEqual(['out-gone', 'out-gone (nicht verbunden)']);
    expect(screen.getByTestId('audio-level').getAttribute('aria-label')).toBe('Mikrofonpegel');
    expect(screen.getByTestId('audio-test-speaker').textContent?.trim()).toBe('Lautsprecher testen');
    expect(screen.getByTestId('audio-test-ring').textContent?.trim()).toBe('Klingelton testen');
    expect(screen.getByTestId('audio-refresh').textContent?.trim()).toBe('Geräteliste aktualisieren');
  });
});
