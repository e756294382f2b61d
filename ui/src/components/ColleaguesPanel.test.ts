import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setLanguage } from '../lib/i18n/index.svelte';
import type { Colleague } from '../lib/protocol';
import { PRESENCE_REFRESH_MS, SEARCH_DELAY_MS } from '../lib/teams';
import { modelCall, resetApp } from '../test/fixtures';
import { invoke, reply, resetTauri } from '../test/tauri';
import ColleaguesPanel from './ColleaguesPanel.svelte';

vi.mock('@tauri-apps/api/core', () => import('../test/tauri'));
vi.mock('@tauri-apps/api/event', () => import('../test/tauri'));

const ANNA: Colleague = {
  id: 'u-anna',
  name: 'Anna Meier',
  mail: 'anna.meier@contoso.com',
  job_title: 'Team lead, billing',
  phone: '+4930123456',
  availability: 'Available',
  activity: 'Available',
};
const BEN: Colleague = {
  id: 'u-ben',
  name: 'Ben Okafor',
  job_title: 'Second level',
  availability: 'busy',
  activity: 'InACall',
};

beforeEach(() => {
  resetTauri();
  resetApp();
  reply({ colleagues: [ANNA, BEN], dial: 'c2' });
});

afterEach(() => {
  vi.useRealTimers();
  setLanguage('en');
});

const searches = () => invoke.mock.calls.filter(([c]) => c === 'colleagues').map(([, args]) => args?.query);
const search = () => screen.getByTestId('colleague-search') as HTMLInputElement;

async function searchFor(text: string): Promise<HTMLElement[]> {
  await fireEvent.input(search(), { target: { value: text } });
  await fireEvent.submit(search().form!);
  return screen.findAllByTestId('colleague');
}

/** The result for a colleague. */
const row = (id: string) =>
  screen.getAllByTestId('colleague').find((element) => element.dataset.id === id) as HTMLElement;

describe('ColleaguesPanel', () => {
  it('searches on Enter and lists colleagues with presence, job and phone', async () => {
    render(ColleaguesPanel, {});
    expect(screen.getByRole('search')).toBeTruthy();
    expect(screen.getByLabelText('Search by name or e-mail')).toBe(search());
    const found = await searchFor(' an ');
    expect(searches()).toEqual(['an']);
    expect(found.map((element) => element.dataset.id)).toEqual(['u-anna', 'u-ben']);

    const anna = within(row('u-anna'));
    expect(anna.getByTestId('colleague-name').textContent).toBe('Anna Meier');
    expect(anna.getByTestId('colleague-job').textContent).toBe('Team lead, billing');
    expect(anna.getByTestId('colleague-phone').textContent).toContain('+4930123456');
    const presence = anna.getByTestId('colleague-presence');
    expect(presence.dataset.availability).toBe('available');
    expect(presence.textContent).toContain('Available');

    const ben = within(row('u-ben'));
    expect(ben.getByTestId('colleague-presence').dataset.availability).toBe('busy');
    expect(ben.getByTestId('colleague-presence').textContent).toContain('Busy · In a call');
    expect(ben.queryByTestId('colleague-phone')).toBeNull();
    expect(row('u-ben').textContent).toContain('No phone number');
    expect(screen.getByRole('status').textContent).toBe('2 colleagues found.');
  });

  it('shows names and presence from the network as text only', async () => {
    reply({ colleagues: [{ ...ANNA, name: '<img src=x onerror=alert(1)>', availability: 'Hacked' }] });
    render(ColleaguesPanel, {});
    const [found] = await searchFor('img');
    expect(found?.querySelector('img')).toBeNull();
    expect(within(found!).getByTestId('colleague-name').textContent).toBe('<img src=x onerror=alert(1)>');
    expect(within(found!).getByTestId('colleague-presence').dataset.availability).toBe('unknown');
    expect(within(found!).getByTestId('colleague-presence').textContent).toContain('Unknown');
  });

  it('searches by itself after a pause in typing, from 2 characters', async () => {
    vi.useFakeTimers();
    render(ColleaguesPanel, {});
    await fireEvent.input(search(), { target: { value: 'a' } });
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS * 2);
    expect(searches()).toEqual([]);
    await fireEvent.input(search(), { target: { value: 'an' } });
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS / 2);
    await fireEvent.input(search(), { target: { value: 'ann' } });
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS / 2);
    expect(searches()).toEqual([]);
    await vi.advanceTimersByTimeAsync(SEARCH_DELAY_MS);
    expect(searches()).toEqual(['ann']);
    expect(screen.getAllByTestId('colleague')).toHaveLength(2);
  });

  it('drops the answer to an older search', async () => {
    const answers: Record<string, (found: Colleague[]) => void> = {};
    reply({
      colleagues: ({ query }: { query: string }) => new Promise((resolve) => (answers[query] = resolve)),
    });
    render(ColleaguesPanel, {});
    await fireEvent.input(search(), { target: { value: 'an' } });
    await fireEvent.submit(search().form!);
    await fireEvent.input(search(), { target: { value: 'ben' } });
    await fireEvent.submit(search().form!);
    expect(searches()).toEqual(['an', 'ben']);
    expect(screen.getByRole('status').textContent).toBe('Searching…');

    answers.ben?.([BEN]);
    await vi.waitFor(() => expect(screen.getAllByTestId('colleague')).toHaveLength(1));
    answers.an?.([ANNA, BEN]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(screen.getAllByTestId('colleague').map((element) => element.dataset.id)).toEqual(['u-ben']);
    expect(screen.getByRole('status').textContent).toBe('1 colleague found.');
  });

  it('says when nobody was found, and why a search failed', async () => {
    reply({ colleagues: [] });
    render(ColleaguesPanel, {});
    await fireEvent.input(search(), { target: { value: 'zz' } });
    await fireEvent.submit(search().form!);
    expect((await screen.findByTestId('colleagues-empty')).textContent).toBe('No colleague found for “zz”.');

    reply({
      colleagues: () => {
        throw { code: 'teams_directory', message: 'Microsoft Graph asks to slow down; search again in 30 s' };
      },
    });
    await fireEvent.submit(search().form!);
    const error = await screen.findByTestId('colleagues-error');
    expect(error.getAttribute('role')).toBe('alert');
    expect(error.textContent).toContain('The colleagues directory is not available.');
    expect(error.textContent).toContain('search again in 30 s');
    expect(screen.queryByTestId('colleagues-empty')).toBeNull();
  });

  it('calls a colleague when there is no call', async () => {
    render(ColleaguesPanel, {});
    await searchFor('an');
    const anna = within(row('u-anna'));
    expect(anna.queryByTestId('colleague-consult')).toBeNull();
    expect(anna.queryByTestId('colleague-transfer')).toBeNull();
    const call = anna.getByTestId('colleague-call');
    expect(call.textContent?.trim()).toBe('Call');
    expect(call.getAttribute('aria-label')).toBe('Call Anna Meier');
    await fireEvent.click(call);
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('dial', { to: '+4930123456' }));
    // Nothing to do for a colleague without a number.
    expect(within(row('u-ben')).queryAllByRole('button')).toEqual([]);
  });

  it('consults or transfers to a colleague during a connected call', async () => {
    const call = modelCall();
    render(ColleaguesPanel, { call });
    await searchFor('an');
    const anna = within(row('u-anna'));
    expect(anna.queryByTestId('colleague-call')).toBeNull();
    expect(within(row('u-ben')).queryAllByRole('button')).toEqual([]);
    expect(anna.getByTestId('colleague-consult').getAttribute('aria-label')).toBe('Consult Anna Meier');
    expect(anna.getByTestId('colleague-transfer').getAttribute('aria-label')).toBe(
      'Transfer the call to Anna Meier',
    );

    // Consult as the call panel does: hold the customer, then dial the colleague.
    await fireEvent.click(anna.getByTestId('colleague-consult'));
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('dial', { to: '+4930123456' }));
    expect(invoke.mock.calls.map(([command]) => command).filter((c) => c !== 'colleagues')).toEqual([
      'hold',
      'dial',
    ]);
    expect(invoke).toHaveBeenCalledWith('hold', { call: 'c1' });

    invoke.mockClear();
    await fireEvent.click(anna.getByTestId('colleague-transfer'));
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('transfer', { call: 'c1', to: '+4930123456' }));
  });

  it('offers nothing while a call is set up or a consultation runs', async () => {
    const { rerender } = render(ColleaguesPanel, { call: modelCall({ state: 'dialing', connectedAt: undefined }) });
    await searchFor('an');
    expect(within(row('u-anna')).queryAllByRole('button')).toEqual([]);
    await rerender({ call: modelCall({ state: 'held', heldBy: 'local' }), consult: modelCall({ id: 'c2' }) });
    expect(within(row('u-anna')).queryAllByRole('button')).toEqual([]);
    await rerender({ call: modelCall({ state: 'held', heldBy: 'local' }), consult: undefined });
    expect(within(row('u-anna')).getByTestId('colleague-consult')).toBeTruthy();
  });

  it('reads the presence of the colleagues shown again every 30 s', async () => {
    vi.useFakeTimers();
    const { unmount } = render(ColleaguesPanel, {});
    await fireEvent.input(search(), { target: { value: 'an' } });
    await fireEvent.submit(search().form!);
    await vi.advanceTimersByTimeAsync(0);
    expect(searches()).toEqual(['an']);

    reply({ colleagues: [{ ...ANNA, availability: 'Busy', activity: 'InAMeeting' }, BEN] });
    await vi.advanceTimersByTimeAsync(PRESENCE_REFRESH_MS - 100);
    expect(searches()).toEqual(['an']);
    await vi.advanceTimersByTimeAsync(100);
    expect(searches()).toEqual(['an', 'an']);
    const presence = within(row('u-anna')).getByTestId('colleague-presence');
    expect(presence.dataset.availability).toBe('busy');
    expect(presence.textContent).toContain('Busy · In a meeting');

    unmount();
    await vi.advanceTimersByTimeAsync(PRESENCE_REFRESH_MS * 2);
    expect(searches()).toHaveLength(2);
  });

  it('speaks German', async () => {
    setLanguage('de');
    render(ColleaguesPanel, {});
    await searchFor('an');
    expect(screen.getByRole('heading', { name: 'Kollegen' })).toBeTruthy();
    const anna = within(row('u-anna'));
    expect(anna.getByTestId('colleague-call').textContent?.trim()).toBe('Anrufen');
    expect(anna.getByTestId('colleague-call').getAttribute('aria-label')).toBe('Anna Meier anrufen');
    expect(within(row('u-ben')).getByTestId('colleague-presence').textContent).toContain('Beschäftigt · Im Anruf');
  });
});
