import { afterEach, describe, expect, it } from 'vitest';
import { deviceOptions, levelOf, levelPercent, levelText, levelValue } from './audio';
import { setLanguage } from './i18n/index.svelte';
import type { AudioDevice } from './shell';

afterEach(() => setLanguage('en'));

const HEADSET: AudioDevice = { id: 'alsa_input.usb-Jabra', name: 'Jabra Evolve2 65', is_default: false };
const BUILT_IN: AudioDevice = { id: 'alsa_input.pci-analog', name: 'Built-in Audio', is_default: true };

describe('deviceOptions', () => {
  it('offers the system default first, then each device by name, the default marked', () => {
    expect(deviceOptions([HEADSET, BUILT_IN], null)).toEqual([
      { id: null, label: 'System default' },
      { id: 'alsa_input.usb-Jabra', label: 'Jabra Evolve2 65' },
      { id: 'alsa_input.pci-analog', label: 'Built-in Audio (default)' },
    ]);
    expect(deviceOptions([HEADSET, BUILT_IN], HEADSET.id)).toHaveLength(3);
  });

  it('keeps a saved device that is not connected, marked', () => {
    expect(deviceOptions([BUILT_IN], 'alsa_input.usb-Jabra').at(-1)).toEqual({
      id: 'alsa_input.usb-Jabra',
      label: 'alsa_input.usb-Jabra (not connected)',
    });
    // Not listed yet: nothing is known to be missing.
    expect(deviceOptions(undefined, 'alsa_input.usb-Jabra')).toEqual([
      { id: null, label: 'System default' },
      { id: 'alsa_input.usb-Jabra', label: 'alsa_input.usb-Jabra' },
    ]);
  });

  it('names a device without a name by its id, and lists an id once', () => {
    expect(deviceOptions([{ ...HEADSET, name: '' }, HEADSET], null).map((o) => o.label)).toEqual([
      'System default',
      'alsa_input.usb-Jabra',
    ]);
  });

  it('speaks German', () => {
    setLanguage('de');
    expect(deviceOptions([BUILT_IN], 'gone').map((o) => o.label)).toEqual([
      'Systemstandard',
      'Built-in Audio (Standard)',
      'gone (nicht verbunden)',
    ]);
  });
});

describe('the level meter', () => {
  it('maps -60..0 dB to 0..100 % and clamps the rest', () => {
    expect(levelPercent(-60)).toBe(0);
    expect(levelPercent(-30)).toBe(50);
    expect(levelPercent(-15)).toBe(75);
    expect(levelPercent(0)).toBe(100);
    expect(levelPercent(-90)).toBe(0);
    expect(levelPercent(3)).toBe(100);
  });

  it('gives whole dB within the range as the value, and the level as text', () => {
    expect(levelValue(-23.4)).toBe(-23);
    expect(levelValue(-0.2)).toBe(0);
    expect(Object.is(levelValue(-0.2), -0)).toBe(false);
    expect(levelValue(-90)).toBe(-60);
    expect(levelText(-23.6)).toBe('-24 dB');
    expect(levelText(-90)).toBe('-90 dB');
  });

  it('takes anything but a number as silence', () => {
    expect(levelOf(-12.5)).toBe(-12.5);
    expect(levelOf(null)).toBe(-90);
    expect(levelOf(Number.NaN)).toBe(-90);
  });
});
