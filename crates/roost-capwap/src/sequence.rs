//! The 8-bit control sequence number and the RFC 5415 4.5.3 rules around it.
//!
//! Each side has one request outstanding at a time. A responder remembers the sequence
//! number of the last request it processed and caches its response: a request with the same
//! number is a retransmission (resend the cached response, do not reprocess), an older one
//! is ignored, a newer one is processed. "Older" is the RFC's modulo-256 comparison: s1 is
//! smaller than s2 iff (s1 < s2 and s2 − s1 < 128) or (s1 > s2 and s1 − s2 > 128). Numbers
//! exactly 128 apart are neither smaller nor larger than each other.

/// A control sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sequence(pub u8);

/// What to do with a received request, given the last one processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOrder {
    /// Newer than the last: process it.
    New,
    /// The same number: resend the cached response without reprocessing.
    Retransmission,
    /// Older (or exactly 128 away, which the RFC does not call newer): ignore it.
    Stale,
}

impl Sequence {
    /// The number to use for the next request (wraps 255 → 0).
    pub fn next(self) -> Sequence {
        Sequence(self.0.wrapping_add(1))
    }

    /// The RFC's modulo-256 "s1 is smaller than s2".
    pub fn is_smaller_than(self, other: Sequence) -> bool {
        let (s1, s2) = (self.0, other.0);
        (s1 < s2 && s2 - s1 < 128) || (s1 > s2 && s1 - s2 > 128)
    }

    /// Whether `self` is newer (larger modulo 256) than `last`.
    pub fn is_newer_than(self, last: Sequence) -> bool {
        last.is_smaller_than(self)
    }

    /// Classifies a received request's number against the last processed one (`None` before
    /// the first request of a session, when anything is new).
    pub fn classify(self, last: Option<Sequence>) -> RequestOrder {
        match last {
            None => RequestOrder::New,
            Some(last) if last == self => RequestOrder::Retransmission,
            Some(last) if self.is_newer_than(last) => RequestOrder::New,
            Some(_) => RequestOrder::Stale,
        }
    }
}

impl From<u8> for Sequence {
    fn from(v: u8) -> Sequence {
        Sequence(v)
    }
}

impl From<Sequence> for u8 {
    fn from(s: Sequence) -> u8 {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        let s = Sequence;
        assert!(s(1).is_smaller_than(s(2)));
        assert!(!s(2).is_smaller_than(s(1)));
        // Wrap-around: 250 is smaller than 3.
        assert!(s(250).is_smaller_than(s(3)));
        assert!(s(3).is_newer_than(s(250)));
        assert!(!s(3).is_smaller_than(s(250)));
        // 127 apart is still ordered, 128 apart is not.
        assert!(s(0).is_smaller_than(s(127)));
        assert!(!s(0).is_smaller_than(s(128)));
        assert!(!s(128).is_smaller_than(s(0)));
        assert!(s(129).is_smaller_than(s(0)));
        // Equal is neither.
        assert!(!s(7).is_smaller_than(s(7)));
    }

    #[test]
    fn classify() {
        let s = Sequence;
        assert_eq!(s(9).classify(None), RequestOrder::New);
        assert_eq!(s(9).classify(Some(s(9))), RequestOrder::Retransmission);
        assert_eq!(s(10).classify(Some(s(9))), RequestOrder::New);
        assert_eq!(s(0).classify(Some(s(255))), RequestOrder::New);
        assert_eq!(s(8).classify(Some(s(9))), RequestOrder::Stale);
        assert_eq!(s(137).classify(Some(s(9))), RequestOrder::Stale);
        assert_eq!(Sequence(255).next(), Sequence(0));
    }

    #[test]
    fn exactly_one_order_unless_equal_or_opposite() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let (x, y) = (Sequence(a), Sequence(b));
                let both = x.is_smaller_than(y) && y.is_smaller_than(x);
                assert!(!both, "{a} {b}");
                let neither = !x.is_smaller_than(y) && !y.is_smaller_than(x);
                assert_eq!(neither, a == b || a.abs_diff(b) == 128, "{a} {b}");
            }
        }
    }
}
