import { describe, expect, it } from 'vitest';
import { DEFAULT_PREFERENCES } from './model';
import { comboFromEvent, isTextField, matchHotkey, normaliseCombo } from './hotkeys';

const key = (k: string, mods: Partial<Record<'ctrlKey' | 'altKey' | 'shiftKey' | 'metaKey', boolean>> = {}) => ({
  key: k,
  ctrlKey: false,
  altKey: false,
  shiftKey: false,
  metaKey: false,
  ...mods,
});
const hotkeys = { ...DEFAULT_PREFERENCES.hotkeys, mute: 'Control+Shift+m' };

describe('comboFromEvent', () => {
  it('writes modifiers in canonical order and letters in lower case', () => {
    expect(comboFromEvent(key('D', { shiftKey: true, ctrlKey: true }))).toBe('Control+Shift+d');
    expect(comboFromEvent(key('F2'))).toBe('F2');
    expect(comboFromEvent(key('Enter', { metaKey: true, altKey: true }))).toBe('Alt+Meta+Enter');
  });

  it('ignores a lone modifier', () => {
    expect(comboFromEvent(key('Control', { ctrlKey: true }))).toBeNull();
    expect(comboFromEvent(key('Shift', { shiftKey: true }))).toBeNull();
  });
});

describe('normaliseCombo', () => {
  it('puts a hand-written shortcut in canonical form', () => {
    expect(normaliseCombo('shift+control+D')).toBe('Control+Shift+d');
    expect(normaliseCombo('F5')).toBe('F5');
    expect(normaliseCombo('')).toBe('');
  });
});

describe('matchHotkey', () => {
  it('finds the action of a key press', () => {
    expect(matchHotkey(hotkeys, key('F2'), false)).toBe('answer');
    expect(matchHotkey(hotkeys, key('d', { ctrlKey: true }), false)).toBe('dial');
    expect(matchHotkey(hotkeys, key('M', { ctrlKey: true, shiftKey: true }), false)).toBe('mute');
    expect(matchHotkey(hotkeys, key('d'), false)).toBeNull();
    expect(matchHotkey(hotkeys, key('F2', { shiftKey: true }), false)).toBeNull();
  });

  it('while typing, lets only function keys and Control/Alt/Meta combinations through', () => {
    const typing = { ...hotkeys, hold: 'h' };
    expect(matchHotkey(typing, key('h'), true)).toBeNull();
    expect(matchHotkey(typing, key('h'), false)).toBe('hold');
    expect(matchHotkey(typing, key('F4'), true)).toBe('hangup');
    expect(matchHotkey(typing, key('d', { ctrlKey: true }), true)).toBe('dial');
  });

  it('never matches an empty shortcut', () => {
    expect(matchHotkey({ ...hotkeys, answer: '' }, key('F2'), false)).toBeNull();
  });
});

describe('isTextField', () => {
  it('tells fields that take text from other controls', () => {
    const text = document.createElement('input');
    const box = document.createElement('input');
    box.type = 'checkbox';
    expect(isTextField(text)).toBe(true);
    expect(isTextField(box)).toBe(false);
    expect(isTextField(document.createElement('textarea'))).toBe(true);
    expect(isTextField(document.createElement('button'))).toBe(false);
    expect(isTextField(null)).toBe(false);
  });
});
