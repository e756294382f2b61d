// The app's state with runes, and the actions the components call. The model itself
// changes only through the pure functions of model.ts (hence `$state.raw`: every change
// is a new object, nothing needs deep proxies); this file wires them to the
// backend's events and commands, and keeps what is only the window's own (toasts,
// notices, dialogs, live-region texts).

import * as api from './api';
import { toUiError } from './api';
import { announcement, deflectedText, type AudioDeviceEvent } from './announcements';
import { Beeper } from './beep';
import type { HotkeyAction } from './hotkeys';
import { setLanguage, t } from './i18n/index.svelte';
import {
  applyEvent,
  applyOverview,
  consultCall,
  dismissLastCall,
  heldLocally,
  initialModel,
  offeredCall,
  primaryCall,
  setMuted,
  shownCall,
  customerCall,
  talkingCall,
  trackDialled,
  type Call,
  type Model,
} from './model';
import { previewNumber } from './number';
import type { CallRecord, DemoEvent, Event } from './protocol';
import type { LinkOffer, LinkRefused, UiError } from './shell';

/** A toast: an error, or news of an audio device during a call. */
export type Toast =
  | (UiError & { id: number; kind: 'error' })
  | { id: number; kind: 'audio_device'; event: AudioDeviceEvent };

export interface Notice {
  /** The test hook of the notice (`link-dialled`, `notice`). */
  kind: string;
  text: string;
}

/** A part of the settings dialog it can open at (scrolled to, with focus on its heading). */
export type SettingsSection = 'teams';

export interface DemoEntry {
  id: number;
  at: number;
  event: DemoEvent;
}

const HISTORY_LIMIT = 50;
const DEMO_LOG_LIMIT = 100;
const TOAST_LIMIT = 4;
const NOTICE_MS = 6000;
/** The id of the number field, for the `dial` shortcut. */
export const NUMBER_FIELD_ID = 'number-input';

export class AppState {
  model = $state.raw<Model>(initialModel());
  history = $state.raw<CallRecord[]>([]);
  /** Unix ms, ticking once a second while a call runs (for the call timer). */
  now = $state(Date.now());
  toasts = $state.raw<Toast[]>([]);
  notice = $state.raw<Notice | undefined>();
  linkOffer = $state.raw<LinkOffer | undefined>();
  linkRefused = $state.raw<LinkRefused | undefined>();
  demoLog = $state.raw<DemoEntry[]>([]);
  settingsOpen = $state(false);
  /** Where the settings dialog opened; none: at the top. */
  settingsSection = $state<SettingsSection | undefined>();
  dialError = $state.raw<UiError | undefined>();
  polite = $state('');
  assertive = $state('');

  offered = $derived(offeredCall(this.model));
  primary = $derived(primaryCall(this.model));
  consult = $derived(consultCall(this.model));
  talking = $derived(talkingCall(this.model));
  shown = $derived(shownCall(this.model));
  customer = $derived(customerCall(this.model));

  readonly beeper = new Beeper();
  private serial = 0;
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Events that arrive while an overview is on its way: the overview may have been taken
   * before them, so they are applied after it (applying one twice changes nothing).
   */
  private held: Event[] | undefined;

  /** Listens first, then asks for the overview, so that no event falls between the two. */
  async start(): Promise<() => void> {
    try {
      const stops = await Promise.all([
        ...api.AGENT_EVENTS.map((name) => api.on(name, (e) => this.handle(e))),
        api.on('session-changed', () => void this.reload(true)),
        api.on('link-opened', (offer) => (this.linkOffer = offer)),
        api.on('link-dialled', (d) =>
          this.showNotice('link-dialled', t('link_dialled', { target: d.target })),
        ),
        api.on('link-refused', (refused) => (this.linkRefused = refused)),
        api.on('demo-progressed', (e) => this.logDemo(e)),
      ]);
      await this.reload(false);
      return () => stops.forEach((stop) => stop());
    } catch (e) {
      // Outside Parley's window (a plain browser) there is no backend to listen to.
      this.toast(e);
      return () => {};
    }
  }

  /** Applies a fresh overview; a new session (account or mode changed) starts clean. */
  async reload(newSession: boolean): Promise<void> {
    const held: Event[] = [];
    this.held = held;
    try {
      const overview = await api.overview();
      this.model = applyOverview(newSession ? initialModel() : this.model, overview);
      setLanguage(overview.language);
      if (newSession) this.demoLog = [];
    } catch (e) {
      this.toast(e);
    } finally {
      // A later reload (a new session meanwhile) holds its own.
      if (this.held === held) this.held = undefined;
      held.forEach((e) => this.handle(e));
    }
    await this.refreshHistory();
  }

  async refreshHistory(): Promise<void> {
    try {
      this.history = await api.history(HISTORY_LIMIT);
    } catch (e) {
      this.toast(e);
    }
  }

  /** One of the agent's events. */
  handle(e: Event): void {
    if (this.held) {
      this.held.push(e);
      return;
    }
    const before = this.model;
    this.model = applyEvent(before, e, Date.now());
    const said = announcement(before, this.model, e);
    if (said.polite) this.polite = said.polite;
    if (said.assertive) this.assertive = said.assertive;
    if (e.event === 'call_state' && e.state === 'ended') void this.refreshHistory();
    if (e.event === 'error') this.toast(e);
    if (e.event === 'call_deflected') this.showNotice('notice', deflectedText(e));
    if (e.event === 'audio_device') this.deviceToast(e);
    // The ringtone plays in the shell; only auto-answer's beep is the window's.
    if (e.event === 'incoming_call' && !e.replaces && this.model.preferences.auto_answer) {
      this.beeper.beep();
    }
  }

  private logDemo(event: DemoEvent): void {
    const entry = { id: ++this.serial, at: Date.now(), event };
    this.demoLog = [entry, ...this.demoLog].slice(0, DEMO_LOG_LIMIT);
  }

  private addToast(toast: Toast): void {
    this.toasts = [...this.toasts, toast].slice(-TOAST_LIMIT);
  }

  toast(thrown: unknown): void {
    this.addToast({ ...toUiError(thrown), id: ++this.serial, kind: 'error' });
  }

  /** News of a microphone or speaker: it replaces older news of the same direction. */
  private deviceToast(event: AudioDeviceEvent): void {
    this.toasts = this.toasts.filter(
      (toast) => toast.kind !== 'audio_device' || toast.event.direction !== event.direction,
    );
    this.addToast({ id: ++this.serial, kind: 'audio_device', event });
  }

  dismissToast(id: number): void {
    this.toasts = this.toasts.filter((toast) => toast.id !== id);
  }

  showNotice(kind: string, text: string): void {
    this.notice = { kind, text };
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => (this.notice = undefined), NOTICE_MS);
  }

  /** Runs a command; a failure becomes a toast. Resolves to whether it worked. */
  private async attempt(work: () => Promise<unknown>): Promise<boolean> {
    try {
      await work();
      return true;
    } catch (e) {
      this.toast(e);
      return false;
    }
  }

  private async placeCall(to: string): Promise<void> {
    const call = await api.dial(to);
    this.model = trackDialled(this.model, call, previewNumber(to) ?? to.trim(), Date.now());
  }

  /** Dials what the agent typed; the error, if any, is shown next to the number field. */
  async dial(to: string): Promise<boolean> {
    try {
      await this.placeCall(to);
      this.dialError = undefined;
      return true;
    } catch (e) {
      this.dialError = toUiError(e);
      return false;
    }
  }

  /** Dials from outside the number field (a link, a call-back): errors become toasts. */
  dialFrom = (to: string) => this.attempt(() => this.placeCall(to));

  answer = (call: string) => this.attempt(() => api.answer(call));
  decline = (call: string) => this.attempt(() => api.decline(call));
  hangup = (call: string) => this.attempt(() => api.hangup(call));
  sendDtmf = (call: string, digits: string) => this.attempt(() => api.sendDtmf(call, digits));
  transfer = (call: string, to: string) => this.attempt(() => api.transfer(call, to));

  toggleHold(call: Call): Promise<boolean> {
    return this.attempt(() => (heldLocally(call) ? api.resume(call.id) : api.hold(call.id)));
  }

  toggleMute(call: Call): Promise<boolean> {
    const muted = !call.muted;
    return this.attempt(async () => {
      await api.mute(call.id, muted);
      // No event reports mute: the command's success is the news.
      this.model = setMuted(this.model, call.id, muted);
    });
  }

  /** Pauses or resumes the recording; the `recording` event confirms it. */
  toggleRecording(call: Call): Promise<boolean> {
    return this.attempt(() => api.pauseRecording(call.id, !call.recordingPaused));
  }

  /** Attended transfer, step 1: hold the customer, dial the colleague. */
  async consultWith(primary: Call, to: string): Promise<boolean> {
    const holdFirst = !heldLocally(primary);
    if (holdFirst && !(await this.attempt(() => api.hold(primary.id)))) return false;
    if (await this.dialFrom(to)) return true;
    // The colleague could not be called: the customer should not stay on hold.
    if (holdFirst) await this.attempt(() => api.resume(primary.id));
    return false;
  }

  completeTransfer = (primary: Call, consult: Call) =>
    this.attempt(() => api.transferAttended(primary.id, consult.id));

  async cancelConsult(primary: Call, consult: Call): Promise<boolean> {
    if (!(await this.hangup(consult.id))) return false;
    return this.attempt(() => api.resume(primary.id));
  }

  setAgentState = (state: api.AgentStateRequest, reason?: string) =>
    this.attempt(() => api.setState(state, reason));

  demoOffer = (customer?: string) => this.attempt(() => api.demoOffer(customer));

  useDemoMode = () => this.attempt(() => api.removeAccount());

  openSettings(section?: SettingsSection): void {
    this.settingsSection = section;
    this.settingsOpen = true;
  }

  closeSettings(): void {
    this.settingsOpen = false;
    this.settingsSection = undefined;
  }

  dismissLastCall(): void {
    this.model = dismissLastCall(this.model);
  }

  async confirmLink(): Promise<void> {
    const offer = this.linkOffer;
    this.linkOffer = undefined;
    if (offer) await this.dialFrom(offer.target);
  }

  /** A keyboard shortcut. */
  hotkey(action: HotkeyAction): void {
    const { offered, primary, talking } = this;
    switch (action) {
      case 'answer':
        if (offered) void this.answer(offered.id);
        break;
      case 'decline':
        if (offered) void this.decline(offered.id);
        break;
      case 'hangup':
        if (talking) void this.hangup(talking.id);
        break;
      case 'hold':
        if (primary) void this.toggleHold(primary);
        break;
      case 'mute':
        if (talking) void this.toggleMute(talking);
        break;
      case 'ready':
        void this.setAgentState('ready');
        break;
      case 'not_ready':
        void this.setAgentState('not_ready', this.model.preferences.not_ready_reasons[0]);
        break;
      case 'dial':
        document.getElementById(NUMBER_FIELD_ID)?.focus();
        break;
    }
  }
}

export const app = new AppState();
