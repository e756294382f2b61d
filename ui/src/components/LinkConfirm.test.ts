import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { app } from '../lib/state.svelte';
import { resetApp } from '../test/fixtures';
import { invoke, resetTauri } from '../test/tauri';
import LinkConfirm from './LinkConfirm.svelte';

vi.mock('@tauri-apps/api/core', () => import('../test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('../test/tauri'));

const offer = { link: 'tel:+49-30-123456', target: '+4930123456' };

beforeEach(() => {
  resetTauri();
  resetApp();
  app.linkOffer = offer;
});

describe('LinkConfirm', () => {
  it('asks before calling, with focus on Call', () => {
    render(LinkConfirm, { offer });
    const dialog = screen.getByTestId('link-confirm');
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(dialog.textContent).toContain('Call +4930123456?');
    expect(dialog.textContent).toContain('tel:+49-30-123456');
    expect(screen.getByTestId('link-target').textContent).toBe('+4930123456');
    expect(document.activeElement).toBe(screen.getByTestId('link-call-button'));
  });

  it('dials the target on Call', async () => {
    invoke.mockResolvedValue('c5');
    render(LinkConfirm, { offer });
    await fireEvent.click(screen.getByTestId('link-call-button'));
    expect(invoke).toHaveBeenCalledWith('dial', { to: '+4930123456' });
    expect(app.linkOffer).toBeUndefined();
  });

  it('calls nobody on Cancel or Escape', async () => {
    render(LinkConfirm, { offer });
    await fireEvent.keyDown(screen.getByTestId('link-call-button'), { key: 'Escape' });
    expect(app.linkOffer).toBeUndefined();
    app.linkOffer = offer;
    await fireEvent.click(screen.getByTestId('link-cancel-button'));
    expect(app.linkOffer).toBeUndefined();
    expect(invoke).not.toHaveBeenCalled();
  });

  it('keeps Tab inside the dialog', async () => {
    render(LinkConfirm, { offer });
    const cancel = screen.getByTestId('link-cancel-button');
    cancel.focus();
    await fireEvent.keyDown(cancel, { key: 'Tab' });
    expect(document.activeElement).toBe(screen.getByTestId('link-call-button'));
  });
});
