import { afterEach, describe, expect, it } from 'vitest';
import { callView, incomingCall, microphoneLost, overview } from '../test/fixtures';
import { announcement, audioDeviceText, type AudioDeviceEvent } from './announcements';
import { setLanguage } from './i18n/index.svelte';
import { applyEvent, applyOverview, initialModel } from './model';
import type { Event } from './protocol';

const before = applyOverview(
  initialModel(),
  overview({ status: { registration: 'registered', agent_state: 'on_call', calls: [callView()] } }),
);
const say = (e: Event) => announcement(before, applyEvent(before, e, 0), e);

describe('announcement', () => {
  it('announces an offered call assertively', () => {
    const e = incomingCall({ call: 'c2', from_name: 'Ann' });
    expect(say(e)).toEqual({ assertive: 'Incoming call from Ann' });
    expect(say({ ...e, replaces: 'c1' })).toEqual({});
  });

  it('announces state changes politely', () => {
    expect(say({ event: 'agent_state', state: 'wrapup' })).toEqual({ polite: 'Agent state: Wrap-up' });
    expect(say({ event: 'agent_state', state: 'on_call' })).toEqual({});
    expect(say({ event: 'registration', state: 'failed', reason: 'Forbidden', code: 403 })).toEqual({
      polite: 'Registration: Registration failed: 403 Forbidden',
    });
    expect(say({ event: 'call_state', call: 'c1', state: 'held', held_by: 'remote' })).toEqual({
      polite: 'Call: Caller put you on hold',
    });
    expect(say({ event: 'call_state', call: 'c1', state: 'ended', reason: 'remote_hangup' })).toEqual({
      polite: 'Call: The other party hung up',
    });
    expect(say({ event: 'call_deflected', from: 'sip:+4940@h', reason: 'not_ready', code: 480 })).toEqual({
      polite: 'A call from +4940 went to another agent because you were not ready.',
    });
  });
});

describe('Teams news', () => {
  const teams = (sync: string, busy = false): Event => ({
    event: 'teams',
    sync,
    reason: 'token expired',
    busy,
    deflected: 0,
    directory: false,
  });

  it('announces a change of the sync, not its start nor a block', () => {
    expect(say(teams('starting'))).toEqual({});
    expect(say(teams('unavailable'))).toEqual({ polite: 'Teams sync unavailable' });
    expect(say(teams('signed_out'))).toEqual({ polite: 'Sign in to Teams' });
    const synced = applyEvent(before, teams('active'), 0);
    expect(announcement(synced, applyEvent(synced, teams('active', true), 0), teams('active', true))).toEqual({});
  });
});

describe('audio device news', () => {
  afterEach(() => setLanguage('en'));

  const lost: AudioDeviceEvent = microphoneLost();
  const switched: AudioDeviceEvent = {
    event: 'audio_device',
    call: 'c1',
    direction: 'output',
    state: 'switched',
    device: 'alsa_output.pci-analog',
    name: 'Built-in Audio',
    fell_back: true,
  };

  it('says a lost device assertively and a switch politely', () => {
    expect(say(lost)).toEqual({ assertive: 'Microphone lost: alsa_input.usb-Jabra. The call goes on.' });
    expect(say(switched)).toEqual({
      polite: 'Speaker switched to Built-in Audio (the chosen one is missing).',
    });
    expect(applyEvent(before, lost, 0)).toBe(before);
  });

  it('names each direction and case, in English and German', () => {
    const speakerLost = { ...lost, direction: 'output' };
    const micBack = { ...switched, direction: 'input', fell_back: false, name: 'Jabra' };
    expect(audioDeviceText(speakerLost)).toBe('Speaker lost: alsa_input.usb-Jabra. The call goes on.');
    expect(audioDeviceText(micBack)).toBe('Microphone switched to Jabra.');
    expect(audioDeviceText({ ...switched, fell_back: false })).toBe('Speaker switched to Built-in Audio.');
    setLanguage('de');
    expect(audioDeviceText(lost)).toBe(
      'Mikrofon nicht mehr verfügbar: alsa_input.usb-Jabra. Das Gespräch läuft weiter.',
    );
    expect(audioDeviceText(speakerLost)).toBe(
      'Lautsprecher nicht mehr verfügbar: alsa_input.usb-Jabra. Das Gespräch läuft weiter.',
    );
    expect(audioDeviceText(micBack)).toBe('Mikrofon umgeschaltet auf Jabra.');
    expect(audioDeviceText({ ...micBack, fell_back: true })).toBe(
      'Mikrofon umgeschaltet auf Jabra (das gewählte fehlt).',
    );
    expect(audioDeviceText(switched)).toBe(
      'Lautsprecher umgeschaltet auf Built-in Audio (der gewählte fehlt).',
    );
  });

  it('names a device by its name, else its id, else as the system default', () => {
    expect(audioDeviceText({ ...lost, device: '', name: undefined })).toBe(
      'Microphone lost: System default. The call goes on.',
    );
    expect(audioDeviceText({ ...lost, device: 'alsa_input.usb-Jabra', name: undefined })).toBe(
      'Microphone lost: alsa_input.usb-Jabra. The call goes on.',
    );
    expect(audioDeviceText({ ...switched, name: undefined })).toBe(
      'Speaker switched to alsa_output.pci-analog (the chosen one is missing).',
    );
  });
});
