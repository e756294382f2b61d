//! Benchmark 3 of the audio engine (docs/benchmarks.md): the adaptive jitter buffer on
//! generated arrival traces, against fixed buffers and the best fixed delay chosen
//! knowing the whole trace. Each row: late loss (packets that came after their turn),
//! mean and 95th-percentile wait of a packet in the buffer, and the share of audio
//! concealed (loss and late loss together).
//!
//! ```sh
//! bench/jitter_traces.sh          # release build, 120 s per profile, seed 1
//! ```

use audio_engine::jitter::trace::{fixed, generate, offline_optimum, play, Jitter, Loss, Profile};
use audio_engine::jitter::JitterConfig;

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u32 = args.next().map_or(120, |s| s.parse().expect("seconds"));
    let seed: u64 = args.next().map_or(1, |s| s.parse().expect("seed"));
    let profiles = [
        Profile::clean("clean"),
        Profile {
            jitter: Jitter::Uniform { max_ms: 30.0 },
            ..Profile::clean("30 ms jitter (uniform)")
        },
        Profile {
            jitter: Jitter::Exponential { mean_ms: 15.0 },
            ..Profile::clean("exponential jitter, mean 15 ms")
        },
        Profile {
            jitter: Jitter::Stalls {
                every_s: 10.0,
                stall_ms: 300.0,
            },
            ..Profile::clean("300 ms stall every 10 s")
        },
        Profile {
            loss: Loss::Random { rate: 0.05 },
            ..Profile::clean("5 % random loss")
        },
        Profile {
            jitter: Jitter::Uniform { max_ms: 30.0 },
            loss: Loss::Bursty {
                p: 0.033,
                r: 0.25,
                loss_in_bad: 0.85,
            },
            ..Profile::clean("10 % bursty loss, 30 ms jitter")
        },
        Profile {
            reorder: 0.05,
            ..Profile::clean("5 % reordered")
        },
        Profile {
            drift: 0.001,
            ..Profile::clean("sender clock 0.1 % fast")
        },
    ];
    println!("{seconds} s per profile, seed {seed}; delays in ms, shares in %");
    println!();
    println!("| profile | buffer | late | mean | p95 | concealed |");
    println!("|---|---|---:|---:|---:|---:|");
    for profile in &profiles {
        let arrivals = generate(profile, seconds, seed);
        let played = play(&arrivals, JitterConfig::at(8_000));
        let s = played.stats;
        let late = played.late_rate();
        println!(
            "| {} | adaptive | {:.2} | {:.1} | {:.1} | {:.2} |",
            profile.name,
            late * 100.0,
            s.mean_delay_ms(),
            played.delay_quantile(0.95),
            s.concealed_samples as f64 * 100.0 / s.played_samples.max(1) as f64,
        );
        for delay in [40.0, 80.0, 120.0] {
            let (late, mean, p95) = fixed(&arrivals, delay);
            println!(
                "| | fixed {delay:.0} ms | {:.2} | {mean:.1} | {p95:.1} | |",
                late * 100.0
            );
        }
        // The best constant delay for the late loss the adaptive buffer had (at least
        // 0.1 %: no late loss at all is the worst packet's delay, an outlier).
        let target = late.max(0.001);
        let optimum = offline_optimum(&arrivals, target);
        let (late, mean, p95) = fixed(&arrivals, optimum);
        println!(
            "| | offline optimum for {:.1} % | {:.2} | {mean:.1} | {p95:.1} | |",
            target * 100.0,
            late * 100.0
        );
    }
}
