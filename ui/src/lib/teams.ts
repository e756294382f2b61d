// Teams presence in words: the status chip's text, and a colleague's presence. Graph sends
// PascalCase values (`DoNotDisturb`, `InACall`); they are read case-insensitively, and an
// availability the window does not know shows as unknown (never as the raw value).

import { t, tMaybe } from './i18n/index.svelte';
import type { TeamsView } from './protocol';

export const AVAILABILITIES = [
  'available',
  'available_idle',
  'away',
  'be_right_back',
  'busy',
  'busy_idle',
  'do_not_disturb',
  'offline',
  'unknown',
] as const;
export type Availability = (typeof AVAILABILITIES)[number];

/** The activities worth saying next to the availability ("Busy · In a call"). */
export const ACTIVITIES = [
  'in_a_call',
  'in_a_meeting',
  'presenting',
  'out_of_office',
  'off_work',
  'focusing',
  'urgent_interruptions_only',
] as const;
export type Activity = (typeof ACTIVITIES)[number];

/** Graph's spelling without case or separators: `DoNotDisturb`, `doNotDisturb` → `donotdisturb`. */
const squash = (value: string | undefined) => (value ?? '').replace(/[^a-z]/gi, '').toLowerCase();

function lookup<T extends string>(names: readonly T[], value: string | undefined): T | undefined {
  const wanted = squash(value);
  return wanted === '' ? undefined : names.find((name) => squash(name) === wanted);
}

export function availabilityOf(value: string | undefined): Availability {
  // `PresenceUnknown` is Graph's own word for it.
  return lookup(AVAILABILITIES, squash(value) === 'presenceunknown' ? 'unknown' : value) ?? 'unknown';
}

export function activityOf(value: string | undefined): Activity | undefined {
  // A conference call is a call to the agent as much as a one-to-one call.
  return lookup(ACTIVITIES, squash(value) === 'inaconferencecall' ? 'in_a_call' : value);
}

/** "Busy · In a call", "Available", "Unknown". */
export function presenceLabel(availability?: string, activity?: string): string {
  const presence = t(`presence_${availabilityOf(availability)}`);
  const doing = activityOf(activity);
  return doing ? t('presence_with_activity', { presence, activity: t(`activity_${doing}`) }) : presence;
}

export type TeamsBusy = 'call' | 'meeting' | 'presenting' | 'do_not_disturb' | 'other';

/** What in Teams keeps the agent busy, from what Teams showed when it blocked. */
export function teamsBusy(view: Pick<TeamsView, 'availability' | 'activity'>): TeamsBusy {
  switch (activityOf(view.activity)) {
    case 'in_a_call':
      return 'call';
    case 'presenting':
      return 'presenting';
    case 'in_a_meeting':
      return 'meeting';
    default:
      return availabilityOf(view.availability) === 'do_not_disturb' ? 'do_not_disturb' : 'other';
  }
}

/** The chip's words: what keeps the agent busy, else how the sync is. */
export function teamsLabel(view: TeamsView): string {
  if (view.busy) return t(`teams_busy_${teamsBusy(view)}`);
  return tMaybe(`teams_sync_${view.sync}`) ?? t('teams_sync_other', { state: view.sync });
}

/** "3 offers turned away"; empty when none were. */
export function turnedAwayLabel(count: number): string {
  if (count <= 0) return '';
  return count === 1 ? t('teams_turned_away_one') : t('teams_turned_away_other', { count });
}

// The colleagues directory.

/** Characters a search needs: fewer would match half the company. */
export const QUERY_MIN = 2;
/** The pause in typing after which the search runs by itself. */
export const SEARCH_DELAY_MS = 350;
/** How often the presence of the colleagues shown is read again. */
export const PRESENCE_REFRESH_MS = 30_000;

/** The directory's answer with each colleague once (the list is keyed by id). */
export function uniqueColleagues<T extends { id: string }>(found: T[]): T[] {
  const seen = new Set<string>();
  return found.filter((c) => {
    if (seen.has(c.id)) return false;
    seen.add(c.id);
    return true;
  });
}
