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

use crate::{MemberId, MemberMessage, WireError, PROTOCOL_VERSION};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

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
///
/// The caller must never reuse a (`sender`, `boot`, `seq`) triple under one key: it is the
/// AEAD nonce. Fails with [`WireError::TooLong`] if the encoded message exceeds
/// [`MAX_MESSAGE`](crate::member::MAX_MESSAGE), so every sealed datagram fits one UDP packet.
pub fn seal(
    key: &ClusterKey,
    header: FrameHeader,
    msg: &MemberMessage,
) -> Result<Vec<u8>, WireError> {
    let plain = msg.encode();
    if plain.len() > crate::member::MAX_MESSAGE {
        return Err(WireError::TooLong {
            len: plain.len(),
            max: crate::member::MAX_MESSAGE,
        });
    }
    let clear = header.to_bytes();
    let mut out = Vec::with_capacity(OVERHEAD + plain.len());
    out.extend_from_slice(&clear);
    out.extend_from_slice(&plain);
    let tag = key
        .cipher()
        .encrypt_in_place_detached(&header.nonce(), &clear, &mut out[HEADER_LEN..])
        // Only fails for plaintexts of ~256 GiB, far above MAX_MESSAGE.
        .map_err(|_| WireError::TooLong {
            len: plain.len(),
            max: crate::member::MAX_MESSAGE,
        })?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Authenticates and decodes a datagram. Does not check replay: feed the header to the
/// sender's [`ReplayWindow`] after this succeeds.
pub fn open(key: &ClusterKey, datagram: &[u8]) -> Result<(FrameHeader, MemberMessage), WireError> {
    if datagram.len() < OVERHEAD {
        return Err(WireError::TooShort {
            len: datagram.len(),
            min: OVERHEAD,
        });
    }
    if datagram.len() > MAX_DATAGRAM {
        return Err(WireError::TooLong {
            len: datagram.len(),
            max: MAX_DATAGRAM,
        });
    }
    let (clear, rest) = datagram.split_at(HEADER_LEN);
    let header = FrameHeader::parse(clear)?;
    let (cipher_text, tag) = rest.split_at(rest.len() - 16);
    let mut plain = cipher_text.to_vec();
    key.cipher()
        .decrypt_in_place_detached(&header.nonce(), clear, &mut plain, Tag::from_slice(tag))
        .map_err(|_| WireError::AuthenticationFailed)?;
    let msg = MemberMessage::decode(&plain)?;
    Ok((header, msg))
}

impl ClusterKey {
    /// Lower-case hex form, as carried in [`JoinAccepted`](crate::join::JoinAccepted) and
    /// stored on disk.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 hex characters. The error does not echo the text, so a slightly
    /// mangled key never ends up in a log.
    pub fn from_hex(text: &str) -> Result<ClusterKey, WireError> {
        let bad = || WireError::InvalidText {
            what: "cluster key",
            value: format!("<{} characters>", text.len()),
        };
        if text.len() != 64 {
            return Err(bad());
        }
        let mut key = [0u8; 32];
        hex::decode_to_slice(text, &mut key).map_err(|_| bad())?;
        Ok(ClusterKey(key))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
    }
}

impl FrameHeader {
    /// The 17 clear bytes: magic, protocol version, sender, boot, seq.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..4].copy_from_slice(&MAGIC);
        b[4] = PROTOCOL_VERSION;
        b[5..9].copy_from_slice(&self.sender.0.to_be_bytes());
        b[9..13].copy_from_slice(&self.boot.to_be_bytes());
        b[13..17].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    /// Parses the clear header (unauthenticated: trust it only after [`open`] succeeded).
    pub fn parse(clear: &[u8]) -> Result<FrameHeader, WireError> {
        let Some(clear) = clear.get(..HEADER_LEN) else {
            return Err(WireError::TooShort {
                len: clear.len(),
                min: HEADER_LEN,
            });
        };
        let mut magic = [0u8; 4];
        magic.copy_from_slice(&clear[..4]);
        if magic != MAGIC {
            return Err(WireError::BadMagic { found: magic });
        }
        if clear[4] != PROTOCOL_VERSION {
            return Err(WireError::UnsupportedVersion {
                found: clear[4],
                expected: PROTOCOL_VERSION,
            });
        }
        let word =
            |i: usize| u32::from_be_bytes([clear[i], clear[i + 1], clear[i + 2], clear[i + 3]]);
        Ok(FrameHeader {
            sender: MemberId(word(5)),
            boot: word(9),
            seq: word(13),
        })
    }

    /// The AEAD nonce: `sender | boot | seq`, unique as long as `boot` is bumped every start.
    fn nonce(&self) -> Nonce {
        let b = self.to_bytes();
        *Nonce::from_slice(&b[5..17])
    }
}

/// Width of the sliding window: seqs this far behind the newest are refused outright.
const WINDOW: u32 = 64;

/// Per-sender replay protection: accepts each (boot, seq) at most once, rejects older boots and
/// seqs more than 63 behind the newest seen (the IPsec anti-replay window, RFC 4303 §3.4.3).
///
/// Keep one per sender id and call [`check_and_record`](Self::check_and_record) only after
/// [`open`] succeeded, so forged headers cannot advance the window.
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    /// `None` until the first datagram from this sender.
    state: Option<WindowState>,
}

#[derive(Copy, Clone, Debug)]
struct WindowState {
    boot: u32,
    /// Highest seq accepted in `boot`.
    top: u32,
    /// Bit `i` set: seq `top - i` was accepted.
    seen: u64,
}

impl ReplayWindow {
    pub fn new() -> ReplayWindow {
        ReplayWindow::default()
    }

    /// Newest boot accepted from this sender, if any datagram was accepted yet.
    pub fn boot(&self) -> Option<u32> {
        self.state.map(|s| s.boot)
    }

    /// Records `header` and returns Ok if it was never seen and is not too old.
    pub fn check_and_record(&mut self, header: &FrameHeader) -> Result<(), WireError> {
        let replay = || WireError::Replay {
            sender: header.sender,
            boot: header.boot,
            seq: header.seq,
        };
        let fresh = WindowState {
            boot: header.boot,
            top: header.seq,
            seen: 1,
        };
        let state = match &mut self.state {
            None => {
                self.state = Some(fresh);
                return Ok(());
            }
            Some(s) => s,
        };
        if header.boot < state.boot {
            return Err(replay());
        }
        if header.boot > state.boot {
            // The sender restarted: its seqs start over.
            *state = fresh;
            return Ok(());
        }
        if header.seq > state.top {
            let shift = header.seq - state.top;
            state.seen = if shift >= WINDOW {
                0
            } else {
                state.seen << shift
            };
            state.seen |= 1;
            state.top = header.seq;
            return Ok(());
        }
        let behind = state.top - header.seq;
        if behind >= WINDOW || state.seen & (1 << behind) != 0 {
            return Err(replay());
        }
        state.seen |= 1 << behind;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ReplicationMessage, RevisionId};

    const KEY: ClusterKey = ClusterKey([7; 32]);
    const HDR: FrameHeader = FrameHeader {
        sender: MemberId(0x123AA117),
        boot: 3,
        seq: 42,
    };

    fn msg() -> MemberMessage {
        MemberMessage::Replication(ReplicationMessage::CommitRequest {
            request: 9,
            user: "admin".into(),
            change: "rf-domain default\n location here\n".into(),
        })
    }

    fn hdr(boot: u32, seq: u32) -> FrameHeader {
        FrameHeader {
            sender: MemberId(1),
            boot,
            seq,
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let d = seal(&KEY, HDR, &msg()).unwrap();
        assert_eq!(&d[..4], b"RST1");
        assert_eq!(d[4], PROTOCOL_VERSION);
        assert_eq!(&d[5..9], &0x123AA117u32.to_be_bytes());
        assert_eq!(&d[9..13], &3u32.to_be_bytes());
        assert_eq!(&d[13..17], &42u32.to_be_bytes());
        assert_eq!(d.len(), OVERHEAD + msg().encode().len());
        assert_eq!(open(&KEY, &d).unwrap(), (HDR, msg()));
    }

    #[test]
    fn wrong_key_fails_authentication() {
        let d = seal(&KEY, HDR, &msg()).unwrap();
        assert_eq!(
            open(&ClusterKey([8; 32]), &d),
            Err(WireError::AuthenticationFailed)
        );
    }

    #[test]
    fn every_bit_flip_is_rejected() {
        let d = seal(&KEY, HDR, &msg()).unwrap();
        for i in 0..d.len() * 8 {
            let mut x = d.clone();
            x[i / 8] ^= 1 << (i % 8);
            assert!(open(&KEY, &x).is_err(), "bit {i} flipped was accepted");
        }
    }

    #[test]
    fn truncation_and_extension_rejected() {
        let d = seal(&KEY, HDR, &msg()).unwrap();
        for n in 0..d.len() {
            assert!(open(&KEY, &d[..n]).is_err(), "truncated to {n}");
        }
        assert_eq!(
            open(&KEY, &d[..10]),
            Err(WireError::TooShort {
                len: 10,
                min: OVERHEAD
            })
        );
        let mut longer = d.clone();
        longer.push(0);
        assert_eq!(open(&KEY, &longer), Err(WireError::AuthenticationFailed));
        let huge = vec![0u8; MAX_DATAGRAM + 1];
        assert_eq!(
            open(&KEY, &huge),
            Err(WireError::TooLong {
                len: MAX_DATAGRAM + 1,
                max: MAX_DATAGRAM
            })
        );
    }

    #[test]
    fn wrong_version_and_magic_rejected() {
        let mut d = seal(&KEY, HDR, &msg()).unwrap();
        d[4] = PROTOCOL_VERSION + 1;
        assert_eq!(
            open(&KEY, &d),
            Err(WireError::UnsupportedVersion {
                found: PROTOCOL_VERSION + 1,
                expected: PROTOCOL_VERSION
            })
        );
        let mut d = seal(&KEY, HDR, &msg()).unwrap();
        d[0] = b'X';
        assert_eq!(open(&KEY, &d), Err(WireError::BadMagic { found: *b"XST1" }));
    }

    #[test]
    fn oversize_message_not_sealed() {
        let big = MemberMessage::Replication(ReplicationMessage::Snapshot {
            head: RevisionId::ZERO,
            lineage: vec![],
            requests: vec![],
            total_len: 0,
            offset: 0,
            data: vec![0; crate::member::MAX_MESSAGE],
        });
        assert!(matches!(
            seal(&KEY, HDR, &big),
            Err(WireError::TooLong { .. })
        ));
        // The largest message that fits makes the largest datagram, which opens.
        let overhead = big.encode().len() - crate::member::MAX_MESSAGE;
        let fits = MemberMessage::Replication(ReplicationMessage::Snapshot {
            head: RevisionId::ZERO,
            lineage: vec![],
            requests: vec![],
            total_len: 0,
            offset: 0,
            data: vec![0; crate::member::MAX_MESSAGE - overhead],
        });
        let d = seal(&KEY, HDR, &fits).unwrap();
        assert_eq!(d.len(), MAX_DATAGRAM);
        assert_eq!(open(&KEY, &d).unwrap().1, fits);
    }

    #[test]
    fn authenticated_data_covers_header() {
        // Moving the ciphertext under another header (another seq) must fail.
        let d = seal(&KEY, HDR, &msg()).unwrap();
        let mut x = d.clone();
        x[13..17].copy_from_slice(&43u32.to_be_bytes());
        assert_eq!(open(&KEY, &x), Err(WireError::AuthenticationFailed));
    }

    #[test]
    fn cluster_key_hex() {
        let k = ClusterKey(core::array::from_fn(|i| (i as u8).wrapping_mul(9)));
        let h = k.to_hex();
        assert_eq!(h.len(), 64);
        assert_eq!(ClusterKey::from_hex(&h).unwrap(), k);
        assert_eq!(ClusterKey::from_hex(&h.to_uppercase()).unwrap(), k);
        assert!(ClusterKey::from_hex(&h[..62]).is_err());
        assert!(ClusterKey::from_hex(&format!("{h}00")).is_err());
        assert!(ClusterKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(ClusterKey::from_hex(&"é".repeat(32)).is_err());
        // The error must not echo key material.
        let err = ClusterKey::from_hex(&h[..63]).unwrap_err().to_string();
        assert!(!err.contains(&h[..8]), "{err}");
        assert_eq!(format!("{k:?}"), "ClusterKey(..)");
    }

    #[test]
    fn replay_duplicate_rejected() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.check_and_record(&hdr(1, 5)), Ok(()));
        assert_eq!(
            w.check_and_record(&hdr(1, 5)),
            Err(WireError::Replay {
                sender: MemberId(1),
                boot: 1,
                seq: 5
            })
        );
        assert_eq!(w.check_and_record(&hdr(1, 6)), Ok(()));
        assert!(w.check_and_record(&hdr(1, 6)).is_err());
        assert!(w.check_and_record(&hdr(1, 5)).is_err());
    }

    #[test]
    fn replay_old_boot_rejected_new_boot_resets() {
        let mut w = ReplayWindow::new();
        w.check_and_record(&hdr(5, 1000)).unwrap();
        assert!(w.check_and_record(&hdr(4, 2000)).is_err());
        // A restart (new boot) starts seqs over.
        assert_eq!(w.check_and_record(&hdr(6, 0)), Ok(()));
        assert_eq!(w.boot(), Some(6));
        assert_eq!(w.check_and_record(&hdr(6, 1)), Ok(()));
        assert!(w.check_and_record(&hdr(6, 0)).is_err());
        assert!(w.check_and_record(&hdr(5, 1001)).is_err());
    }

    #[test]
    fn replay_out_of_order_within_window_accepted_once() {
        let mut w = ReplayWindow::new();
        w.check_and_record(&hdr(1, 100)).unwrap();
        for seq in [99, 37, 90, 70, 98] {
            assert_eq!(w.check_and_record(&hdr(1, seq)), Ok(()), "{seq}");
            assert!(w.check_and_record(&hdr(1, seq)).is_err(), "{seq} twice");
        }
        // 100 - 63 = 37 is the oldest still inside; 36 is too old.
        assert!(w.check_and_record(&hdr(1, 36)).is_err());
        assert!(w.check_and_record(&hdr(1, 0)).is_err());
        // Advancing keeps what was seen inside the window.
        w.check_and_record(&hdr(1, 110)).unwrap();
        assert!(w.check_and_record(&hdr(1, 99)).is_err());
        assert_eq!(w.check_and_record(&hdr(1, 101)), Ok(()));
        assert!(w.check_and_record(&hdr(1, 46)).is_err(), "now 64 behind");
        assert_eq!(w.check_and_record(&hdr(1, 47)), Ok(()));
    }

    #[test]
    fn replay_big_jump_clears_window() {
        let mut w = ReplayWindow::new();
        w.check_and_record(&hdr(1, 1)).unwrap();
        w.check_and_record(&hdr(1, 1000)).unwrap();
        assert!(w.check_and_record(&hdr(1, 1)).is_err());
        assert_eq!(w.check_and_record(&hdr(1, 999)), Ok(()));
        w.check_and_record(&hdr(1, u32::MAX)).unwrap();
        assert!(w.check_and_record(&hdr(1, u32::MAX)).is_err());
        assert_eq!(w.check_and_record(&hdr(1, u32::MAX - 63)), Ok(()));
        assert!(w.check_and_record(&hdr(1, u32::MAX - 64)).is_err());
    }

    #[test]
    fn replay_window_exhaustive_against_model() {
        // Compare with a naive set-based model on a deterministic pseudo-random sequence.
        let mut w = ReplayWindow::new();
        let mut seen = std::collections::HashSet::new();
        let mut top: Option<u32> = None;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let base = top.unwrap_or(0);
            let seq = (base as i64 + (x % 100) as i64 - 70).max(0) as u32;
            let fresh = match top {
                None => true,
                Some(t) => seq > t || (t - seq < 64 && !seen.contains(&seq)),
            };
            assert_eq!(
                w.check_and_record(&hdr(1, seq)).is_ok(),
                fresh,
                "seq {seq} top {top:?}"
            );
            if fresh {
                seen.insert(seq);
                top = Some(top.map_or(seq, |t| t.max(seq)));
            }
        }
    }
}
