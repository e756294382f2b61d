//! ITU-T G.711 companding: µ-law and A-law, one 8-bit code per 16-bit linear sample.
//!
//! Both laws split the magnitude into eight segments ("chords") of sixteen
//! quantisation steps each; a code byte is `sign | segment << 4 | step`. The
//! step size doubles from one segment to the next, which gives the roughly
//! logarithmic signal-to-noise ratio of telephone speech.
//!
//! G.711 itself works on 14-bit (µ-law) and 13-bit (A-law) linear samples. Here
//! the input is 16-bit, so every quantity of the Recommendation is shifted left
//! by two (µ-law) or three (A-law) bits; the two or three lowest bits of the
//! input are below the coarsest resolution of the codes and are dropped.
//! Decoding returns the middle of the quantisation interval of the code
//! (G.711 §3 tables 1 and 2, "decision values" and "decoder output").

/// µ-law bias: 33 in the 14-bit domain of G.711 table 2, i.e. `33 << 2`.
///
/// Adding it makes every segment boundary a power of two.
const ULAW_BIAS: i32 = 0x84;

/// Largest magnitude that µ-law can represent once the bias is added
/// (`0x7FFF - ULAW_BIAS`); louder samples saturate at the top code.
const ULAW_CLIP: i32 = 0x7FFF - ULAW_BIAS;

/// A-law codes are transmitted with their even bits inverted (G.711 §3, table 1
/// note: "the character signal ... even bits inverted").
const ALAW_EVEN_BITS: u8 = 0x55;

/// Encodes one 16-bit linear sample as a G.711 µ-law code (G.711 §3, table 2).
pub fn ulaw_encode(sample: i16) -> u8 {
    let sign: u8 = if sample < 0 { 0x80 } else { 0 };
    let biased = i32::from(sample).abs().min(ULAW_CLIP) + ULAW_BIAS;
    // `biased` lies in 0x84..=0x7FFF: its top bit is bit 7..=14, the segment 0..=7.
    let segment = highest_bit(biased) - 7;
    let step = (biased >> (segment + 3)) & 0x0F;
    // The segment and step fit in 3 and 4 bits, so the casts are lossless.
    // µ-law codes are sent with every bit inverted.
    !(sign | (segment as u8) << 4 | step as u8)
}

/// Decodes a G.711 µ-law code to a 16-bit linear sample (G.711 §3, table 2).
pub fn ulaw_decode(code: u8) -> i16 {
    let code = !code;
    let segment = i32::from((code >> 4) & 0x07);
    let step = i32::from(code & 0x0F);
    // Middle of the interval: ((16 + step) << (segment + 3)) + (4 << segment), minus the bias.
    let magnitude = (((step << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    let magnitude = to_i16(magnitude);
    if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Encodes one 16-bit linear sample as a G.711 A-law code (G.711 §3, table 1).
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law is symmetric around -0.5: negative samples use their one's
    // complement, so that -1 lands in the same interval as 0 does.
    let (sign, magnitude) = if sample >= 0 {
        (0x80, i32::from(sample))
    } else {
        (0x00, i32::from(!sample))
    };
    // Segment 0 and 1 share the finest step (16 in the 16-bit domain); from
    // segment 1 on, the top bit of the magnitude (bit 8..=14) gives the segment.
    let (segment, step) = if magnitude < 0x100 {
        (0, magnitude >> 4)
    } else {
        let segment = highest_bit(magnitude) - 7;
        (segment, (magnitude >> (segment + 3)) & 0x0F)
    };
    // The segment and step fit in 3 and 4 bits, so the casts are lossless.
    (sign | (segment as u8) << 4 | step as u8) ^ ALAW_EVEN_BITS
}

/// Decodes a G.711 A-law code to a 16-bit linear sample (G.711 §3, table 1).
pub fn alaw_decode(code: u8) -> i16 {
    let code = code ^ ALAW_EVEN_BITS;
    let segment = i32::from((code >> 4) & 0x07);
    let step = i32::from(code & 0x0F);
    // Middle of the interval; segment 0 has no implied leading one.
    let magnitude = if segment == 0 {
        (step << 4) + 8
    } else {
        ((step << 4) + 0x108) << (segment - 1)
    };
    let magnitude = to_i16(magnitude);
    if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// Index of the most significant set bit of a positive value.
fn highest_bit(value: i32) -> i32 {
    31 - value.leading_zeros() as i32
}

/// Narrows a decoded magnitude; both laws decode to at most 32 256.
fn to_i16(magnitude: i32) -> i16 {
    i16::try_from(magnitude).expect("G.711 decoder outputs are at most 32 256 in magnitude")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Largest round-trip error G.711 allows for `sample`: half a quantisation
    /// step (at most 1/32 of the magnitude, 8 in the finest segment), plus the
    /// saturation above the largest decoder output.
    fn error_bound(sample: i16) -> i32 {
        let magnitude = i32::from(sample).abs();
        let saturation = (magnitude - 32_256).max(0);
        ((magnitude + ULAW_BIAS) / 32).max(8) + saturation
    }

    #[test]
    fn known_ulaw_values() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
    }

    #[test]
    fn known_alaw_values() {
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
    }

    #[test]
    fn decoding_is_monotonic_and_within_bounds_for_every_sample() {
        for (name, encode, decode) in [
            (
                "µ-law",
                ulaw_encode as fn(i16) -> u8,
                ulaw_decode as fn(u8) -> i16,
            ),
            ("A-law", alaw_encode, alaw_decode),
        ] {
            let mut previous = i16::MIN;
            for sample in i16::MIN..=i16::MAX {
                let decoded = decode(encode(sample));
                assert!(decoded >= previous, "{name}: not monotonic at {sample}");
                let error = (i32::from(sample) - i32::from(decoded)).abs();
                assert!(
                    error <= error_bound(sample),
                    "{name}: {sample} -> {decoded}"
                );
                previous = decoded;
            }
        }
    }

    #[test]
    fn every_code_survives_a_second_round_trip() {
        for code in 0..=u8::MAX {
            let linear = ulaw_decode(code);
            assert_eq!(
                ulaw_decode(ulaw_encode(linear)),
                linear,
                "µ-law {code:#04x}"
            );
            let linear = alaw_decode(code);
            assert_eq!(alaw_encode(linear), code, "A-law {code:#04x}");
        }
    }

    proptest! {
        #[test]
        fn round_trip_error_is_bounded(sample in any::<i16>()) {
            let bound = error_bound(sample);
            let ulaw = i32::from(ulaw_decode(ulaw_encode(sample)));
            prop_assert!((i32::from(sample) - ulaw).abs() <= bound);
            let alaw = i32::from(alaw_decode(alaw_encode(sample)));
            prop_assert!((i32::from(sample) - alaw).abs() <= bound);
        }

        #[test]
        fn sign_is_preserved(sample in any::<i16>()) {
            prop_assert!(i32::from(ulaw_decode(ulaw_encode(sample))) * i32::from(sample) >= 0);
            prop_assert!(i32::from(alaw_decode(alaw_encode(sample))) * i32::from(sample) >= 0);
        }
    }
}
