import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { applyOverview, initialModel, type Model } from '../lib/model';
import { app } from '../lib/state.svelte';
import { overview, resetApp } from '../test/fixtures';
import { invoke, resetTauri } from '../test/tauri';
import StatusBar from './StatusBar.svelte';

vi.mock('@tauri-apps/api/core', () => import('../test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('../test/tauri'));

const base = applyOverview(initialModel(), overview());
const model = (over: Partial<Model> = {}): Model => ({ ...base, ...over });

beforeEach(() => {
  resetTauri();
  resetApp();
});

describe('StatusBar', () => {
  it('shows state, registration, connection, demo mode and account', () => {
    render(StatusBar, { model: model() });
    expect(screen.getByTestId('agent-state').dataset.state).toBe('ready');
    expect(screen.getByTestId('registration').dataset.state).toBe('registered');
    expect(screen.getByTestId('connection').dataset.state).toBe('up');
    expect(screen.getByTestId('mode-badge').textContent).toBe('Demo mode');
    expect(screen.getByTestId('account-address').textContent).toBe('sip:agent@127.0.0.1');
  });

  it('says why registration failed', () => {
    render(StatusBar, {
      model: model({ mode: 'account', registration: { state: 'failed', reason: 'Forbidden', code: 403, retryIn: 30 } }),
    });
    expect(screen.getByTestId('registration').textContent).toContain(
      'Registration failed: 403 Forbidden — retrying in 30 s',
    );
    expect(screen.queryByTestId('mode-badge')).toBeNull();
  });

  it('offers Ready, each Not Ready reason and Offline, and sets the chosen one', async () => {
    render(StatusBar, { model: model() });
    await fireEvent.click(screen.getByTestId('agent-state'));
    const items = screen.getAllByRole('menuitemradio');
    expect(items.map((i) => i.dataset.testid)).toEqual([
      'state-ready',
      'state-not-ready-break',
      'state-not-ready-lunch',
      'state-not-ready-meeting',
      'state-not-ready-training',
      'state-not-ready-back_office',
      'state-offline',
    ]);
    expect(screen.getByTestId('state-ready').getAttribute('aria-checked')).toBe('true');
    await fireEvent.click(screen.getByTestId('state-not-ready-lunch'));
    expect(invoke).toHaveBeenCalledWith('set_state', { state: 'not_ready', reason: 'lunch' });
    expect(screen.queryByRole('menu')).toBeNull();
  });

  it('works by keyboard: arrows open and move, Escape closes', async () => {
    render(StatusBar, { model: model() });
    const button = screen.getByTestId('agent-state');
    await fireEvent.keyDown(button, { key: 'ArrowDown' });
    await vi.waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('state-ready')));
    await fireEvent.keyDown(document.activeElement!, { key: 'ArrowDown' });
    expect(document.activeElement).toBe(screen.getByTestId('state-not-ready-break'));
    await fireEvent.keyDown(document.activeElement!, { key: 'End' });
    expect(document.activeElement).toBe(screen.getByTestId('state-offline'));
    await fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    expect(screen.queryByRole('menu')).toBeNull();
    expect(document.activeElement).toBe(button);
  });

  it('shows the Teams chip only when Teams sync is set up', () => {
    const { unmount } = render(StatusBar, { model: model() });
    expect(screen.queryByTestId('teams-chip')).toBeNull();
    unmount();
    render(StatusBar, {
      model: model({ teams: { sync: 'active', busy: false, deflected: 0, directory: false } }),
    });
    expect(screen.getByTestId('teams-chip').textContent).toContain('Teams synced');
  });

  it('opens the settings at the top from its button', async () => {
    render(StatusBar, { model: model() });
    await fireEvent.click(screen.getByTestId('settings-button'));
    expect(app.settingsOpen).toBe(true);
    expect(app.settingsSection).toBeUndefined();
  });

  it('shows a state the system set, read-only', () => {
    render(StatusBar, { model: model({ agent: { state: 'not_ready', reason: 'missed_offer' } }) });
    const button = screen.getByTestId('agent-state');
    expect(button.textContent).toContain('Not Ready: Missed call');
    expect(button.textContent).toContain('Set by the system');
  });
});
