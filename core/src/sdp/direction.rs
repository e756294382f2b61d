//! Media direction attributes (RFC 4566 §6, RFC 3264 §5.1, §6.1).

use std::fmt;

/// Whether a party sends, receives, both or neither, from the point of view of the party
/// that wrote it (RFC 3264 §5.1: "from the perspective of the offerer").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// The default when no attribute is present (RFC 4566 §6).
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other end: what the peer's sendonly means for us is
    /// recvonly. This is the most an answerer may accept for an offered direction
    /// (RFC 3264 §6.1).
    pub fn reverse(self) -> Self {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// What both sides allow: sending only if both allow sending, and likewise receiving.
    /// An answerer's direction is `offer.reverse().intersect(want)` (RFC 3264 §6.1), e.g.
    /// our hold (`SendOnly`) against an offered `SendRecv` gives `SendOnly`, and against an
    /// offered `SendOnly` gives `Inactive` (RFC 6337 §5.3).
    pub fn intersect(self, other: Direction) -> Self {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    /// The same direction without receiving: how we read a peer that gives `c=0.0.0.0`,
    /// the RFC 2543 way to say "send me nothing" (RFC 3264 §8.4).
    pub fn without_receiving(self) -> Self {
        Direction::from_flags(self.sends(), false)
    }

    /// The attribute name (`a=sendrecv` ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Reads a direction attribute name; attribute names are case-sensitive in RFC 4566,
    /// but some stacks capitalise them, so this one is not.
    pub fn from_attribute(name: &str) -> Option<Self> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Direction::{self, *};

    #[test]
    fn reverse_swaps_send_and_receive() {
        assert_eq!(SendOnly.reverse(), RecvOnly);
        assert_eq!(RecvOnly.reverse(), SendOnly);
        assert_eq!(SendRecv.reverse(), SendRecv);
        assert_eq!(Inactive.reverse(), Inactive);
    }

    /// RFC 3264 §6.1's table of permitted answers, with an answerer that wants everything.
    #[test]
    fn answer_directions() {
        let answer = |offer: Direction, want: Direction| offer.reverse().intersect(want);
        assert_eq!(answer(SendRecv, SendRecv), SendRecv);
        assert_eq!(answer(SendOnly, SendRecv), RecvOnly);
        assert_eq!(answer(RecvOnly, SendRecv), SendOnly);
        assert_eq!(answer(Inactive, SendRecv), Inactive);
        assert_eq!(answer(SendRecv, SendOnly), SendOnly);
        assert_eq!(answer(SendOnly, SendOnly), Inactive);
        assert_eq!(answer(RecvOnly, Inactive), Inactive);
    }

    #[test]
    fn attributes() {
        assert_eq!(Direction::from_attribute("SendOnly"), Some(SendOnly));
        assert_eq!(Direction::from_attribute("ptime"), None);
        assert_eq!(SendRecv.without_receiving(), SendOnly);
        assert_eq!(RecvOnly.without_receiving(), Inactive);
        assert_eq!(Inactive.to_string(), "inactive");
    }
}
