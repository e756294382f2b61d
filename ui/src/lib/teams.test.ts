import { afterEach, describe, expect, it } from 'vitest';
import { setLanguage } from './i18n/index.svelte';
import type { TeamsView } from './protocol';
import {
  activityOf,
  availabilityOf,
  presenceLabel,
  teamsBusy,
  teamsLabel,
  turnedAwayLabel,
  uniqueColleagues,
} from './teams';

afterEach(() => setLanguage('en'));

const view = (over: Partial<TeamsView> = {}): TeamsView => ({
  sync: 'active',
  busy: false,
  deflected: 0,
  directory: false,
  ...over,
});

describe('presence', () => {
  it('reads Graph values whatever their case, and does not know others', () => {
    expect(availabilityOf('Available')).toBe('available');
    expect(availabilityOf('availableIdle')).toBe('available_idle');
    expect(availabilityOf('DONOTDISTURB')).toBe('do_not_disturb');
    expect(availabilityOf('BeRightBack')).toBe('be_right_back');
    expect(availabilityOf('PresenceUnknown')).toBe('unknown');
    expect(availabilityOf('Sleeping')).toBe('unknown');
    expect(availabilityOf('')).toBe('unknown');
    expect(availabilityOf(undefined)).toBe('unknown');
    expect(activityOf('InACall')).toBe('in_a_call');
    expect(activityOf('inaconferencecall')).toBe('in_a_call');
    expect(activityOf('Presenting')).toBe('presenting');
    expect(activityOf('Available')).toBeUndefined();
    expect(activityOf(undefined)).toBeUndefined();
  });

  it('says the availability, and the activity when it tells more', () => {
    expect(presenceLabel('Busy', 'InAMeeting')).toBe('Busy · In a meeting');
    expect(presenceLabel('Available', 'Available')).toBe('Available');
    expect(presenceLabel('Away', 'OutOfOffice')).toBe('Away · Out of office');
    expect(presenceLabel(undefined, undefined)).toBe('Unknown');
    expect(presenceLabel('<b>Weird</b>', 'Juggling')).toBe('Unknown');
    setLanguage('de');
    expect(presenceLabel('DoNotDisturb', 'Presenting')).toBe('Nicht stören · Präsentiert');
  });
});

describe('the Teams chip', () => {
  it('says how the sync is', () => {
    expect(teamsLabel(view())).toBe('Teams synced');
    expect(teamsLabel(view({ sync: 'starting' }))).toBe('Teams: connecting…');
    expect(teamsLabel(view({ sync: 'unavailable', reason: 'Graph said no' }))).toBe('Teams sync unavailable');
    expect(teamsLabel(view({ sync: 'signed_out' }))).toBe('Sign in to Teams');
    expect(teamsLabel(view({ sync: 'later' }))).toBe('Teams: later');
  });

  it('says what in Teams keeps the agent busy', () => {
    const busy = (availability: string, activity: string) =>
      teamsLabel(view({ busy: true, availability, activity }));
    expect(busy('Busy', 'InACall')).toBe('In a Teams call');
    expect(busy('Busy', 'InAConferenceCall')).toBe('In a Teams call');
    expect(busy('Busy', 'InAMeeting')).toBe('In a Teams meeting');
    expect(busy('DoNotDisturb', 'Presenting')).toBe('Presenting in Teams');
    expect(busy('DoNotDisturb', 'DoNotDisturb')).toBe('Do not disturb in Teams');
    expect(busy('Busy', 'Busy')).toBe('Busy in Teams');
    expect(teamsBusy({ availability: 'donotdisturb', activity: 'focusing' })).toBe('do_not_disturb');
    setLanguage('de');
    expect(busy('Busy', 'InAMeeting')).toBe('In einer Teams-Besprechung');
  });

  it('counts the offers turned away', () => {
    expect(turnedAwayLabel(0)).toBe('');
    expect(turnedAwayLabel(1)).toBe('1 offer turned away');
    expect(turnedAwayLabel(3)).toBe('3 offers turned away');
    setLanguage('de');
    expect(turnedAwayLabel(3)).toBe('3 Anrufe abgewiesen');
  });
});

describe('uniqueColleagues', () => {
  it('keeps the first of each id', () => {
    const found = [
      { id: 'a', name: 'Ann' },
      { id: 'b', name: 'Bo' },
      { id: 'a', name: 'Ann again' },
    ];
    expect(uniqueColleagues(found).map((c) => c.name)).toEqual(['Ann', 'Bo']);
  });
});
