import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { modelCall, resetApp } from '../test/fixtures';
import { invoke, resetTauri } from '../test/tauri';
import IncomingBanner from './IncomingBanner.svelte';

vi.mock('@tauri-apps/api/core', () => import('../test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('../test/tauri'));

const call = modelCall({ id: 'c7', state: 'offered', connectedAt: undefined });

beforeEach(() => {
  resetTauri();
  resetApp();
});

describe('IncomingBanner', () => {
  it('shows the caller, queue and reason, and puts focus on Answer', () => {
    render(IncomingBanner, { call, autoAnswer: false });
    const banner = screen.getByTestId('incoming-banner');
    expect(banner.getAttribute('role')).toBe('alertdialog');
    expect(banner.dataset.call).toBe('c7');
    expect(banner.textContent).toContain('Maria Schmidt');
    expect(banner.textContent).toContain('Support DE');
    expect(banner.textContent).toContain('Delivery delayed');
    expect(document.activeElement).toBe(screen.getByTestId('answer-button'));
  });

  it('answers on Enter', async () => {
    render(IncomingBanner, { call, autoAnswer: false });
    await fireEvent.keyDown(screen.getByTestId('answer-button'), { key: 'Enter' });
    expect(invoke).toHaveBeenCalledWith('answer', { call: 'c7' });
    expect(invoke).not.toHaveBeenCalledWith('decline', expect.anything());
  });

  it('declines on Escape', async () => {
    render(IncomingBanner, { call, autoAnswer: false });
    await fireEvent.keyDown(screen.getByTestId('answer-button'), { key: 'Escape' });
    expect(invoke).toHaveBeenCalledWith('decline', { call: 'c7' });
    expect(invoke).not.toHaveBeenCalledWith('answer', expect.anything());
  });

  it('answers and declines by click too', async () => {
    render(IncomingBanner, { call, autoAnswer: false });
    await fireEvent.click(screen.getByTestId('decline-button'));
    expect(invoke).toHaveBeenCalledWith('decline', { call: 'c7' });
  });

  it('says when the call is answered by itself', () => {
    render(IncomingBanner, { call, autoAnswer: true });
    expect(screen.getByTestId('incoming-banner').textContent).toContain('Auto-answering…');
  });
});
