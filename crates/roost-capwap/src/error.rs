//! The one error type of this crate.
//!
//! Every decoder returns a [`CapwapError`] instead of panicking, and every encoder refuses a
//! value it could not decode again (a name too long for its length field, a 6-bit radio ID),
//! so `decode(encode(x)) == x` holds for whatever `encode` accepts.

use std::fmt;

/// Why bytes were not accepted as CAPWAP, or a value could not be encoded.
///
/// The Display text is one line meant for a log or an operator: it names the element or
/// field and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapwapError {
    #[error("{what} truncated: need {need} bytes, only {have} left")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("CAPWAP version {0} is not supported (only version 0 exists)")]
    UnsupportedVersion(u8),
    #[error("packet is DTLS-encrypted (preamble type 1); DTLS is not implemented yet, only plaintext lab mode")]
    DtlsNotSupported,
    #[error("unknown CAPWAP preamble payload type {0} (0 = CAPWAP header, 1 = DTLS)")]
    UnknownPayloadType(u8),
    #[error("CAPWAP header length {hlen} words is below the minimum of 2 (8 bytes)")]
    HeaderTooShort { hlen: u8 },
    #[error("CAPWAP header length says {declared} bytes but its fields take {actual} bytes")]
    HeaderLengthMismatch { declared: usize, actual: usize },
    #[error("{what}: MAC address length {len} is neither 6 (EUI-48) nor 8 (EUI-64)")]
    BadMacLength { what: &'static str, len: usize },
    #[error(
        "packet is a fragment (fragment id {id}, offset {offset}); reassembly is not implemented"
    )]
    Fragmented { id: u16, offset: u16 },
    #[error("expected a control packet but the K (data keep-alive) flag is set")]
    UnexpectedKeepAlive,
    #[error("the K flag must be set on a data keep-alive and only there")]
    KeepAliveFlagMismatch,
    #[error("Message Element Length {declared} disagrees with the {actual} bytes that follow")]
    MessageLengthMismatch { declared: usize, actual: usize },
    #[error("message element type {element_type} claims {len} bytes but only {remaining} remain")]
    ElementOverrun {
        element_type: u16,
        len: usize,
        remaining: usize,
    },
    #[error("{element}: length {len} is invalid, expected {expected}")]
    BadElementLength {
        element: &'static str,
        len: usize,
        expected: Expected,
    },
    #[error("{element}: text is not valid UTF-8")]
    InvalidUtf8 { element: &'static str },
    #[error("{what} is {len} bytes long, more than the allowed {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} value {value} is out of range (at most {max})")]
    OutOfRange {
        what: &'static str,
        value: u64,
        max: u64,
    },
    #[error("{message} lacks mandatory element: {element}")]
    MissingElement {
        message: &'static str,
        element: &'static str,
    },
    #[error("{message} carries {element} more than once")]
    DuplicateElement {
        message: &'static str,
        element: &'static str,
    },
    #[error("{element} lacks mandatory sub-element {sub_element}")]
    MissingSubElement {
        element: &'static str,
        sub_element: &'static str,
    },
    #[error("{element} carries sub-element {sub_element} more than once")]
    DuplicateSubElement {
        element: &'static str,
        sub_element: &'static str,
    },
    #[error("{element}: {reason}")]
    InvalidElement {
        element: &'static str,
        reason: &'static str,
    },
}

/// The length an element or field should have had, for [`CapwapError::BadElementLength`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    Exactly(usize),
    AtLeast(usize),
    /// A non-zero multiple of this many bytes (address lists).
    MultipleOf(usize),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Exactly(n) => write!(f, "exactly {n}"),
            Expected::AtLeast(n) => write!(f, "at least {n}"),
            Expected::MultipleOf(n) => write!(f, "a non-zero multiple of {n}"),
        }
    }
}
