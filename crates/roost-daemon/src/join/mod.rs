//! join-cluster (WiNG's "CS server (cluster join)"), over TLS on TCP 5349.
//!
//! The password is checked with OPAQUE ([`roost_wire::pake`], messages in
//! [`roost_wire::join`]): the joiner sends KE1, the primary answers KE2 from the user's
//! registration record, and only if KE2 proves the primary holds that record does the joiner
//! send KE3 and its `JoinRequest`, sealed under the session key. The primary then decides with
//! [`admission::admit`] (a pure function: the seed's troubleshooting list, version, model, MiNT
//! level, cluster VLAN links) and refuses with one clear line ([`JoinRefusal`]) and no change,
//! or commits the joiner's device section and the `cluster member ip` links through the master
//! and answers, sealed, with the cluster key and the full configuration. After that the joiner
//! talks to the cluster on UDP 24576 only.
//!
//! * [`admission`]: the decision, no I/O.
//! * [`server`]: the primary's side (TLS, OPAQUE, backoff, the commit).
//! * [`client`]: the joiner's side, run from a CLI session.

pub mod admission;
pub mod client;
pub mod server;

pub use admission::JoinRefusal;
pub use client::join_cluster;
pub use server::{serve, Backoff, MAX_HANDSHAKES};

use roost_wire::join::{decode_json, encode_json};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long one join exchange may take, either side.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one length-prefixed message of at most `max` bytes (refused before allocating).
pub(crate) async fn read_msg<T: for<'de> serde::Deserialize<'de>, S: AsyncRead + Unpin>(
    s: &mut S,
    max: usize,
) -> Result<T, String> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix)
        .await
        .map_err(|e| format!("read: {e}"))?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(format!("message of {len} bytes (at most {max} allowed)"));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)
        .await
        .map_err(|e| format!("read: {e}"))?;
    decode_json(&body).map_err(|e| e.to_string())
}

pub(crate) async fn write_msg<T: serde::Serialize, S: AsyncWrite + Unpin>(
    s: &mut S,
    msg: &T,
) -> Result<(), String> {
    s.write_all(&encode_json(msg))
        .await
        .map_err(|e| format!("write: {e}"))?;
    s.flush().await.map_err(|e| format!("write: {e}"))
}
