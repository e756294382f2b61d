//! Pitch-synchronous time-scale modification and loss concealment (WSOLA family, as in
//! WebRTC NetEQ's accelerate, pre-emptive expand and expand; Liang, Färber and Girod,
//! IEEE Trans. Multimedia 5(4), 2003).
//!
//! Speech is nearly periodic over a few tens of milliseconds, so one pitch period can be
//! taken out or put in with a short cross-fade and no audible gap; where the signal is
//! not periodic enough (correlation below [`MIN_CORRELATION`]) and not quiet, nothing is
//! changed. Lost audio is replaced by repeating the last pitch period, muted after a
//! while (ITU-T G.711 Appendix I does the same: full level for 10 ms, silent by 60 ms).

/// Normalised correlation of two consecutive periods above which speech counts as
/// periodic enough to stretch (NetEQ: 0.9).
pub const MIN_CORRELATION: f32 = 0.9;
/// Below this mean square (about −50 dBFS) a segment is quiet: any change is inaudible.
const QUIET_ENERGY: f32 = 100.0;

/// The pitch search range and window at one sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pitch {
    /// Shortest period: 2.5 ms (400 Hz).
    pub min_lag: usize,
    /// Longest period: 15 ms (67 Hz).
    pub max_lag: usize,
    /// Cross-fade length of a merge: 2.5 ms.
    pub fade: usize,
}

impl Pitch {
    pub fn at(rate: u32) -> Pitch {
        let ms = |tenths: u32| (rate * tenths / 10_000) as usize;
        Pitch {
            min_lag: ms(25).max(2),
            max_lag: ms(150).max(4),
            fade: ms(25).max(1),
        }
    }

    /// Samples a segment must hold to be stretched: two of the longest periods and a
    /// little before them.
    pub fn segment(&self) -> usize {
        2 * self.max_lag + self.fade
    }
}

/// The lag (one period) at which `x[start..start + lag]` best matches the `lag` samples
/// after it, and how well (normalised correlation); quiet audio matches at the shortest
/// lag with correlation 1. `None` when `x` is too short.
pub fn best_period(x: &[i16], start: usize, pitch: &Pitch) -> Option<(usize, f32)> {
    if x.len() < start + 2 * pitch.max_lag {
        return None;
    }
    let energy = mean_square(&x[start..start + 2 * pitch.max_lag]);
    if energy < QUIET_ENERGY {
        return Some((pitch.min_lag, 1.0));
    }
    let mut best = (pitch.min_lag, f32::MIN);
    for lag in pitch.min_lag..=pitch.max_lag {
        let a = &x[start..start + lag];
        let b = &x[start + lag..start + 2 * lag];
        let c = correlation(a, b);
        if c > best.1 {
            best = (lag, c);
        }
    }
    Some(best)
}

fn mean_square(x: &[i16]) -> f32 {
    let sum: f64 = x.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / x.len().max(1) as f64) as f32
}

fn correlation(a: &[i16], b: &[i16]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    (ab / (aa * bb).sqrt()) as f32
}

/// Cross-fades from `from` to `to` (same length), linearly, appending to `out`.
fn cross_fade(from: &[i16], to: &[i16], out: &mut Vec<i16>) {
    let n = from.len() as f32;
    for (i, (&a, &b)) in from.iter().zip(to).enumerate() {
        let w = (i as f32 + 0.5) / n;
        out.push((f32::from(a) * (1.0 - w) + f32::from(b) * w).round() as i16);
    }
}

/// Removes one pitch period from the start of `x` (at least [`Pitch::segment`] samples),
/// writing the shortened audio to `out`; gives the samples removed, 0 when the audio is
/// not periodic enough (then `x` is copied unchanged).
pub fn accelerate(x: &[i16], pitch: &Pitch, out: &mut Vec<i16>) -> usize {
    match best_period(x, 0, pitch) {
        Some((lag, c)) if c >= MIN_CORRELATION => {
            // x[0..lag] fades into x[lag..2 lag], which then goes on: one period less.
            cross_fade(&x[..lag], &x[lag..2 * lag], out);
            out.extend_from_slice(&x[2 * lag..]);
            lag
        }
        _ => {
            out.extend_from_slice(x);
            0
        }
    }
}

/// Inserts one pitch period at the start of `x` (at least [`Pitch::segment`] samples),
/// writing the longer audio to `out`; gives the samples inserted, 0 when the audio is not
/// periodic enough (then `x` is copied unchanged).
pub fn preemptive_expand(x: &[i16], pitch: &Pitch, out: &mut Vec<i16>) -> usize {
    match best_period(x, 0, pitch) {
        Some((lag, c)) if c >= MIN_CORRELATION => {
            // A B C becomes A (B fading into A) B C: one period more, and every seam
            // joins samples that were neighbours in x.
            out.extend_from_slice(&x[..lag]);
            cross_fade(&x[lag..2 * lag], &x[..lag], out);
            out.extend_from_slice(&x[lag..]);
            lag
        }
        _ => {
            out.extend_from_slice(x);
            0
        }
    }
}

/// Makes audio for what is missing, from the audio played before it.
#[derive(Debug, Clone)]
pub struct Concealer {
    pitch: Pitch,
    /// One period of the last audio played, repeated.
    period: Vec<i16>,
    /// Position in `period`.
    position: usize,
    /// Samples made since this concealment began.
    made: usize,
    /// Full level this long, then fading to silence at `silent_after` (samples).
    full_for: usize,
    silent_after: usize,
}

impl Concealer {
    pub fn new(rate: u32) -> Concealer {
        Concealer {
            pitch: Pitch::at(rate),
            period: Vec::new(),
            position: 0,
            made: 0,
            full_for: (rate / 100) as usize,
            silent_after: (rate * 6 / 100) as usize,
        }
    }

    /// Begins concealing after `history` (the last audio played, oldest first).
    pub fn start(&mut self, history: &[i16]) {
        let need = 2 * self.pitch.max_lag;
        self.period.clear();
        if history.len() >= need {
            let recent = &history[history.len() - need..];
            let lag = best_period(recent, 0, &self.pitch).map_or(self.pitch.max_lag, |(l, _)| l);
            self.period
                .extend_from_slice(&history[history.len() - lag..]);
        }
        self.position = 0;
        self.made = 0;
    }

    /// Appends `n` concealment samples to `out`.
    pub fn conceal(&mut self, n: usize, out: &mut Vec<i16>) {
        for _ in 0..n {
            let sample = if self.period.is_empty() || self.made >= self.silent_after {
                0
            } else {
                let s = self.period[self.position];
                self.position = (self.position + 1) % self.period.len();
                let gain = if self.made < self.full_for {
                    1.0
                } else {
                    let fading = (self.silent_after - self.full_for) as f32;
                    1.0 - (self.made - self.full_for) as f32 / fading
                };
                (f32::from(s) * gain).round() as i16
            };
            self.made += 1;
            out.push(sample);
        }
    }

    /// Samples made since this concealment began.
    pub fn made(&self) -> usize {
        self.made
    }

    /// Real audio resumes: its first samples in `audio` (as many as a merge takes) are
    /// faded in from what concealment would have gone on with, so that no click is heard.
    pub fn merge(&mut self, audio: &mut [i16]) {
        let n = self.pitch.fade.min(audio.len());
        let mut tail = Vec::with_capacity(n);
        self.conceal(n, &mut tail);
        let mut faded = Vec::with_capacity(n);
        cross_fade(&tail, &audio[..n], &mut faded);
        audio[..n].copy_from_slice(&faded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8_000;

    fn sine(hz: f32, n: usize, amplitude: f32) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                (amplitude * (2.0 * std::f32::consts::PI * hz * t).sin()) as i16
            })
            .collect()
    }

    /// The largest step between neighbouring samples: a click shows as a step far above
    /// the signal's own.
    fn max_step(x: &[i16]) -> i32 {
        x.windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn the_period_of_a_voice_like_tone_is_found() {
        let pitch = Pitch::at(RATE);
        assert_eq!((pitch.min_lag, pitch.max_lag, pitch.fade), (20, 120, 20));
        // 200 Hz at 8 kHz: 40 samples (or a multiple of it, equally periodic).
        let x = sine(200.0, 400, 8_000.0);
        let (lag, c) = best_period(&x, 0, &pitch).unwrap();
        assert!(lag.is_multiple_of(40), "{lag}");
        assert!(c > 0.99, "{c}");
        assert_eq!(best_period(&x[..100], 0, &pitch), None);
        assert_eq!(best_period(&[0; 300], 0, &pitch), Some((20, 1.0)));
    }

    #[test]
    fn a_period_is_removed_or_inserted_without_a_click() {
        let pitch = Pitch::at(RATE);
        let x = sine(200.0, pitch.segment() + 80, 8_000.0);
        let own = max_step(&x);
        let mut shorter = Vec::new();
        let removed = accelerate(&x, &pitch, &mut shorter);
        assert!(removed >= 40 && removed.is_multiple_of(40), "{removed}");
        assert_eq!(shorter.len(), x.len() - removed);
        assert!(
            max_step(&shorter) <= own + own / 4,
            "{}",
            max_step(&shorter)
        );
        let mut longer = Vec::new();
        let inserted = preemptive_expand(&x, &pitch, &mut longer);
        assert!(inserted >= 40 && inserted.is_multiple_of(40), "{inserted}");
        assert_eq!(longer.len(), x.len() + inserted);
        assert!(max_step(&longer) <= own + own / 4, "{}", max_step(&longer));
    }

    #[test]
    fn noise_is_left_alone() {
        let pitch = Pitch::at(RATE);
        let mut seed = 1u32;
        let noise: Vec<i16> = (0..pitch.segment())
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 16) as i16
            })
            .collect();
        let mut out = Vec::new();
        assert_eq!(accelerate(&noise, &pitch, &mut out), 0);
        assert_eq!(out, noise);
    }

    #[test]
    fn concealment_continues_the_voice_then_fades_to_silence() {
        let x = sine(200.0, 400, 8_000.0);
        let mut c = Concealer::new(RATE);
        c.start(&x);
        let mut out = x.clone();
        c.conceal(560, &mut out);
        // No click where concealment takes over; full level for 10 ms; silent by 60 ms.
        assert!(max_step(&out[380..420]) <= max_step(&x) + 50);
        let peak = |s: &[i16]| s.iter().map(|v| v.unsigned_abs()).max().unwrap();
        assert!(peak(&out[400..480]) > 7_500);
        assert!(peak(&out[600..680]) < peak(&out[400..480]));
        assert_eq!(peak(&out[880..]), 0);
        assert_eq!(c.made(), 560);
        // Real audio after it fades in.
        let mut resumed = vec![8_000i16; 40];
        c.merge(&mut resumed);
        assert!(resumed[0] < 400, "{}", resumed[0]);
        assert_eq!(resumed[39], 8_000);
    }
}
