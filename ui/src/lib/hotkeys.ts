// Keyboard shortcuts as the preferences hold them: `Modifier+...+Key`, the modifiers
// `Control`, `Alt`, `Shift`, `Meta` in that order, the key as `KeyboardEvent.key` with
// letters in lower case (`F2`, `Enter`, `d`).

import type { Hotkeys } from './shell';

export type HotkeyAction = keyof Hotkeys;

export const HOTKEY_ACTIONS: readonly HotkeyAction[] = [
  'answer',
  'decline',
  'hangup',
  'hold',
  'mute',
  'ready',
  'not_ready',
  'dial',
];

const MODIFIERS = ['Control', 'Alt', 'Shift', 'Meta'] as const;

type KeyLike = Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'altKey' | 'shiftKey' | 'metaKey'>;

function keyName(key: string): string {
  return [...key].length === 1 ? key.toLowerCase() : key;
}

/** The shortcut a key press makes, or `null` for a lone modifier (or no key at all). */
export function comboFromEvent(e: KeyLike): string | null {
  if (e.key === '' || e.key === 'Unidentified' || e.key === 'Dead') return null;
  if ((MODIFIERS as readonly string[]).includes(e.key) || e.key === 'AltGraph') return null;
  const held = [e.ctrlKey, e.altKey, e.shiftKey, e.metaKey];
  const modifiers = MODIFIERS.filter((_, i) => held[i]);
  return [...modifiers, keyName(e.key)].join('+');
}

/** A shortcut written by hand, in the canonical form (`shift+control+D` → `Control+Shift+d`). */
export function normaliseCombo(text: string): string {
  if (text === '') return '';
  const parts = text.split('+');
  const key = parts.pop() ?? '';
  const named = new Set(parts.map((p) => p.toLowerCase()));
  const modifiers = MODIFIERS.filter((m) => named.has(m.toLowerCase()));
  return [...modifiers, keyName(key)].join('+');
}

function isFunctionKey(key: string): boolean {
  return /^F([1-9]|1[0-9]|2[0-4])$/.test(key);
}

/** While the agent types in a field, plain keys belong to the field. */
function allowedWhileTyping(e: KeyLike): boolean {
  return isFunctionKey(e.key) || e.ctrlKey || e.altKey || e.metaKey;
}

/** The action a key press asks for, if any. */
export function matchHotkey(hotkeys: Hotkeys, e: KeyLike, typing: boolean): HotkeyAction | null {
  const combo = comboFromEvent(e);
  if (combo === null || (typing && !allowedWhileTyping(e))) return null;
  return HOTKEY_ACTIONS.find((a) => hotkeys[a] !== '' && normaliseCombo(hotkeys[a]) === combo) ?? null;
}

/** Whether focus is somewhere the agent types text. */
export function isTextField(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement) return true;
  if (target instanceof HTMLSelectElement) return true;
  if (!(target instanceof HTMLInputElement)) return false;
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color'].includes(target.type);
}
