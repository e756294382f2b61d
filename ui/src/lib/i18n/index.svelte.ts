// The texts in the language the backend resolved (`overview.language`). `t` reads the
// language from a rune, so everything that shows a text follows a change at once.

import type { Resolved } from '../shell';
import { de } from './de';
import { en, type MessageKey, type Messages } from './en';

export type { MessageKey };
export type Params = Record<string, string | number>;

const catalogs: Record<Resolved, Messages> = { en, de };
const current = $state({ language: 'en' as Resolved });

export function setLanguage(language: Resolved): void {
  current.language = language;
  document.documentElement.lang = language;
}

/** The BCP 47 locale for `Intl`. */
export function locale(): string {
  return current.language;
}

export function interpolate(text: string, params: Params = {}): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

export function t(key: MessageKey, params?: Params): string {
  return interpolate(catalogs[current.language][key], params);
}

function isMessageKey(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

/** The text for a key made from a code the backend sent, if there is one. */
export function tMaybe(key: string, params?: Params): string | undefined {
  return isMessageKey(key) ? t(key, params) : undefined;
}

/**
 * The text before and after one placeholder, for markup around the value
 * ("Call {target}?" → ["Call ", "?"]; "{target} anrufen?" → ["", " anrufen?"]).
 */
export function around(key: MessageKey, name: string, params?: Params): [string, string] {
  const marker = `{${name}}`;
  const text = catalogs[current.language][key];
  const at = text.indexOf(marker);
  if (at === -1) return [interpolate(text, params), ''];
  return [interpolate(text.slice(0, at), params), interpolate(text.slice(at + marker.length), params)];
}
