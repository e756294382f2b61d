// The auto-answer beep, made with Web Audio: no sound file to ship or to allow in the CSP.
// Where there is no Web Audio (tests), it is silent. (The ringtone plays in the shell, on
// the ring device the agent chose.)

const BEEP = { length: 0.25, level: 0.15, tone: 880 };
/** Ramps keep the beep from clicking. */
const RAMP = 0.02;

export class Beeper {
  private context: AudioContext | undefined;

  private audio(): AudioContext | undefined {
    if (typeof AudioContext === 'undefined') return undefined;
    this.context ??= new AudioContext();
    // A context made before any user gesture may start suspended.
    void this.context.resume();
    return this.context;
  }

  /** A short tone: a call is about to be answered by itself. */
  beep(): void {
    const ctx = this.audio();
    if (!ctx) return;
    const gain = ctx.createGain();
    gain.connect(ctx.destination);
    const o = ctx.createOscillator();
    o.frequency.value = BEEP.tone;
    o.connect(gain);
    const at = ctx.currentTime + 0.02;
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(BEEP.level, at + RAMP);
    gain.gain.setValueAtTime(BEEP.level, at + BEEP.length - RAMP);
    gain.gain.linearRampToValueAtTime(0, at + BEEP.length);
    o.start(at);
    o.stop(at + BEEP.length);
  }
}
