// The ringtone and the auto-answer beep, made with Web Audio: no sound files to ship or
// to allow in the CSP. Where there is no Web Audio (tests), it is silent.

/** A soft double ring: two 0.4 s bursts of 440 + 480 Hz, then quiet; one cycle in 3 s. */
const RING = { cycle: 3, bursts: [0, 0.6], burst: 0.4, level: 0.12, tones: [440, 480] };
const BEEP = { length: 0.25, level: 0.15, tone: 880 };
/** Ramps keep the bursts from clicking. */
const RAMP = 0.02;

export class Ringer {
  private context: AudioContext | undefined;
  private ringing: { gain: GainNode; oscillators: OscillatorNode[]; timer: number } | undefined;

  private audio(): AudioContext | undefined {
    if (typeof AudioContext === 'undefined') return undefined;
    this.context ??= new AudioContext();
    // A context made before any user gesture may start suspended.
    void this.context.resume();
    return this.context;
  }

  private envelope(gain: GainNode, start: number, length: number, level: number): void {
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(level, start + RAMP);
    gain.gain.setValueAtTime(level, start + length - RAMP);
    gain.gain.linearRampToValueAtTime(0, start + length);
  }

  start(): void {
    const ctx = this.audio();
    if (!ctx || this.ringing) return;
    const gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    const oscillators = RING.tones.map((frequency) => {
      const o = ctx.createOscillator();
      o.frequency.value = frequency;
      o.connect(gain);
      o.start();
      return o;
    });
    const schedule = () => {
      const at = ctx.currentTime + 0.05;
      for (const offset of RING.bursts) this.envelope(gain, at + offset, RING.burst, RING.level);
    };
    schedule();
    this.ringing = { gain, oscillators, timer: window.setInterval(schedule, RING.cycle * 1000) };
  }

  stop(): void {
    if (!this.ringing) return;
    const { gain, oscillators, timer } = this.ringing;
    window.clearInterval(timer);
    for (const o of oscillators) o.stop();
    gain.disconnect();
    this.ringing = undefined;
  }

  beep(): void {
    const ctx = this.audio();
    if (!ctx) return;
    const gain = ctx.createGain();
    gain.connect(ctx.destination);
    const o = ctx.createOscillator();
    o.frequency.value = BEEP.tone;
    o.connect(gain);
    const at = ctx.currentTime + 0.02;
    this.envelope(gain, at, BEEP.length, BEEP.level);
    o.start(at);
    o.stop(at + BEEP.length);
  }
}
