import { describe, expect, it } from 'vitest';
import { formatDuration, formatWhen, languageName } from './format';

describe('formatDuration', () => {
  it('shows minutes and seconds, and hours from an hour on', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(5_400)).toBe('0:05');
    expect(formatDuration(754_000)).toBe('12:34');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
  });

  it('counts a negative span as zero', () => {
    expect(formatDuration(-500)).toBe('0:00');
  });
});

describe('formatWhen', () => {
  const now = new Date(2026, 10, 21, 15, 0).getTime();

  it('gives only the time for today', () => {
    const text = formatWhen(new Date(2026, 10, 21, 9, 5).getTime(), 'de', now);
    expect(text).toBe('09:05');
  });

  it('gives the date too for an older call', () => {
    const text = formatWhen(new Date(2026, 10, 20, 9, 5).getTime(), 'de', now);
    expect(text).toContain('20.11.2026');
  });
});

describe('languageName', () => {
  it('names a language in the UI language', () => {
    expect(languageName('de', 'en')).toBe('German');
    expect(languageName('de', 'de')).toBe('Deutsch');
    expect(languageName('not a code!', 'en')).toBe('not a code!');
  });
});
