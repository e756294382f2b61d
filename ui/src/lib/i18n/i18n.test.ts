import { afterEach, describe, expect, it } from 'vitest';
import { de } from './de';
import { en } from './en';
import { around, interpolate, setLanguage, t, tMaybe } from './index.svelte';

afterEach(() => setLanguage('en'));

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('the catalogs', () => {
  it('have the same keys', () => {
    expect(Object.keys(de).sort()).toEqual(Object.keys(en).sort());
  });

  it('have no empty texts', () => {
    for (const [key, text] of [...Object.entries(en), ...Object.entries(de)]) {
      expect(text.trim(), key).not.toBe('');
    }
  });

  it('use the same placeholders in both languages', () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(de[key]), key).toEqual(placeholders(en[key]));
    }
  });
});

describe('t', () => {
  it('follows the language and fills in values', () => {
    expect(t('answer')).toBe('Answer');
    setLanguage('de');
    expect(t('answer')).toBe('Annehmen');
    expect(t('incoming_from', { caller: 'Maria' })).toBe('Eingehender Anruf von Maria');
    expect(document.documentElement.lang).toBe('de');
  });

  it('leaves unknown placeholders and keys alone', () => {
    expect(interpolate('{a} {b}', { a: 1 })).toBe('1 {b}');
    expect(tMaybe('no_such_key')).toBeUndefined();
    expect(tMaybe('reason_lunch')).toBe('Lunch');
  });

  it('splits a text around a placeholder, wherever the language puts it', () => {
    expect(around('link_confirm_question', 'target')).toEqual(['Call ', '?']);
    setLanguage('de');
    expect(around('link_confirm_question', 'target')).toEqual(['', ' anrufen?']);
  });
});
