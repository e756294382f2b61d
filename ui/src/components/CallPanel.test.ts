import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Call } from '../lib/model';
import { MARIA_HEADERS, modelCall, resetApp } from '../test/fixtures';
import { invoke, resetTauri } from '../test/tauri';
import CallPanel from './CallPanel.svelte';

vi.mock('@tauri-apps/api/core', () => import('../test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('../test/tauri'));

const T0 = 1_700_000_000_000;
const call = modelCall({
  headers: { ...MARIA_HEADERS, 'X-Ticket': 'T-42' },
  codec: 'PCMU',
  media: 'sendrecv',
});

beforeEach(() => {
  resetTauri();
  resetApp();
});

describe('CallPanel', () => {
  it('shows who, the timer, the audio and the platform’s context', () => {
    render(CallPanel, { call, now: T0 + 75_000 });
    const panel = screen.getByTestId('call-panel');
    expect(panel.dataset.state).toBe('connected');
    expect(screen.getByTestId('caller-name').textContent).toBe('Maria Schmidt');
    expect(screen.getByTestId('caller-number').textContent).toBe('+4930123456');
    expect(screen.getByTestId('call-timer').textContent).toBe('1:15');
    expect(screen.getByTestId('call-quality').textContent).toContain('PCMU · two-way audio');
    const rows = screen.getAllByTestId('context-row');
    expect(rows[0]?.dataset.header).toBe('X-Customer-Name');
    expect(rows[0]?.textContent).toContain('Customer');
    const ticket = rows.find((r) => r.dataset.header === 'X-Ticket');
    expect(ticket?.textContent).toContain('X-Ticket');
  });

  it('holds, and once held offers to resume', async () => {
    const { rerender } = render(CallPanel, { call, now: T0 });
    const hold = screen.getByTestId('hold-button');
    expect(hold.dataset.held).toBe('false');
    expect(hold.textContent?.trim()).toBe('Hold');
    await fireEvent.click(hold);
    expect(invoke).toHaveBeenCalledWith('hold', { call: 'c1' });

    await rerender({ call: { ...call, state: 'held', heldBy: 'local' }, now: T0 });
    expect(hold.dataset.held).toBe('true');
    expect(hold.textContent?.trim()).toBe('Resume');
    expect(screen.getByTestId('call-panel').dataset.heldBy).toBe('local');
    await fireEvent.click(hold);
    expect(invoke).toHaveBeenCalledWith('resume', { call: 'c1' });
  });

  it('shows remote hold as such, with Hold still offered', async () => {
    render(CallPanel, { call: { ...call, state: 'held', heldBy: 'remote' }, now: T0 });
    expect(screen.getByTestId('call-panel').textContent).toContain('Caller put you on hold');
    expect(screen.getByTestId('hold-button').dataset.held).toBe('false');
  });

  it('mutes', async () => {
    render(CallPanel, { call, now: T0 });
    await fireEvent.click(screen.getByTestId('mute-button'));
    expect(invoke).toHaveBeenCalledWith('mute', { call: 'c1', muted: true });
  });

  it('pauses and resumes a recorded call, and says when no audio comes', async () => {
    const { rerender } = render(CallPanel, { call, now: T0 });
    expect(screen.queryByTestId('recording-button')).toBeNull();
    await rerender({ call: { ...call, recorded: true }, now: T0 });
    const button = screen.getByTestId('recording-button');
    expect(button.textContent?.trim()).toBe('Pause recording');
    await fireEvent.click(button);
    expect(invoke).toHaveBeenCalledWith('pause_recording', { call: 'c1', paused: true });
    await rerender({
      call: { ...call, recorded: true, recordingPaused: true, silentMs: 10_200 },
      now: T0,
    });
    expect(button.dataset.paused).toBe('true');
    expect(button.textContent?.trim()).toBe('Resume recording');
    expect(screen.getByTestId('recording-paused').textContent).toBe('Recording paused');
    expect(screen.getByTestId('no-audio').textContent?.trim()).toBe(
      'No audio from the other side for 10 s',
    );
    await fireEvent.click(button);
    expect(invoke).toHaveBeenCalledWith('pause_recording', { call: 'c1', paused: false });
  });

  it('transfers to the typed target', async () => {
    render(CallPanel, { call, now: T0 });
    await fireEvent.input(screen.getByTestId('transfer-input'), { target: { value: '2000' } });
    await fireEvent.click(screen.getByTestId('transfer-button'));
    expect(invoke).toHaveBeenCalledWith('transfer', { call: 'c1', to: '2000' });
  });

  it('consults: holds the customer, then dials the colleague', async () => {
    invoke.mockImplementation(async (command) => (command === 'dial' ? 'c2' : undefined));
    render(CallPanel, { call, now: T0 });
    await fireEvent.input(screen.getByTestId('transfer-input'), { target: { value: '2000' } });
    await fireEvent.click(screen.getByTestId('consult-button'));
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('dial', { to: '2000' }));
    expect(invoke.mock.calls.map(([command]) => command)).toEqual(['hold', 'dial']);
  });

  it('completes or cancels an attended transfer', async () => {
    const consult: Call = { ...call, id: 'c2', remoteName: undefined, remoteUser: '2000', headers: {} };
    render(CallPanel, { call: { ...call, state: 'held', heldBy: 'local' }, consult, now: T0 });
    await fireEvent.click(screen.getByTestId('complete-transfer-button'));
    expect(invoke).toHaveBeenCalledWith('transfer_attended', { call: 'c1', consult: 'c2' });
    invoke.mockClear();
    await fireEvent.click(screen.getByTestId('cancel-consult-button'));
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('resume', { call: 'c1' }));
    expect(invoke.mock.calls[0]).toEqual(['hangup', { call: 'c2' }]);
  });

  it('sends tones and hangs up', async () => {
    render(CallPanel, { call, now: T0 });
    await fireEvent.click(screen.getByTestId('dtmf-hash'));
    expect(invoke).toHaveBeenCalledWith('send_dtmf', { call: 'c1', digits: '#' });
    await fireEvent.click(screen.getByTestId('hangup-button'));
    expect(invoke).toHaveBeenCalledWith('hangup', { call: 'c1' });
  });

  it('after the call, shows how it ended and no controls', () => {
    render(CallPanel, {
      call: { ...call, state: 'ended', endReason: 'remote_hangup', endedAt: T0 + 90_000 },
      now: T0 + 200_000,
    });
    expect(screen.getByTestId('call-panel').textContent).toContain('The other party hung up');
    expect(screen.getByTestId('call-timer').textContent).toBe('1:30');
    expect(screen.queryByTestId('hangup-button')).toBeNull();
  });
});
