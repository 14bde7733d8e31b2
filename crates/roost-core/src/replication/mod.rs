//! Configuration replication: the master is the authority.
//!
//! The rules are documented on [`Replication`] (authority, the chain) and at the top of each
//! role file: `commit.rs`, `leader.rs`, `follower.rs`, `undo.rs`, `superseded.rs`.

mod assembly;
mod chain;
mod commit;
mod follower;
mod leader;
mod superseded;
mod undo;

pub use chain::revision_id;
pub use superseded::superseded_chunks;

use commit::PendingCommit;
use leader::{Peer, Pull};
use undo::{Unsaved, Waiter};

use crate::Instant;
use assembly::Assembly;
use roost_wire::{
    ClusterEvent, CommitError, MemberId, ReplicationMessage, RequestRecord, Revision, RevisionId,
    SupersededConfig,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

/// The replicated configuration, as the replication core sees it: something that applies an
/// opaque change text, and has a full text form. Implemented by `roost_config::ClusterConfig`,
/// and by small models in tests.
pub trait ConfigState: Clone {
    /// Why a change or a configuration text does not apply, in the config engine's own words
    /// (its `Display` is the line a refused commit shows; it crosses the wire as that text,
    /// `CommitError::Rejected`).
    type Error: std::fmt::Display;
    /// Applies a committed change; an error leaves `self` unchanged.
    fn apply(&mut self, change: &str) -> Result<(), Self::Error>;
    /// The full configuration text (the `show running-config` form).
    fn text(&self) -> String;
    /// Parses a full configuration text.
    fn load(text: &str) -> Result<Self, Self::Error>
    where
        Self: Sized;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationSettings {
    /// How long a member waits for the master to answer a commit before reporting failure.
    pub commit_timeout: Duration,
    /// Resend interval for unacknowledged updates, snapshots and superseded reports.
    pub retransmit_interval: Duration,
    /// How many recent revisions (and lineage ids) are kept for incremental catch-up.
    pub log_capacity: usize,
}

impl Default for ReplicationSettings {
    fn default() -> Self {
        ReplicationSettings {
            commit_timeout: Duration::from_secs(3),
            retransmit_interval: Duration::from_millis(200),
            log_capacity: roost_wire::LOG_CAPACITY,
        }
    }
}

/// Largest snapshot (configuration text) a member accepts.
pub const MAX_SNAPSHOT_LEN: u32 = 64 * 1024 * 1024;
/// Configuration bytes per `Snapshot` message.
pub const SNAPSHOT_CHUNK: usize = 32 * 1024;
/// Lineage ids carried by a `Snapshot` message (the newest ones), so that the 32 KiB of data
/// plus the lineage stay well under [`MAX_MESSAGE`](roost_wire::MAX_MESSAGE)
/// (512 × 42 bytes ≈ 21 KiB).
pub const SNAPSHOT_LINEAGE_MAX: usize = 512;
/// (revision, origin, request) entries carried by a `Snapshot` message, for the newest lineage
/// revisions whose request the master knows: 96 × at most 57 bytes ≈ 5.3 KiB, so the worst
/// case (full chunk, full lineage, full requests) still fits one message. Retries only come
/// within a commit timeout, so the newest revisions are the ones that matter.
pub const SNAPSHOT_REQUESTS_MAX: usize = 96;
/// Largest superseded report (encoded [`SupersededConfig`]) a member sends or a master accepts.
pub const MAX_SUPERSEDED_LEN: u32 = 64 * 1024 * 1024;
/// Encoded superseded-config bytes per `SupersededChunk` message.
pub const SUPERSEDED_CHUNK: usize = 32 * 1024;
/// A partial superseded report no chunk has arrived for in this many retransmit intervals is
/// dropped (its holder retransmits every interval until acknowledged, so it is stale).
pub const SUPERSEDED_IDLE_INTERVALS: u32 = 16;
/// Partial superseded reports kept per sender (different heads); the least recently extended
/// one is dropped beyond this.
pub const SUPERSEDED_ASSEMBLIES_PER_SENDER: usize = 4;
/// Encoded bytes of revisions per `Revisions` message (bound); a single revision larger than
/// this is sent as part of a snapshot instead.
pub const REVISIONS_CHUNK_BUDGET: usize = 48 * 1024;

/// What the replication core asks of its driver ([`crate::Node`] maps these into
/// [`crate::Command`]s), drained in order by [`Replication::poll_output`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicationOutput {
    /// Send to one member.
    Send {
        to: MemberId,
        msg: ReplicationMessage,
    },
    /// Durably store the configuration `config` at revision `head` (and `revision`, the change
    /// that produced it, if it was an incremental step) before acknowledging anything.
    Persist {
        head: RevisionId,
        config: String,
        revision: Option<Revision>,
        lineage: Vec<RevisionId>,
    },
    /// Durably keep a configuration that lost after a partition healed.
    PersistSuperseded(SupersededConfig),
    /// Durably keep the request records of lineage revisions a snapshot named (see
    /// [`crate::Command::PersistRequests`]).
    PersistRequests(Vec<RequestRecord>),
    /// The outcome of [`Replication::handle_local_commit`] with this request id.
    CommitDone {
        request: u64,
        result: Result<RevisionId, CommitError>,
    },
    /// A new configuration is applied locally.
    ConfigApplied { head: RevisionId },
    /// Something to record in `show cluster history` (the election stamps it).
    Record { event: ClusterEvent, reason: String },
}

/// One piece of a chunked transfer (`Snapshot` or `SupersededChunk`).
#[derive(Clone, Debug)]
struct Chunk {
    head: RevisionId,
    total_len: u32,
    offset: u32,
    data: Vec<u8>,
}

/// Replication state machine for one member (sans-IO: inputs via `handle_*`, outputs via
/// [`Replication::poll_command`], time only via the `now` arguments).
///
/// # Rules
///
/// **Authority.** The master (told by the election through [`Replication::handle_master`]; it
/// may be this member) is the only member that creates revisions. Revision *n+1* follows the
/// head *n*: its number is `head.number + 1` and its hash is
/// `sha256(parent.hash ‖ number BE ‖ origin BE ‖ request BE ‖ change bytes)`, so revisions
/// form a hash chain and two partitions that both committed "revision 7" are told apart
/// (see [`revision_id`]). The *lineage* is the list of revision ids the current configuration
/// descends from, newest last and ending with the head itself, bounded by `log_capacity`; the
/// *log* holds the most recent revisions themselves (oldest first, a contiguous chain ending
/// at the head, bounded by `log_capacity`).
///
/// The other rules live with the code that carries them out, one section per role file:
/// commits and exactly-once (`commit.rs`), the master's pushes, catch-up and fast-forward
/// (`leader.rs`), applying updates and snapshots (`follower.rs`), revisions that cannot be
/// saved (`undo.rs`) and divergence (`superseded.rs`).
#[derive(Debug)]
pub struct Replication<S: ConfigState> {
    me: MemberId,
    settings: ReplicationSettings,
    config: S,
    head: RevisionId,
    /// Contiguous chain of recent revisions ending at `head`.
    log: Vec<Revision>,
    /// Older revisions known to be in `lineage` but no longer contiguous with the head (kept
    /// across snapshots so a later supersession can still list them, and for de-duplication).
    archive: Vec<Revision>,
    lineage: Vec<RevisionId>,
    superseded: Vec<SupersededConfig>,
    /// Superseded configs (by head) not yet acknowledged by the master, and when last sent.
    unacked_superseded: BTreeMap<RevisionId, Option<Instant>>,
    /// Master: superseded reports being reassembled, by (sender, head), with the time the last
    /// chunk arrived.
    superseded_assemblies: BTreeMap<(MemberId, RevisionId), (Assembly, Instant)>,
    /// (revision, origin, request) of lineage revisions learned from snapshots (the revisions
    /// themselves may never have been here), oldest first: for de-duplication.
    requests: Vec<RequestRecord>,
    master: Option<MemberId>,
    peers: BTreeMap<MemberId, Peer>,
    pending: BTreeMap<u64, PendingCommit>,
    failed: BTreeMap<(MemberId, u64), (CommitError, Instant)>,
    assembly: Option<Assembly>,
    outputs: VecDeque<ReplicationOutput>,
    /// `debug cfgd cluster` lines, apart from the outputs ([`Replication::poll_debug`]).
    debug: VecDeque<String>,
    /// Wall clock (ms since the Unix epoch) at `now == 0`.
    wall_origin_ms: i128,
    /// The commit hold set by [`Replication::handle_hold`] (a resume after a stall).
    held: bool,
    /// Master: the fast-forward under way, if any.
    pull: Option<Pull>,
    /// Master: peers that answered a pull with `PullRefused`, with the head they had then
    /// (they get a snapshot; their configuration is superseded, and kept).
    diverged: BTreeMap<MemberId, RevisionId>,
    /// Master: peers that did not answer a pull in time, with the head asked for and when it
    /// was given up. They get a snapshot meanwhile (if their lineage lacks our head, that
    /// settles it); after `commit_timeout` the pull is tried again, since a peer that did not
    /// answer (it did not recognise this master yet, or the answer was lost) may well extend
    /// our head, and then it ignores our snapshots.
    unanswered: BTreeMap<MemberId, (RevisionId, Instant)>,
    /// `Persist`s the driver has not confirmed yet, oldest first.
    unsaved: VecDeque<Unsaved<S>>,
    /// A save failed and none has succeeded since (`config-update-failed` recorded once).
    save_failing: bool,
}

impl<S: ConfigState> Replication<S> {
    /// Starts from persisted state: `config` at `head`, the recent `log` (oldest first) and the
    /// `lineage` ids, plus any superseded configs kept earlier.
    pub fn new(
        me: MemberId,
        settings: ReplicationSettings,
        config: S,
        head: RevisionId,
        log: Vec<Revision>,
        lineage: Vec<RevisionId>,
        superseded: Vec<SupersededConfig>,
    ) -> Self {
        let mut lineage = lineage;
        if head != RevisionId::ZERO && lineage.last() != Some(&head) {
            lineage.push(head);
        }
        // Split the stored revisions into the contiguous chain ending at head (the log) and
        // older ancestors (the archive).
        let mut log = log;
        log.sort_by_key(|r| r.id.number);
        let mut chain_start = log.len();
        let mut expect = head;
        while chain_start > 0 && log[chain_start - 1].id == expect {
            chain_start -= 1;
            expect = log[chain_start].parent;
        }
        let in_lineage: HashSet<RevisionId> = lineage.iter().copied().collect();
        let chain = log.split_off(chain_start);
        let archive = log
            .into_iter()
            .filter(|r| in_lineage.contains(&r.id))
            .collect();
        let unacked_superseded = superseded
            .iter()
            .filter(|s| s.holder == me)
            .map(|s| (s.head, None))
            .collect();
        let mut r = Replication {
            me,
            settings,
            config,
            head,
            log: chain,
            archive,
            lineage,
            superseded,
            unacked_superseded,
            superseded_assemblies: BTreeMap::new(),
            requests: Vec::new(),
            master: None,
            peers: BTreeMap::new(),
            pending: BTreeMap::new(),
            failed: BTreeMap::new(),
            assembly: None,
            outputs: VecDeque::new(),
            debug: VecDeque::new(),
            wall_origin_ms: 0,
            held: false,
            pull: None,
            diverged: BTreeMap::new(),
            unanswered: BTreeMap::new(),
            unsaved: VecDeque::new(),
            save_failing: false,
        };
        r.trim();
        r
    }

    /// Sets the wall clock (ms since the Unix epoch) at `now`, used to stamp revisions and
    /// superseded configs. Without it, wall times are `now` since 0.
    pub fn set_wall_clock(&mut self, wall_ms_at_now: u64, now: Instant) {
        self.wall_origin_ms = wall_ms_at_now as i128 - now.as_millis() as i128;
    }

    /// Who is master now (from the election); `is_self` when it is this member.
    pub fn handle_master(&mut self, master: Option<MemberId>, now: Instant) {
        if master == self.master {
            return;
        }
        self.master = master;
        self.assembly = None;
        self.superseded_assemblies.clear();
        self.pull = None;
        self.diverged.clear();
        self.unanswered.clear();
        match master {
            None => self.debug("no cluster master; commits wait for an election".to_string()),
            Some(m) if m == self.me => {
                self.debug(format!(
                    "{} is the cluster master (config authority), revision {}",
                    m, self.head
                ));
                // Superseded configs held here are archived on the master: this member.
                self.unacked_superseded.clear();
                for peer in self.peers.values_mut() {
                    peer.last_push = None;
                    peer.snapshot_sent = None;
                }
                self.commit_pending_as_master(now);
            }
            Some(m) => {
                self.debug(format!("cluster master is {}", m));
                let requests: Vec<u64> = self.pending.keys().copied().collect();
                for request in requests {
                    self.send_commit_request(request, m, now);
                }
                let heads: Vec<RevisionId> = self.unacked_superseded.keys().copied().collect();
                for head in heads {
                    self.send_superseded(head, m, now);
                }
            }
        }
    }

    /// A replication message from `from` (authenticated by the driver).
    pub fn handle_message(&mut self, from: MemberId, msg: ReplicationMessage, now: Instant) {
        match msg {
            ReplicationMessage::CommitRequest {
                request,
                user,
                change,
            } => self.on_commit_request(from, request, user, change, now),
            ReplicationMessage::CommitResult { request, result } => {
                self.on_commit_result(from, request, result)
            }
            ReplicationMessage::Revisions { after, revisions } => {
                // From our master, or (on the master) from the peer it pulls from.
                if self.pulling_from(from) || self.accept_from_master(from, "UPDATE") {
                    self.on_revisions(from, after, revisions, now);
                }
            }
            ReplicationMessage::Pull { after } => {
                if self.accept_from_master(from, "PULL") {
                    self.on_pull(from, after);
                }
            }
            ReplicationMessage::PullRefused { after } => self.on_pull_refused(from, after, now),
            ReplicationMessage::Snapshot {
                head,
                lineage,
                requests,
                total_len,
                offset,
                data,
            } => {
                if self.pulling_from(from) || self.accept_from_master(from, "CS_ACT_CFG_FULL") {
                    let chunk = Chunk {
                        head,
                        total_len,
                        offset,
                        data,
                    };
                    self.on_snapshot(from, chunk, lineage, requests, now);
                }
            }
            ReplicationMessage::Ack { head } => self.on_ack(from, head),
            ReplicationMessage::SupersededChunk {
                head,
                total_len,
                offset,
                data,
            } => {
                let chunk = Chunk {
                    head,
                    total_len,
                    offset,
                    data,
                };
                self.on_superseded_chunk(from, chunk, now)
            }
            ReplicationMessage::SupersededAck { head } => {
                if self.unacked_superseded.remove(&head).is_some() {
                    self.debug(format!("superseded config {} archived by {}", head, from));
                }
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.commit_timeouts(now);
        self.superseded_timeouts(now);
        self.failed.retain(|_, (_, expires)| *expires > now);
        self.pull_timeout(now);
    }

    /// The next output, in order.
    pub fn poll_output(&mut self) -> Option<ReplicationOutput> {
        self.outputs.pop_front()
    }

    /// The next `debug cfgd cluster` line (kept apart from the outputs, which stay exact).
    pub fn poll_debug(&mut self) -> Option<String> {
        self.debug.pop_front()
    }

    /// The earliest instant `handle_timeout` is due (commit deadlines and retransmits).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let interval = self.settings.retransmit_interval;
        let remote_master = self.master.filter(|m| *m != self.me);
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for p in self.pending.values() {
            consider(p.deadline);
            if remote_master.is_some() {
                consider(p.last_sent.map_or(Duration::ZERO, |t| t + interval));
            }
        }
        if remote_master.is_some() {
            for t in self.unacked_superseded.values() {
                consider(t.map_or(Duration::ZERO, |t| t + interval));
            }
        }
        let idle = self.superseded_idle();
        for (_, touched) in self.superseded_assemblies.values() {
            consider(*touched + idle);
        }
        if let Some(p) = &self.pull {
            consider(p.deadline.min(p.last_sent + interval));
        }
        next
    }

    pub fn head(&self) -> RevisionId {
        self.head
    }

    pub fn config(&self) -> &S {
        &self.config
    }

    /// Recent revisions, oldest first.
    pub fn log(&self) -> &[Revision] {
        &self.log
    }

    pub fn superseded(&self) -> &[SupersededConfig] {
        &self.superseded
    }

    /// The ids the current configuration descends from, newest last (ends with the head).
    pub fn lineage(&self) -> &[RevisionId] {
        &self.lineage
    }

    /// The master this member follows (None: not elected yet).
    pub fn master(&self) -> Option<MemberId> {
        self.master
    }

    pub fn is_master(&self) -> bool {
        self.master == Some(self.me)
    }

    /// Request ids of local commits waiting for the master's answer.
    pub fn pending_commits(&self) -> Vec<u64> {
        self.pending.keys().copied().collect()
    }

    /// Heads of superseded configs this member reported and the master has not acknowledged.
    pub fn unacked_superseded(&self) -> Vec<RevisionId> {
        self.unacked_superseded.keys().copied().collect()
    }

    /// Master: superseded reports partly received, as (sender, head).
    pub fn superseded_in_progress(&self) -> Vec<(MemberId, RevisionId)> {
        self.superseded_assemblies.keys().copied().collect()
    }

    /// Peers the master pushes to, with the head each last reported.
    pub fn peer_heads(&self) -> Vec<(MemberId, RevisionId)> {
        self.peers.iter().map(|(m, p)| (*m, p.head)).collect()
    }

    fn wall_ms(&self, now: Instant) -> u64 {
        (self.wall_origin_ms + now.as_millis() as i128).clamp(0, u64::MAX as i128) as u64
    }

    fn push(&mut self, o: ReplicationOutput) {
        self.outputs.push_back(o);
    }

    fn debug(&mut self, line: String) {
        self.debug.push_back(line);
    }

    fn send(&mut self, to: MemberId, msg: ReplicationMessage) {
        self.push(ReplicationOutput::Send { to, msg });
    }

    fn trim(&mut self) {
        let cap = self.settings.log_capacity;
        if self.log.len() > cap {
            let drop = self.log.len() - cap;
            self.log.drain(..drop);
        }
        if self.lineage.len() > cap.max(1) {
            let drop = self.lineage.len() - cap.max(1);
            self.lineage.drain(..drop);
        }
        if !self.archive.is_empty() {
            let in_lineage: HashSet<RevisionId> = self.lineage.iter().copied().collect();
            self.archive.retain(|r| in_lineage.contains(&r.id));
            if self.archive.len() > cap {
                let drop = self.archive.len() - cap;
                self.archive.drain(..drop);
            }
        }
        if !self.requests.is_empty() {
            let in_lineage: HashSet<RevisionId> = self.lineage.iter().copied().collect();
            self.requests.retain(|r| in_lineage.contains(&r.revision));
            if self.requests.len() > cap {
                let drop = self.requests.len() - cap;
                self.requests.drain(..drop);
            }
        }
    }
}
