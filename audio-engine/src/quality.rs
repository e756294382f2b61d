//! A call's quality as a listener would rate it: the E-model of ITU-T G.107 in the
//! simplified form for VoIP of Cole and Rosenbluth ("Voice over IP performance monitoring",
//! ACM CCR 31(2), 2001), from what the receiver measures.
//!
//! R = 93.2 − Id − Ie,eff, where
//! - Id, the delay impairment: 0.024·d + 0.11·(d − 177.3) for d above 177.3 ms, d the
//!   one-way mouth-to-ear delay;
//! - Ie,eff, the equipment impairment under loss (G.107 §7.2):
//!   Ie + (95 − Ie)·Ppl / (Ppl/BurstR + Bpl), Ppl the loss in percent (late loss
//!   included: a packet too late is lost to the listener), BurstR how much burstier the
//!   loss is than random (1: random);
//! - Ie and Bpl per codec from ITU-T G.113 Appendix I (G.711 with concealment: 0, 25.1).
//!
//! MOS = 1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶ (G.107 Annex B), 1 below R = 0 and
//! 4.5 above R = 100.

use crate::codec::Codec;

/// A codec's equipment impairment (G.113 Appendix I).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    pub ie: f64,
    pub bpl: f64,
}

impl Impairment {
    pub fn of(codec: Codec) -> Impairment {
        match codec {
            // G.711 with packet loss concealment (G.711 Appendix I): Ie 0, Bpl 25.1.
            Codec::Pcmu | Codec::Pcma => Impairment { ie: 0.0, bpl: 25.1 },
        }
    }
}

/// The rating factor R (0..100).
pub fn r_factor(one_way_ms: f64, loss: f64, burst_ratio: f64, codec: Impairment) -> f64 {
    let d = one_way_ms.max(0.0);
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = (loss * 100.0).clamp(0.0, 100.0);
    let burst = burst_ratio.max(1.0);
    let ie_eff = codec.ie + (95.0 - codec.ie) * ppl / (ppl / burst + codec.bpl);
    (93.2 - id - ie_eff).clamp(0.0, 100.0)
}

/// The mean opinion score (1..4.5) for a rating factor.
pub fn mos(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    }
}

/// How much burstier than random a loss pattern is (G.107's BurstR): the mean length of
/// the observed loss bursts over the mean a random loss of the same rate would give,
/// 1 / (1 − loss). `bursts` is the number of runs of lost packets.
pub fn burst_ratio(lost: u64, bursts: u64, expected: u64) -> f64 {
    if lost == 0 || bursts == 0 || expected == 0 {
        return 1.0;
    }
    let loss = lost as f64 / expected as f64;
    let mean_burst = lost as f64 / bursts as f64;
    (mean_burst * (1.0 - loss)).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const G711: Impairment = Impairment { ie: 0.0, bpl: 25.1 };

    #[test]
    fn a_clean_short_call_rates_toll_quality() {
        let r = r_factor(0.0, 0.0, 1.0, G711);
        assert!((r - 93.2).abs() < 1e-9);
        assert!((mos(r) - 4.41).abs() < 0.01, "{}", mos(r));
        // 100 ms one way costs 2.4 points of R; 300 ms far more.
        assert!((r_factor(100.0, 0.0, 1.0, G711) - 90.8).abs() < 1e-9);
        assert!(r_factor(300.0, 0.0, 1.0, G711) < 80.0);
    }

    #[test]
    fn loss_lowers_the_score_and_bursty_loss_more() {
        let random = r_factor(50.0, 0.05, 1.0, G711);
        let bursty = r_factor(50.0, 0.05, 3.0, G711);
        // G.711 with concealment, 5 % random loss: Ie,eff = 95·5/(5 + 25.1) ≈ 15.8.
        assert!((random - (93.2 - 1.2 - 15.78)).abs() < 0.05, "{random}");
        assert!(bursty < random);
        assert!(mos(random) > 3.6 && mos(random) < 4.0, "{}", mos(random));
    }

    #[test]
    fn the_score_is_bounded() {
        assert_eq!(mos(-5.0), 1.0);
        assert_eq!(mos(120.0), 4.5);
        assert_eq!(r_factor(10_000.0, 1.0, 1.0, G711), 0.0);
    }

    #[test]
    fn burst_ratio_compares_with_random_loss() {
        assert_eq!(burst_ratio(0, 0, 100), 1.0);
        // 10 single losses in 1000: random-like.
        assert!((burst_ratio(10, 10, 1_000) - 1.0).abs() < 0.02);
        // 10 losses in 2 runs of 5: five times burstier.
        assert!((burst_ratio(10, 2, 1_000) - 4.95).abs() < 0.01);
    }
}
