//! Roost wire formats.
//!
//! Everything that crosses a socket between Roost processes is defined here, so that the
//! protocol cores, the daemon and the fuzz targets agree on one encoding:
//!
//! * [`ids`]: domain identifiers (`MemberId`, `Mac`, `Model`, …) with their WiNG text forms.
//! * [`member`]: the member protocol messages carried on UDP 24576 (hellos, replication).
//! * [`aps`]: the cluster-wide AP table's messages on the same channel.
//! * [`frame`]: sealing of member messages into authenticated, encrypted, replay-protected
//!   datagrams (ChaCha20-Poly1305 with the cluster key handed out by join-cluster).
//! * [`join`]: the join-cluster request/response exchanged over TLS on TCP 5349.
//!
//! * [`fuzz_bodies`]: what the fuzz targets run, shared with the stable corpus test.
//! * `arbitrary` (feature `arbitrary`): proptest strategies for all of the above.
//!
//! Decoding never panics: malformed or unknown input is a [`WireError`].

// No unsafe code here: what needs a libc call lives in the daemon and the binaries.
#![forbid(unsafe_code)]

pub mod aps;
#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
pub mod frame;
pub mod fuzz_bodies;
pub mod ids;
pub mod join;
pub mod leases;
pub mod limits;
pub mod member;
pub mod pake;
#[cfg(test)]
mod proptests;

pub use aps::{ApRecord, ApTableMessage};
pub use frame::{open, seal, ClusterKey, FrameHeader, ReplayWindow, MAX_DATAGRAM};
pub use ids::*;
pub use leases::{LeaseRecord, LeaseState};
pub use member::*;

/// Version of the member protocol; shown as "Protocol version" in `show cluster status`.
/// A datagram or join request carrying another protocol version is refused.
pub const PROTOCOL_VERSION: u8 = 2;

/// Roost software release. Like WiNG, a cluster only forms between identical releases.
pub const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a byte string was not accepted. Every decoder in this crate returns these, never panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("datagram too short ({len} bytes, need at least {min})")]
    TooShort { len: usize, min: usize },
    #[error("datagram too long ({len} bytes, at most {max})")]
    TooLong { len: usize, max: usize },
    #[error("bad magic {found:02x?}")]
    BadMagic { found: [u8; 4] },
    #[error("protocol version {found} not supported (this is version {expected})")]
    UnsupportedVersion { found: u8, expected: u8 },
    #[error("authentication failed (not a cluster member, or corrupted)")]
    AuthenticationFailed,
    #[error("replayed or too old datagram from {sender} boot {boot} seq {seq}")]
    Replay {
        sender: MemberId,
        boot: u32,
        seq: u32,
    },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("invalid {what}: {value:?}")]
    InvalidText { what: &'static str, value: String },
}
