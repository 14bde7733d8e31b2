//! Sealed datagrams for the member channel (UDP 24576).
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! magic "RST1" | protocol version u8 | sender MemberId u32 | boot u32 | seq u32 | ciphertext+tag
//! ```
//!
//! The 12-byte nonce is `sender | boot | seq`; the clear header is authenticated as associated
//! data. `boot` is persisted and bumped at every start, so a nonce is never reused under one key.
//! The key is the cluster key handed out by join-cluster: a datagram from anyone without it fails
//! authentication. [`ReplayWindow`] rejects replays (per sender: newest boot, 64-seq window).

use crate::{MemberId, MemberMessage, WireError};

/// Bytes of clear header.
pub const HEADER_LEN: usize = 17;
/// Header plus AEAD tag.
pub const OVERHEAD: usize = HEADER_LEN + 16;
/// Largest datagram sent or accepted.
pub const MAX_DATAGRAM: usize = crate::member::MAX_MESSAGE + OVERHEAD;
pub const MAGIC: [u8; 4] = *b"RST1";

/// 256-bit symmetric cluster key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterKey(pub [u8; 32]);

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterKey(..)")
    }
}

/// The clear part of a datagram.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub sender: MemberId,
    pub boot: u32,
    pub seq: u32,
}

/// Seals `msg` from `header.sender` into one datagram.
pub fn seal(key: &ClusterKey, header: FrameHeader, msg: &MemberMessage) -> Result<Vec<u8>, WireError> {
    let _ = (key, header, msg);
    todo!("frame::seal")
}

/// Authenticates and decodes a datagram. Does not check replay: feed the header to the
/// sender's [`ReplayWindow`] after this succeeds.
pub fn open(key: &ClusterKey, datagram: &[u8]) -> Result<(FrameHeader, MemberMessage), WireError> {
    let _ = (key, datagram);
    todo!("frame::open")
}

/// Per-sender replay protection: accepts each (boot, seq) at most once, rejects older boots and
/// seqs more than 64 behind the newest seen.
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    _private: (),
}

impl ReplayWindow {
    /// Records `header` and returns Ok if it was never seen and is not too old.
    pub fn check_and_record(&mut self, header: &FrameHeader) -> Result<(), WireError> {
        let _ = header;
        todo!("ReplayWindow")
    }
}
