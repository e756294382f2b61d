// The audio settings' pure parts: the choices of a device select, and the level meter's
// scale. Device ids are the audio system's names (`alsa_input.usb-…`): shown only when
// there is no better name.

import { t } from './i18n/index.svelte';
import type { AudioDevice } from './shell';

/** The three device choices of `Preferences.audio`. */
export type AudioRole = 'input' | 'output' | 'ring';
export const AUDIO_ROLES: readonly AudioRole[] = ['input', 'output', 'ring'];

export interface DeviceOption {
  /** The device id; null is the system default. */
  id: string | null;
  label: string;
}

/**
 * The options of a device select: the system default, every device by its name (the
 * current system default marked), and a saved device that is not connected now, so that
 * the choice is not lost without the agent seeing it. `devices` is undefined until listed:
 * the saved device then shows as its id, unmarked.
 */
export function deviceOptions(
  devices: readonly AudioDevice[] | undefined,
  chosen: string | null,
): DeviceOption[] {
  const options: DeviceOption[] = [{ id: null, label: t('audio_system_default') }];
  const seen = new Set<string>();
  for (const device of devices ?? []) {
    if (seen.has(device.id)) continue;
    seen.add(device.id);
    const name = device.name || device.id;
    options.push({
      id: device.id,
      label: device.is_default ? t('audio_device_default', { name }) : name,
    });
  }
  if (chosen !== null && !seen.has(chosen)) {
    options.push({
      id: chosen,
      label: devices === undefined ? chosen : t('audio_device_missing', { id: chosen }),
    });
  }
  return options;
}

/** The meter's scale: -60 dBFS (empty) to 0 dBFS (full). */
export const LEVEL_MIN = -60;
export const LEVEL_MAX = 0;
/** What the backend sends for silence. */
export const LEVEL_FLOOR = -90;

/** A level as the backend sent it; anything not a number counts as silence. */
export function levelOf(db: unknown): number {
  return typeof db === 'number' && Number.isFinite(db) ? db : LEVEL_FLOOR;
}

/** The bar's width in percent (0..100) for a level in dBFS. */
export function levelPercent(db: number): number {
  const share = (db - LEVEL_MIN) / (LEVEL_MAX - LEVEL_MIN);
  return Math.min(100, Math.max(0, share * 100));
}

/** `aria-valuenow`: the level rounded to whole dB, within the meter's range. */
export function levelValue(db: number): number {
  // `|| 0`: no "-0".
  return Math.min(LEVEL_MAX, Math.max(LEVEL_MIN, Math.round(db))) || 0;
}

/** The level as text, "-23 dB". */
export function levelText(db: number): string {
  return t('audio_level_value', { db: Math.round(db) || 0 });
}
