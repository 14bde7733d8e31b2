//! Member protocol messages (carried sealed in datagrams on UDP 24576, see [`crate::frame`]).
//!
//! One channel carries every kind of cluster state: hellos (liveness, election inputs, pooled
//! licence counts, recent history) and config replication. Later features (adopted-AP table,
//! DHCP leases) arrive as new variants of [`MemberMessage`], not as new protocols.

use crate::{ClusterMode, Mac, MemberId, Model, OperState, WireError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest encoded message we accept; a sealed datagram adds [`crate::frame::OVERHEAD`].
pub const MAX_MESSAGE: usize = 60 * 1024;

/// Identifies one committed configuration revision. `hash` chains the revision to its parent
/// (sha256 of parent hash, number and change), so two partitions that both committed "revision 7"
/// are told apart and neither is silently lost.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RevisionId {
    pub number: u64,
    pub hash: [u8; 32],
}

impl RevisionId {
    /// The empty configuration every new member starts from.
    pub const ZERO: RevisionId = RevisionId {
        number: 0,
        hash: [0; 32],
    };

    /// Short form for logs and `show` output: `23/1a2b3c4d`.
    pub fn short(&self) -> String {
        format!("{}/{}", self.number, hex::encode(&self.hash[..4]))
    }
}

/// [`RevisionId::ZERO`]: the empty configuration.
impl Default for RevisionId {
    fn default() -> Self {
        RevisionId::ZERO
    }
}

impl fmt::Display for RevisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

/// One committed change. `change` is opaque to the replication core: the config engine's
/// text form of the commands that were committed (applied with `ConfigState::apply`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub id: RevisionId,
    pub parent: RevisionId,
    /// Member whose session committed it.
    pub origin: MemberId,
    /// The origin's request id (unique per origin across restarts): lets a new master recognise
    /// a retried commit that the old master had already replicated, so it is not applied twice.
    pub request: u64,
    /// Management user who committed it.
    pub user: String,
    /// Wall-clock commit time, milliseconds since the Unix epoch.
    pub wall_ms: u64,
    pub change: String,
}

/// `show cluster history` event names, exactly as WiNG prints them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClusterEvent {
    StartElection,
    IsActive,
    IsStandby,
    StartConfigSync,
    ConfigUpdateSuccess,
    ConfigUpdateFailed,
    MemberDown,
    ConfigSuperseded,
}

impl ClusterEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterEvent::StartElection => "start-election",
            ClusterEvent::IsActive => "is-active",
            ClusterEvent::IsStandby => "is-standby",
            ClusterEvent::StartConfigSync => "start-config-sync",
            ClusterEvent::ConfigUpdateSuccess => "config-update-success",
            ClusterEvent::ConfigUpdateFailed => "config-update-failed",
            ClusterEvent::MemberDown => "member-down",
            ClusterEvent::ConfigSuperseded => "config-superseded",
        }
    }
}

impl fmt::Display for ClusterEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of `show cluster history`. Every member keeps the union of all members' events
/// (they travel in hellos), so the history reads the same on every member, as in the seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub member: MemberId,
    /// Hostname of the member when the event happened.
    pub hostname: String,
    /// Per-member sequence number (with `member`, the event's identity for de-duplication).
    pub seq: u64,
    pub event: ClusterEvent,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub wall_ms: u64,
    pub reason: String,
}

/// Licence and AP counters a member contributes to the cluster pool.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceCounts {
    pub ap_licenses: u32,
    pub aap_licenses: u32,
    pub ap_count: u32,
    pub aap_count: u32,
    /// Advanced-security licence: per member, never pooled.
    pub adsec: bool,
}

/// Sent by every member to every peer each hello interval. Carries everything the election
/// needs, so a master is agreed on from hellos alone, without separate election rounds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub member: MemberId,
    pub mac: Mac,
    pub hostname: String,
    pub model: Model,
    pub software_version: String,
    /// Incremented by the sender at every start (also part of the datagram nonce).
    pub boot: u32,
    pub cluster_name: String,
    pub master_priority: u8,
    pub configured_mode: ClusterMode,
    pub oper_state: OperState,
    /// The sender currently acts as master (config authority).
    pub is_master: bool,
    /// Whom the sender follows as master, if anyone.
    pub master: Option<MemberId>,
    pub force_configured_state: bool,
    /// The sender's newest applied configuration revision.
    pub config_head: RevisionId,
    pub licences: LicenceCounts,
    /// The sender's most recent history events (bounded), merged by receivers.
    pub history: Vec<HistoryEvent>,
}

/// A configuration the cluster moved away from after a partition healed. Kept so an operator
/// can see it and restore it (`show cluster revisions`, `cluster restore-revision`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupersededConfig {
    /// The head revision the losing side had reached.
    pub head: RevisionId,
    /// Member that held it when it was superseded.
    pub holder: MemberId,
    /// The revisions that never made it into the winning lineage (oldest first), as far as
    /// the holder still had them in full; older ones (known to it only by lineage id) are
    /// included in `config` without being listed.
    pub revisions: Vec<Revision>,
    /// The complete configuration text at `head`, so it can be restored as is.
    pub config: String,
    /// When it was superseded (wall clock, ms since the Unix epoch).
    pub superseded_wall_ms: u64,
}

impl SupersededConfig {
    /// Compact binary encoding (postcard), the payload of `SupersededChunk`s.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("encoding to a Vec cannot fail")
    }

    /// Decodes [`SupersededConfig::encode`]'s form; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<SupersededConfig, WireError> {
        let (sc, rest) = postcard::take_from_bytes::<SupersededConfig>(bytes)
            .map_err(|e| WireError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(WireError::Malformed(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        Ok(sc)
    }
}

/// Configuration replication between members and the master.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicationMessage {
    /// Member to master: please commit `change` (made by `user` on the sender).
    CommitRequest {
        request: u64,
        user: String,
        change: String,
    },
    /// Master to member: outcome of a `CommitRequest`.
    CommitResult {
        request: u64,
        result: Result<RevisionId, String>,
    },
    /// Master to member: the revisions that follow `after`, in order.
    Revisions {
        after: RevisionId,
        revisions: Vec<Revision>,
    },
    /// Master to member: one piece of a full configuration transfer (on join, rejoin, or when
    /// the member's head is not in the master's lineage). `lineage` lists the revision ids the
    /// master's configuration descends from (newest last, bounded), so the member can tell
    /// whether its own head is an ancestor or a diverged branch to be superseded. `requests`
    /// names the (origin, request) that produced recent lineage revisions (bounded), so that
    /// the member, should it become master, still recognises a retried commit it only ever
    /// saw through this snapshot.
    Snapshot {
        head: RevisionId,
        lineage: Vec<RevisionId>,
        requests: Vec<(RevisionId, MemberId, u64)>,
        total_len: u32,
        offset: u32,
        data: Vec<u8>,
    },
    /// Member to master: I have applied up to `head`.
    Ack { head: RevisionId },
    /// Member to master: one piece of a configuration that lost after a heal, to keep in the
    /// cluster archive. `data` is the bytes `offset..offset + data.len()` of the
    /// [`SupersededConfig::encode`] form (`total_len` bytes in all) of the superseded config
    /// whose head is `head`; a config larger than one datagram takes several chunks.
    SupersededChunk {
        head: RevisionId,
        total_len: u32,
        offset: u32,
        data: Vec<u8>,
    },
    /// Master to member: the superseded config with this head is archived.
    SupersededAck { head: RevisionId },
    /// Master to member: your advertised head is unknown to me and newer than mine; if your
    /// configuration descends from my head `after`, send me what follows it (`Revisions` after
    /// `after`, or a `Snapshot` of yours), so that a lineage which extends the master's is
    /// fast-forwarded rather than superseded.
    Pull { after: RevisionId },
    /// Member to master: my configuration does not descend from `after` (we diverged).
    PullRefused { after: RevisionId },
}

/// Everything that travels on the member channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberMessage {
    Hello(Hello),
    Replication(ReplicationMessage),
}

impl MemberMessage {
    /// Compact binary encoding (postcard).
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("encoding to a Vec cannot fail")
    }

    /// Decodes a message; trailing bytes, unknown variants and oversize input are errors.
    pub fn decode(bytes: &[u8]) -> Result<MemberMessage, WireError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(WireError::TooLong {
                len: bytes.len(),
                max: MAX_MESSAGE,
            });
        }
        let (msg, rest) = postcard::take_from_bytes::<MemberMessage>(bytes)
            .map_err(|e| WireError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(WireError::Malformed(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_id_forms() {
        assert_eq!(RevisionId::default(), RevisionId::ZERO);
        let id = RevisionId {
            number: 23,
            hash: [
                0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        };
        assert_eq!(id.to_string(), "23/1a2b3c4d");
        assert_eq!(
            ClusterEvent::ConfigUpdateSuccess.to_string(),
            "config-update-success"
        );
    }

    #[test]
    fn decode_refuses_oversize_and_trailing() {
        let msg = MemberMessage::Replication(ReplicationMessage::Ack {
            head: RevisionId::ZERO,
        });
        let mut bytes = msg.encode();
        assert_eq!(MemberMessage::decode(&bytes), Ok(msg));
        bytes.push(0);
        assert!(matches!(
            MemberMessage::decode(&bytes),
            Err(WireError::Malformed(_))
        ));
        let huge = vec![0u8; MAX_MESSAGE + 1];
        assert_eq!(
            MemberMessage::decode(&huge),
            Err(WireError::TooLong {
                len: MAX_MESSAGE + 1,
                max: MAX_MESSAGE
            })
        );
        assert!(MemberMessage::decode(&[]).is_err());
        assert!(MemberMessage::decode(&[9]).is_err(), "unknown variant");
    }
}
