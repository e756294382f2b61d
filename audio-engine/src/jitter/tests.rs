//! The jitter buffer on generated traces (`trace`): clean, jittery, stalling, lossy,
//! reordering and drifting networks, in virtual time.

use super::trace::{self, generate, play, Jitter, Loss, Profile, RATE};
use super::*;
use proptest::prelude::*;

fn config() -> JitterConfig {
    JitterConfig::at(RATE)
}

/// The largest step between neighbouring samples after playout began: the 200 Hz test
/// tone's own steps are below 1,300; a click or a gap shows far above.
fn max_step(audio: &[i16]) -> i32 {
    let start = audio.iter().position(|&s| s != 0).unwrap_or(0);
    audio[start..]
        .windows(2)
        .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
        .max()
        .unwrap_or(0)
}

#[test]
fn a_clean_network_plays_everything_with_one_packet_of_delay() {
    let arrivals = generate(&Profile::clean("clean"), 20, 1);
    let played = play(&arrivals, config());
    let s = played.stats;
    assert_eq!((s.late, s.lost_samples), (0, 0), "{s:?}");
    // Playout starts 40 ms deep and settles at the target by taking a period out; the
    // stream's last frame is therefore short by that much: nothing else is made up.
    assert!(s.concealed_samples <= s.removed_samples, "{s:?}");
    assert_eq!(s.packets, 1_000);
    // Packets wait 0..20 ms for their turn plus a few ms of margin: far below 45 ms.
    assert!(s.mean_delay_ms() < 30.0, "{s:?}");
    assert!(played.delay_quantile(0.95) <= 40.0);
    assert!(max_step(&played.audio) < 1_300, "a seam in clean audio");
}

#[test]
fn jitter_is_absorbed_with_few_late_packets_and_a_proportionate_delay() {
    let profile = Profile {
        jitter: Jitter::Uniform { max_ms: 40.0 },
        ..Profile::clean("uniform 40 ms")
    };
    let arrivals = generate(&profile, 60, 2);
    let played = play(&arrivals, config());
    assert!(played.late_rate() < 0.02, "{:?}", played.stats);
    let mean = played.stats.mean_delay_ms();
    assert!((20.0..80.0).contains(&mean), "{mean}");
    // Stretching and concealment never tear the tone apart.
    assert!(
        max_step(&played.audio) < 2_600,
        "{}",
        max_step(&played.audio)
    );
}

#[test]
fn repeated_stalls_are_waited_out_without_loss_then_absorbed() {
    // A 300 ms stall at the start of every tenth second, then everything at once.
    let profile = Profile {
        jitter: Jitter::Stalls {
            every_s: 10.0,
            stall_ms: 300.0,
        },
        ..Profile::clean("stalls")
    };
    let arrivals = generate(&profile, 60, 3);
    let played = play(&arrivals, config());
    let s = played.stats;
    // Nothing is lost: the first stalls are waited out (the timeline stretches), and
    // once a stall every 10 s is 5 % of the arrival history the target covers it, so the
    // later ones are absorbed without an interruption.
    assert_eq!((s.late, s.lost_samples), (0, 0), "{s:?}");
    assert!(s.interruptions <= 2, "{s:?}");
    assert!(
        played.delay_quantile(0.95) < 400.0,
        "{}",
        played.delay_quantile(0.95)
    );
}

#[test]
fn a_single_stall_is_waited_out_then_the_delay_shrinks_by_stretching() {
    // One 300 ms stall, a minute of clean network after it.
    let profile = Profile {
        jitter: Jitter::Stalls {
            every_s: 600.0,
            stall_ms: 300.0,
        },
        ..Profile::clean("one stall")
    };
    // The stall comes at 599.7 s of its period: shift the trace so that it is at 10 s.
    let arrivals: Vec<_> = generate(&profile, 660, 3)
        .into_iter()
        .filter(|a| a.sent_ms >= 589_700.0)
        .collect();
    let played = play(&arrivals, config());
    let s = played.stats;
    assert_eq!((s.late, s.lost_samples), (0, 0), "{s:?}");
    assert_eq!(s.interruptions, 1, "{s:?}");
    // The backlog of 300 ms is stretched away, not dropped, within seconds.
    assert!(s.removed_samples >= 2_000, "{s:?}");
    assert!(
        played.delay_quantile(0.5) < 40.0,
        "{}",
        played.delay_quantile(0.5)
    );
}

#[test]
fn lost_packets_are_concealed_and_counted() {
    let profile = Profile {
        loss: Loss::Random { rate: 0.05 },
        ..Profile::clean("5 % loss")
    };
    let arrivals = generate(&profile, 60, 4);
    let played = play(&arrivals, config());
    let s = played.stats;
    let lost_share = s.lost_samples as f64 / s.played_samples as f64;
    assert!((0.03..0.07).contains(&lost_share), "{lost_share}");
    assert!(s.concealed_samples >= s.lost_samples);
    assert_eq!(s.late, 0);
    assert!(s.mean_delay_ms() < 40.0, "{s:?}");
}

#[test]
fn reordered_packets_are_put_back_in_place() {
    let profile = Profile {
        reorder: 0.05,
        ..Profile::clean("5 % reordered")
    };
    let arrivals = generate(&profile, 60, 5);
    let played = play(&arrivals, config());
    let s = played.stats;
    // The first ones raise the target; after that every one is in time.
    assert!(s.late <= 3, "{s:?}");
    assert!(max_step(&played.audio) < 2_600);
}

#[test]
fn a_fast_or_slow_sender_clock_is_evened_out() {
    for drift in [0.005, -0.005] {
        let profile = Profile {
            drift,
            ..Profile::clean("drift")
        };
        let arrivals = generate(&profile, 60, 6);
        let played = play(&arrivals, config());
        let s = played.stats;
        assert_eq!(s.late, 0, "{drift}: {s:?}");
        // The buffer neither grows without bound nor starves for long.
        assert!(
            played.delay_quantile(0.95) < 70.0,
            "{drift}: {}",
            played.delay_quantile(0.95)
        );
        let concealed = s.concealed_samples as f64 / s.played_samples as f64;
        assert!(concealed < 0.01, "{drift}: {s:?}");
        if drift > 0.0 {
            // 0.5 % of a minute is 300 ms too much audio, taken out by accelerate.
            assert!(s.removed_samples > u64::from(RATE) / 5, "{s:?}");
        }
    }
}

#[test]
fn a_new_timeline_restarts_playout() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(config(), t0);
    let tone: Vec<i16> = (0..160).map(trace::signal).collect();
    let mut out = Vec::new();
    for i in 0..50u32 {
        let now = t0 + Duration::from_millis(u64::from(i) * 20);
        jb.insert(now, i * 160, &tone);
        jb.pull(now, &mut out);
        jb.pull(now + Duration::from_millis(10), &mut out);
    }
    // The sender's clock jumps by a minute: not a gap of a minute to conceal.
    for i in 0..50u32 {
        let now = t0 + Duration::from_millis(1_000 + u64::from(i) * 20);
        assert_eq!(jb.insert(now, 480_000 + i * 160, &tone), Insert::Accepted);
        jb.pull(now, &mut out);
        jb.pull(now + Duration::from_millis(10), &mut out);
    }
    assert_eq!(out.len(), 200 * 80);
    assert!(jb.stats().concealed_samples < 800, "{:?}", jb.stats());
    // A duplicate and a late packet are told apart.
    let now = t0 + Duration::from_secs(3);
    assert_eq!(jb.insert(now, 480_000 + 49 * 160, &tone), Insert::Duplicate);
    assert_eq!(jb.insert(now, 480_000, &tone), Insert::Late);
}

proptest! {
    /// Whatever arrives in whatever order, every pull gives exactly one frame, nothing
    /// panics, and the counters agree.
    #[test]
    fn any_arrivals_give_whole_frames(
        packets in prop::collection::vec((any::<u32>(), 0u16..400, 0usize..=320, 0u64..30), 0..200),
    ) {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(config(), t0);
        let mut now = t0;
        let mut out = Vec::new();
        let mut pulls = 0;
        for (timestamp, step, len, wait) in packets {
            let samples = vec![1000i16; len];
            // Timestamps near each other mostly, wild now and then.
            let ts = if step < 300 { u32::from(step) * 80 } else { timestamp };
            jb.insert(now, ts, &samples);
            now += Duration::from_millis(wait);
            jb.pull(now, &mut out);
            pulls += 1;
        }
        prop_assert_eq!(out.len(), pulls * 80);
        let s = jb.stats();
        prop_assert!(s.concealed_samples <= s.played_samples);
        prop_assert!(s.lost_samples <= s.concealed_samples);
    }
}
