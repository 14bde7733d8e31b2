//! The cluster-wide AP table on the member channel: which member adopts which AP.
//!
//! Replicated state, not configuration: every member owns the rows of the APs it adopts and
//! is the only one that writes them. It sends its changes as versioned deltas (one version
//! per batch, numbered within the sender's boot, its `epoch`), a digest every second so that a
//! receiver that missed a delta notices, and on request (`Pull`) its whole table in chunks.
//! There is no log to replay: a receiver that is behind asks for a full copy.

use crate::{Mac, MemberId};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// One adopted AP, as the member that adopts it describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApRecord {
    pub mac: Mac,
    pub hostname: String,
    pub model: String,
    pub serial: String,
    pub ip: Ipv4Addr,
    /// Its CAPWAP control port (the source port of its Join).
    pub port: u16,
    /// The Session ID of its Join: a member that sees this row's owner die tells the AP so
    /// with it (`roost_capwap::vendor::LostSession`), and the AP checks it against its own.
    pub session_id: [u8; 16],
    /// It takes a thin-AP license (else an AAP license).
    pub thin: bool,
    /// When this member adopted it (ms since the Unix epoch, the owner's clock): the later
    /// claim wins when two members claim one AP (see `roost_adoption::directory`).
    pub since_ms: u64,
    /// The AP profile its adoption mapped it to, empty for its model's default: a member it
    /// fails over or moves to keeps that mapping (the auto-provisioning policy's first
    /// mapping; `roost_adoption::policy`).
    pub profile: String,
}

/// What a member says about its own rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApTableMessage {
    /// The changes that take the sender's table from version `from` to `to` (= `from` + 1).
    Delta {
        epoch: u32,
        from: u64,
        to: u64,
        upserts: Vec<ApRecord>,
        removed: Vec<Mac>,
    },
    /// The sender's table is at `version` with `rows` rows.
    Digest { epoch: u32, version: u64, rows: u32 },
    /// Send me your whole table.
    Pull,
    /// My copy of your table (boot `epoch`) is at `version`: the owner frees the license of
    /// an AP it released only once every member has acknowledged the release.
    Ack { epoch: u32, version: u64 },
    /// Chunk `index` of `count` of the sender's whole table at `version`.
    Chunk {
        epoch: u32,
        version: u64,
        index: u32,
        count: u32,
        rows: Vec<ApRecord>,
    },
}

impl ApRecord {
    /// A bound on its encoded size, for chunking below [`crate::member::MAX_MESSAGE`].
    pub fn encoded_bound(&self) -> usize {
        6 + 4
            + 3
            + 16
            + 1
            + 10
            + 4 * 5
            + self.hostname.len()
            + self.model.len()
            + self.serial.len()
            + self.profile.len()
    }
}

/// Who said it: what the member task hands the adoption thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApTableFrom {
    pub from: MemberId,
    pub msg: ApTableMessage,
}
