import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_PREFERENCES } from '../../lib/model';
import { overview, resetApp } from '../../test/fixtures';
import { invoke, reply, resetTauri } from '../../test/tauri';
import PreferenceSettings from './PreferenceSettings.svelte';

vi.mock('@tauri-apps/api/core', () => import('../../test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('../../test/tauri'));

beforeEach(() => {
  resetTauri();
  resetApp();
});

describe('PreferenceSettings', () => {
  it('takes a shortcut from the keys pressed, and saves the preferences', async () => {
    reply({ links_registered: true, overview: overview(), history: [] });
    render(PreferenceSettings, { preferences: DEFAULT_PREFERENCES, demo: true });
    const hold = screen.getByTestId('hotkey-hold') as HTMLInputElement;
    await fireEvent.keyDown(hold, { key: 'H', ctrlKey: true, shiftKey: true });
    expect(hold.value).toBe('Control+Shift+h');
    await fireEvent.click(screen.getByTestId('pref-auto-answer'));
    await fireEvent.click(screen.getByTestId('pref-save'));
    expect(invoke).toHaveBeenCalledWith('save_preferences', {
      preferences: {
        ...DEFAULT_PREFERENCES,
        auto_answer: true,
        hotkeys: { ...DEFAULT_PREFERENCES.hotkeys, hold: 'Control+Shift+h' },
      },
    });
    expect(await screen.findByText('Settings saved.')).toBeTruthy();
  });

  it('shows the backend’s complaint at the shortcut it names', async () => {
    reply({
      links_registered: false,
      save_preferences: () => {
        throw {
          code: 'invalid_preferences',
          message: 'hotkeys.hold: F2 is already the shortcut for answer',
          field: 'hotkeys.hold',
        };
      },
    });
    render(PreferenceSettings, { preferences: DEFAULT_PREFERENCES, demo: false });
    await fireEvent.click(screen.getByTestId('pref-save'));
    const hold = screen.getByTestId('hotkey-hold');
    await vi.waitFor(() => expect(hold.getAttribute('aria-invalid')).toBe('true'));
    expect(document.getElementById('hotkey-hold-error')?.textContent).toContain('already the shortcut');
    expect(screen.getByTestId('hotkey-answer').getAttribute('aria-invalid')).toBeNull();
    expect(screen.getByTestId('register-links')).toBeTruthy();
  });

  it('saves the audio devices with the other settings', async () => {
    reply({
      links_registered: true,
      overview: overview(),
      history: [],
      audio_devices: {
        inputs: [{ id: 'mic-usb', name: 'Jabra', is_default: false }],
        outputs: [{ id: 'out-int', name: 'Speakers', is_default: true }],
      },
    });
    render(PreferenceSettings, { preferences: DEFAULT_PREFERENCES, demo: false });
    const input = screen.getByTestId('audio-input') as HTMLSelectElement;
    await vi.waitFor(() => expect(input.options).toHaveLength(2));
    await fireEvent.change(input, { target: { value: 'mic-usb' } });
    await fireEvent.change(screen.getByTestId('audio-ring'), { target: { value: 'out-int' } });
    await fireEvent.click(screen.getByTestId('pref-save'));
    expect(invoke).toHaveBeenCalledWith('save_preferences', {
      preferences: { ...DEFAULT_PREFERENCES, audio: { input: 'mic-usb', output: null, ring: 'out-int' } },
    });
  });

  it('shows the backend’s complaint at the audio device it names', async () => {
    reply({
      links_registered: true,
      audio_devices: { inputs: [], outputs: [] },
      save_preferences: () => {
        throw {
          code: 'invalid_preferences',
          message: 'must be a device id of at most 200 printable characters',
          field: 'audio.ring',
        };
      },
    });
    render(PreferenceSettings, { preferences: DEFAULT_PREFERENCES, demo: false });
    await fireEvent.click(screen.getByTestId('pref-save'));
    const ring = screen.getByTestId('audio-ring');
    await vi.waitFor(() => expect(ring.getAttribute('aria-invalid')).toBe('true'));
    expect(ring.getAttribute('aria-describedby')).toBe('audio-ring-hint audio-ring-error');
    expect(document.getElementById('audio-ring-error')?.textContent).toContain('200 printable');
    expect(screen.getByTestId('audio-input').getAttribute('aria-invalid')).toBeNull();
  });
});
