//! Member protocol messages (carried sealed in datagrams on UDP 24576, see [`crate::frame`]).
//!
//! One channel carries every kind of cluster state: hellos (liveness, election inputs, pooled
//! license counts, recent history) and config replication. Later features (adopted-AP table,
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

pub use crate::limits::{HISTORY_CAPACITY, LOG_CAPACITY};

/// Which origin's request produced a revision: what exactly-once de-duplication looks up.
/// Snapshots carry these for recent lineage revisions (the receiver may never hold the
/// revisions themselves), and members persist them. Encoded as the tuple
/// `(revision, origin, request)`, on the wire and in the store alike.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    from = "(RevisionId, MemberId, u64)",
    into = "(RevisionId, MemberId, u64)"
)]
pub struct RequestRecord {
    pub revision: RevisionId,
    /// Member whose session committed it.
    pub origin: MemberId,
    /// The origin's request id.
    pub request: u64,
}

impl From<(RevisionId, MemberId, u64)> for RequestRecord {
    fn from((revision, origin, request): (RevisionId, MemberId, u64)) -> Self {
        RequestRecord {
            revision,
            origin,
            request,
        }
    }
}

impl From<RequestRecord> for (RevisionId, MemberId, u64) {
    fn from(r: RequestRecord) -> Self {
        (r.revision, r.origin, r.request)
    }
}

/// Why a commit failed. It travels in `CommitResult` from the master to the requester, and
/// reaches the session as its one error line (`Display`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// The change does not apply to the configuration (the config engine's own line).
    #[error("{0}")]
    Rejected(String),
    /// Asked a member that is not (or no longer) the master: the requester retries until its
    /// commit timeout, since the election is still converging.
    #[error("not the cluster master; master is {}", master_name(master))]
    NotMaster { master: Option<MemberId> },
    /// The revision could not be saved (e.g. "no space left on device"): it was undone.
    #[error("cannot save revision: {reason}")]
    CannotSave { reason: String },
    /// The master did not answer within the commit timeout.
    #[error("cluster master {master} did not answer")]
    MasterSilent { master: MemberId },
    /// No master was elected within the commit timeout.
    #[error("no cluster master elected yet")]
    NoMaster,
    /// This member is master but held commits (a fast-forward or a stall's resume hold) for
    /// the whole commit timeout.
    #[error("the cluster master (this member) is still resynchronising with its peers")]
    Resynchronising,
    /// This member was master, created the revision, and was paused (SIGSTOP, a VM pause)
    /// before it had saved and sent it, long enough for its peers to elect another master:
    /// the cluster went on without the revision, so the commit is not confirmed.
    #[error(
        "commit not confirmed: this controller was paused before it could save and send it, and \
         the cluster went on without it (master is {}); check the running configuration and \
         commit again",
        master_name(master)
    )]
    Unconfirmed { master: Option<MemberId> },
}

impl CommitError {
    /// Whether the requester keeps retrying (until its commit timeout) rather than giving up.
    pub fn retryable(&self) -> bool {
        matches!(self, CommitError::NotMaster { .. })
    }
}

fn master_name(master: &Option<MemberId>) -> String {
    master.map_or_else(|| "not elected yet".to_string(), |m| m.to_string())
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

/// License and AP counters a member contributes to the cluster pool.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseCounts {
    pub ap_licenses: u32,
    pub aap_licenses: u32,
    pub ap_count: u32,
    pub aap_count: u32,
    /// Advanced-security license: per member, never pooled.
    pub adsec: bool,
}

/// A member that was lost, as a member stores it so that the grace period survives its own
/// restarts: the lost member's licenses stay in the pool until `lost_wall_ms` plus the
/// cluster's `license grace-period`. Stored, never sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostMemberRecord {
    pub member: MemberId,
    pub mac: Mac,
    pub hostname: String,
    pub model: Model,
    pub configured_mode: ClusterMode,
    pub master_priority: u8,
    pub config_head: RevisionId,
    /// As its last hello said (installed licenses and the APs it held).
    pub licenses: LicenseCounts,
    pub boot: u32,
    /// When it was declared lost: wall clock, ms since the Unix epoch.
    pub lost_wall_ms: u64,
    /// Its licenses are still in the pool (false once the grace period ended).
    pub in_grace: bool,
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
    pub licenses: LicenseCounts,
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
        result: Result<RevisionId, CommitError>,
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
        requests: Vec<RequestRecord>,
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
    /// The cluster-wide AP table (not the cluster core's: the member task hands it to the
    /// adoption thread).
    Aps(crate::aps::ApTableMessage),
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
    fn commit_errors_read_as_the_line_the_session_shows() {
        let a = MemberId(0x12E1_EE16);
        let lines = [
            (
                CommitError::Rejected("no such key k".into()),
                "no such key k",
            ),
            (
                CommitError::NotMaster { master: Some(a) },
                "not the cluster master; master is 12.E1.EE.16",
            ),
            (
                CommitError::NotMaster { master: None },
                "not the cluster master; master is not elected yet",
            ),
            (
                CommitError::CannotSave {
                    reason: "no space left on device".into(),
                },
                "cannot save revision: no space left on device",
            ),
            (
                CommitError::MasterSilent { master: a },
                "cluster master 12.E1.EE.16 did not answer",
            ),
            (CommitError::NoMaster, "no cluster master elected yet"),
            (
                CommitError::Resynchronising,
                "the cluster master (this member) is still resynchronising with its peers",
            ),
            (
                CommitError::Unconfirmed { master: Some(a) },
                "commit not confirmed: this controller was paused before it could save and send \
                 it, and the cluster went on without it (master is 12.E1.EE.16); check the \
                 running configuration and commit again",
            ),
        ];
        for (e, line) in lines {
            assert_eq!(e.to_string(), line);
            assert_eq!(e.retryable(), matches!(e, CommitError::NotMaster { .. }));
        }
    }

    /// A request record is stored and sent as the tuple it replaced, so existing data dirs
    /// and peers of the same release read it unchanged.
    #[test]
    fn request_records_encode_as_tuples() {
        let t = (RevisionId::ZERO, MemberId(7), 9u64);
        let r = RequestRecord::from(t);
        assert_eq!(
            postcard::to_stdvec(&r).unwrap(),
            postcard::to_stdvec(&t).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            serde_json::to_string(&t).unwrap()
        );
        let back: RequestRecord =
            serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, r);
    }

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
