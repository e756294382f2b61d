import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setLanguage } from '../lib/i18n/index.svelte';
import type { TeamsView } from '../lib/protocol';
import { app } from '../lib/state.svelte';
import { resetApp } from '../test/fixtures';
import { resetTauri } from '../test/tauri';
import TeamsChip from './TeamsChip.svelte';

vi.mock('@tauri-apps/api/core', () => import('../test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('../test/tauri'));

const view = (over: Partial<TeamsView> = {}): TeamsView => ({
  sync: 'active',
  busy: false,
  deflected: 0,
  directory: false,
  ...over,
});

function chip(teams: TeamsView): HTMLElement {
  render(TeamsChip, { teams });
  return screen.getByTestId('teams-chip');
}

const text = (element: HTMLElement) => element.textContent?.replace(/\s+/g, ' ').trim();

beforeEach(() => {
  resetTauri();
  resetApp();
});

afterEach(() => setLanguage('en'));

describe('TeamsChip', () => {
  it('says the sync is on', () => {
    const element = chip(view());
    expect(text(element)).toBe('Teams synced');
    expect(element.dataset.sync).toBe('active');
    expect(element.dataset.busy).toBe('false');
    expect(element.getAttribute('title')).toBeNull();
  });

  it('says it is connecting', () => {
    const element = chip(view({ sync: 'starting' }));
    expect(text(element)).toBe('Teams: connecting…');
    expect(element.dataset.sync).toBe('starting');
  });

  it('says what in Teams keeps the agent busy, and the offers turned away', () => {
    const element = chip(view({ busy: true, availability: 'Busy', activity: 'InACall', deflected: 2 }));
    expect(text(element)).toBe('In a Teams call · 2 offers turned away');
    expect(element.dataset.busy).toBe('true');
    expect(screen.getByTestId('teams-turned-away').textContent).toContain('2 offers turned away');
  });

  it.each([
    ['Busy', 'InAMeeting', 'In a Teams meeting'],
    ['DoNotDisturb', 'Presenting', 'Presenting in Teams'],
    ['DoNotDisturb', 'DoNotDisturb', 'Do not disturb in Teams'],
  ])('says %s / %s as "%s"', (availability, activity, label) => {
    expect(text(chip(view({ busy: true, availability, activity })))).toBe(label);
    expect(screen.queryByTestId('teams-turned-away')).toBeNull();
  });

  it('says the sync is unavailable, with the reason as tooltip and for screen readers', () => {
    const reason = 'Microsoft Graph refused the token <script>';
    const element = chip(view({ sync: 'unavailable', reason }));
    expect(text(element)).toBe(`Teams sync unavailable : ${reason}`);
    expect(element.getAttribute('title')).toBe(reason);
    const hidden = screen.getByTestId('teams-reason');
    expect(hidden.textContent).toBe(reason);
    expect(hidden.parentElement?.className).toContain('visually-hidden');
    expect(hidden.getAttribute('lang')).toBe('en');
    expect(element.querySelector('script')).toBeNull();
  });

  it('asks to sign in when signed out', () => {
    const element = chip(view({ sync: 'signed_out', reason: 'no Teams sign-in is kept' }));
    expect(element.textContent).toContain('Sign in to Teams');
    expect(element.dataset.sync).toBe('signed_out');
  });

  it('opens the settings at the Teams section', async () => {
    const element = chip(view({ sync: 'signed_out' }));
    expect(element.getAttribute('aria-describedby')).toBe('teams-chip-hint');
    expect(document.getElementById('teams-chip-hint')?.textContent).toBe('Opens the Teams settings.');
    await fireEvent.click(element);
    expect(app.settingsOpen).toBe(true);
    expect(app.settingsSection).toBe('teams');
  });

  it('speaks German', () => {
    setLanguage('de');
    expect(text(chip(view({ busy: true, availability: 'Busy', activity: 'InACall', deflected: 1 })))).toBe(
      'In einem Teams-Anruf · 1 Anruf abgewiesen',
    );
  });
});
