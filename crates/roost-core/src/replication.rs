//! Configuration replication: the master is the authority.
//!
//! The rules are documented on [`Replication`].

mod assembly;
mod chain;

pub use chain::revision_id;

use crate::{Command, Instant, Notification};
use assembly::Assembly;
use roost_wire::{
    ClusterEvent, MemberId, MemberMessage, ReplicationMessage, Revision, RevisionId,
    SupersededConfig,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

/// The replicated configuration, as the replication core sees it: something that applies an
/// opaque change text, and has a full text form. Implemented by `roost_config::ClusterConfig`,
/// and by small models in tests.
pub trait ConfigState: Clone {
    /// Applies a committed change; an error leaves `self` unchanged.
    fn apply(&mut self, change: &str) -> Result<(), String>;
    /// The full configuration text (the `show running-config` form).
    fn text(&self) -> String;
    /// Parses a full configuration text.
    fn load(text: &str) -> Result<Self, String>
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
            log_capacity: roost_wire::limits::LOG_CAPACITY,
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
/// Prefix of the `CommitResult` error a non-master answers with; the requester keeps retrying
/// (the election is still converging) until its commit timeout.
pub const NOT_MASTER: &str = "not the cluster master";
/// Failed commit results remembered for identical answers to retransmits.
const FAILED_CACHE_MAX: usize = 256;

/// What the master knows about one alive peer.
#[derive(Clone, Debug)]
struct Peer {
    /// Last head it advertised (hello) or acknowledged.
    head: RevisionId,
    /// When we last pushed revisions or a snapshot to it (rate limit).
    last_push: Option<Instant>,
    /// Head of the snapshot last sent to it, until acknowledged.
    snapshot_sent: Option<RevisionId>,
}

/// One piece of a chunked transfer (`Snapshot` or `SupersededChunk`).
#[derive(Clone, Debug)]
struct Chunk {
    head: RevisionId,
    total_len: u32,
    offset: u32,
    data: Vec<u8>,
}

/// Master: a fast-forward under way (see [`ReplicationMessage::Pull`]).
#[derive(Clone, Debug)]
struct Pull {
    /// The peer whose newer head we asked for.
    from: MemberId,
    /// The head it advertised.
    target: RevisionId,
    /// Our head when we asked.
    after: RevisionId,
    last_sent: Instant,
    /// Given up (and the peer treated as diverged) after this.
    deadline: Instant,
}

/// A local commit waiting for the master's answer.
#[derive(Clone, Debug)]
struct PendingCommit {
    user: String,
    change: String,
    deadline: Instant,
    last_sent: Option<Instant>,
    /// A retryable error seen meanwhile ("not the cluster master; …"), reported on timeout.
    last_error: Option<String>,
}

/// The state a `Persist` not yet known to be on disk returns to if it fails.
#[derive(Clone, Debug)]
struct Checkpoint<S> {
    head: RevisionId,
    config: S,
    log: Vec<Revision>,
    archive: Vec<Revision>,
    lineage: Vec<RevisionId>,
    requests: Vec<(RevisionId, MemberId, u64)>,
    pending: BTreeMap<u64, PendingCommit>,
}

/// Who waits for the outcome of a revision the master created.
#[derive(Clone, Copy, Debug)]
enum Waiter {
    Local(u64),
    Remote(MemberId, u64),
}

/// One input's `Persist`s (a commit, a `Revisions` message, a snapshot) until the driver has
/// carried them out: what to undo and whom to answer if one fails.
#[derive(Debug)]
struct Unsaved<S> {
    /// The heads the `Persist`s save, in order.
    heads: Vec<RevisionId>,
    /// The revisions of incremental steps (re-applied up to a failed one); empty for a snapshot.
    steps: Vec<Revision>,
    waiting: Vec<Option<Waiter>>,
    before: Checkpoint<S>,
}

/// `Persist` batches kept for undo; the driver confirms them long before (see
/// [`Replication::persist_confirmed`]), so this only bounds a driver that never does.
const UNSAVED_MAX: usize = 64;

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
/// **Commits.** A local commit on the master is applied to a copy of the configuration; if
/// the change does not apply, the commit fails and nothing changes. Otherwise the revision is
/// created and the master emits, in this order: `Persist` (config, revision, lineage), then
/// `CommitDone(Ok(id))` and `ConfigApplied`, then `Revisions { after: parent, [rev] }` to
/// every peer it believes alive (heard in hellos and not reported down). On any other member a
/// local commit is sent to the master as a `CommitRequest` and retransmitted every
/// `retransmit_interval` until the `CommitResult` arrives; after `commit_timeout` it fails
/// with "cluster master X did not answer". With no master known (startup hold, between
/// masters) it waits for one, failing after `commit_timeout` with "no cluster master elected
/// yet". If the master changes while a request is pending, the request
/// goes to the new master (or is applied locally if this member became master). A member that
/// is not master answers a `CommitRequest` with "not the cluster master; master is X"; the
/// requester treats that as "retry" until its timeout.
///
/// **Exactly once.** Each revision carries its origin member and the origin's request id.
/// The master answers a request whose (origin, request) is already in its log (or in the
/// revisions it knows to be ancestors, or among the request ids snapshots brought it, see
/// below) with the existing id instead of applying it again; this covers retransmits,
/// duplicated datagrams and retries after a master change when the revision had reached the
/// new master, by an update or only by a snapshot. Failed requests are remembered briefly
/// (`2 × commit_timeout`) so retransmits get the identical error. A requester that sees its
/// own (origin, request) arrive in replicated revisions or in a snapshot's request ids
/// completes the commit with that id.
///
/// **Incremental catch-up.** Every hello reports a peer's head to the master
/// ([`Replication::handle_peer_head`]). If it differs from the master's head and the master's
/// log holds the revisions that follow it, the master sends them as `Revisions` messages
/// (chunked to at most [`REVISIONS_CHUNK_BUDGET`] encoded bytes each, all at once);
/// otherwise (the peer's head is unknown, diverged, too old for the log, or a revision is too
/// large for one message) it sends a full snapshot. Pushes to one peer are rate-limited to one
/// per `retransmit_interval`; hellos drive retransmission, so lost updates are re-sent on the
/// next hello after the interval.
///
/// **Applying updates.** A member accepts `Revisions` and `Snapshot` only from the member it
/// currently follows as master (others are ignored with a debug line). `Revisions` that start
/// at its head (or overlap it) are verified link by link (parent and hash) and applied in
/// order to a copy of the configuration; a broken chain or an apply error rejects the whole
/// message (the next hello then makes the master send a snapshot). Each applied revision is
/// persisted, then `ConfigApplied` is emitted and the new head acknowledged with `Ack`.
/// Updates that are already applied are answered with an `Ack` of the current head.
///
/// **Snapshots** (WiNG's `CS_ACT_CFG_FULL`). The master sends the whole configuration text
/// in chunks of ≤ [`SNAPSHOT_CHUNK`] bytes with the newest [`SNAPSHOT_LINEAGE_MAX`] lineage
/// ids and the (revision, origin, request) of the newest [`SNAPSHOT_REQUESTS_MAX`] lineage
/// revisions whose request it knows (from its log, its archive, or its own earlier
/// snapshots), all chunks at once, again on the rate limit while the peer's hello still shows
/// another head. The member reassembles one snapshot at a time (chunks of another head
/// replace a partial assembly; more than [`MAX_SNAPSHOT_LEN`] bytes are refused), loads the
/// text ([`ConfigState::load`]; an error is a debug line and the snapshot is ignored),
/// replaces configuration, head and lineage, clears its log, keeps the snapshot's request ids
/// (with any it knew before) for revisions in the new lineage, bounded like it, persisted
/// (`PersistRequests`, restored by [`Replication::restore_requests`]), persists
/// (`revision: None`), records `config-update-success` "successfully applied config" and
/// acknowledges. The master records `config-update-success` "config sync succeeded" when the
/// snapshot is acknowledged.
///
/// **A revision that cannot be saved.** Every step is persisted before anything that depends
/// on it leaves the member, and the driver reports a `Persist` it could not carry out (a full
/// disk) with [`Replication::handle_persist_failed`] before it polls another command. The
/// member then returns to the state before that step (head, configuration, log, lineage,
/// pending commits; the steps of the same message before it were saved and stay applied):
/// the master answers the commit with "cannot save revision: <reason>" (`CommitDone` or
/// `CommitResult`), a follower does not acknowledge, and `config-update-failed` "cannot save
/// revision N: <reason>" is recorded once until a save succeeds again. The master's pushes
/// and hellos retry a follower; a refused commit is simply not there, so nothing
/// acknowledged depends on it. Outputs already queued behind the failed `Persist` are the
/// node's to drop ([`crate::Node::handle_persist_failed`]).
///
/// **Divergence, never lost.** After a partition heals, the configuration of whoever the
/// election made master is authoritative: it wins, even if the other side committed more.
/// But nothing committed is silently lost. A member receiving a snapshot whose lineage does
/// not contain its own (non-empty) head has diverged: before loading, it keeps a
/// [`SupersededConfig`] (its head, itself as holder, the revisions it knows that are not in
/// the winner's lineage, oldest first, and its complete configuration text), persists it
/// (`PersistSuperseded`), records `config-superseded` and reports it to the master: the
/// encoded [`SupersededConfig`] in `SupersededChunk`s of ≤ [`SUPERSEDED_CHUNK`] bytes, all
/// chunks at once, all again every `retransmit_interval` (to the current master, also after a
/// master change and after a restart) until `SupersededAck`; one whose encoding exceeds
/// [`MAX_SUPERSEDED_LEN`] is not reported and stays on the loser only. The master reassembles
/// one report per (sender, head) (more than [`MAX_SUPERSEDED_LEN`] bytes refused; at most
/// [`SUPERSEDED_ASSEMBLIES_PER_SENDER`] per sender, the least recently extended dropped; one
/// without a chunk for [`SUPERSEDED_IDLE_INTERVALS`] retransmit intervals dropped; all dropped
/// when the sender goes down or mastership changes; a payload that does not decode, or names
/// another head, is ignored), then archives every reported configuration (de-duplicated by
/// head: a report of a head already held adds only the revisions the held copy does not
/// list, so two members that lost the same head with different stretches of its history
/// keep their union), persists it and acknowledges; a
/// member that is not master ignores reports, so that they reach a real master. So every
/// revision the losing side committed survives in a superseded configuration on the loser
/// and on the master of the time, from which an operator can restore it: as its head or as an
/// ancestor of its head, whose change the kept configuration text includes. The listed revisions are
/// only those the loser still holds in full: revisions it knows only by lineage id (a
/// snapshot clears the persisted log, so after a restart the revisions behind a snapshot's
/// head are gone, and the log is bounded) are in the text but not listed. (A loser head that
/// is an ancestor older than the snapshot's bounded lineage is conservatively treated as
/// diverged: kept, not lost.)
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
    requests: Vec<(RevisionId, MemberId, u64)>,
    master: Option<MemberId>,
    peers: BTreeMap<MemberId, Peer>,
    pending: BTreeMap<u64, PendingCommit>,
    failed: BTreeMap<(MemberId, u64), (String, Instant)>,
    assembly: Option<Assembly>,
    commands: VecDeque<Command>,
    /// Wall clock (ms since the Unix epoch) at `now == 0`.
    wall_origin_ms: i128,
    /// The commit hold set by [`Replication::handle_hold`] (a resume after a stall).
    held: bool,
    /// Master: the fast-forward under way, if any.
    pull: Option<Pull>,
    /// Master: peers that answered a pull with `PullRefused`, with the head they had then
    /// (they get a snapshot; their configuration is superseded, and kept).
    diverged: BTreeMap<MemberId, RevisionId>,
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
            commands: VecDeque::new(),
            wall_origin_ms: 0,
            held: false,
            pull: None,
            diverged: BTreeMap::new(),
            unsaved: VecDeque::new(),
            save_failing: false,
        };
        r.trim();
        r
    }

    /// Restores the request ids persisted by [`Command::PersistRequests`] (after [`new`]):
    /// those of revisions in the lineage are kept, so that a retransmitted request whose
    /// revision arrived here only inside a snapshot is still answered with its id, never
    /// applied twice.
    ///
    /// [`new`]: Replication::new
    pub fn restore_requests(&mut self, requests: Vec<(RevisionId, MemberId, u64)>) {
        let in_lineage: HashSet<RevisionId> = self.lineage.iter().copied().collect();
        let mut known: Vec<(RevisionId, MemberId, u64)> = requests
            .into_iter()
            .filter(|(id, _, _)| in_lineage.contains(id))
            .collect();
        known.sort_by_key(|(id, _, _)| id.number);
        known.dedup_by_key(|(id, _, _)| *id);
        self.requests = known;
        self.trim();
    }

    /// The driver carried out the `Persist` of `head` (and every one before it): their undo
    /// state is dropped. [`crate::Node`] calls this when the driver polls the next command.
    pub fn persist_confirmed(&mut self, head: RevisionId) {
        self.save_failing = false;
        let Some(b) = self.unsaved.iter().position(|u| u.heads.contains(&head)) else {
            return;
        };
        let last = self.unsaved[b].heads.last() == Some(&head);
        self.unsaved.drain(..if last { b + 1 } else { b });
    }

    /// The driver could not carry out the `Persist` of `head` (`reason`, e.g. "no space left
    /// on device"), and has carried out none after it. Returns to the state before that step
    /// and answers whoever waits for it or for any later unsaved step (see "A revision that
    /// cannot be saved" above); returns the heads whose `Persist`s are void (that one and every
    /// later one), or None if `head` is not an unsaved step (then nothing changed and the
    /// driver cannot go on safely).
    pub fn handle_persist_failed(
        &mut self,
        head: RevisionId,
        reason: &str,
        now: Instant,
    ) -> Option<Vec<RevisionId>> {
        let _ = now;
        let (b, j) = self
            .unsaved
            .iter()
            .enumerate()
            .find_map(|(b, u)| u.heads.iter().position(|h| *h == head).map(|j| (b, j)))?;
        let mut later: Vec<Unsaved<S>> = self.unsaved.drain(b..).collect();
        // Batches before `b` were carried out before this one.
        self.unsaved.clear();
        let batch = later.remove(0);
        let mut void: Vec<RevisionId> = batch.heads[j..].to_vec();
        let mut waiting: Vec<Waiter> = batch.waiting[j..].iter().flatten().copied().collect();
        for u in &later {
            void.extend(&u.heads);
            waiting.extend(u.waiting.iter().flatten().copied());
        }
        let Checkpoint {
            head: prev_head,
            config,
            log,
            archive,
            lineage,
            requests,
            pending,
        } = batch.before;
        self.head = prev_head;
        self.config = config;
        self.log = log;
        self.archive = archive;
        self.lineage = lineage;
        self.requests = requests;
        self.pending = pending;
        // The steps of the same message before `head` were saved: they stay applied.
        for rev in &batch.steps[..j] {
            if let Err(e) = self.config.apply(&rev.change) {
                self.debug(format!(
                    "revision {} no longer applies while rolling back: {}",
                    rev.id, e
                ));
                break;
            }
            self.head = rev.id;
            self.lineage.push(rev.id);
            self.log.push(rev.clone());
            self.trim();
            if rev.origin == self.me {
                self.pending.remove(&rev.request);
            }
        }
        if batch.steps.is_empty() {
            // A snapshot's request ids were saved just before it: put back the ones held now.
            self.push(Command::PersistRequests(self.requests.clone()));
        }
        self.debug(format!(
            "cannot save revision {}: {}; back to revision {} ({} unsaved revisions undone)",
            head,
            reason,
            self.head,
            void.len()
        ));
        let refusal = format!("cannot save revision: {reason}");
        for w in waiting {
            match w {
                Waiter::Local(request) => self.notify(Notification::CommitDone {
                    request,
                    result: Err(refusal.clone()),
                }),
                Waiter::Remote(from, request) => self.send(
                    from,
                    ReplicationMessage::CommitResult {
                        request,
                        result: Err(refusal.clone()),
                    },
                ),
            }
        }
        if !self.save_failing {
            self.save_failing = true;
            self.notify(Notification::Record {
                event: ClusterEvent::ConfigUpdateFailed,
                reason: format!("cannot save revision {}: {}", head.number, reason),
            });
        }
        Some(void)
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

    /// A peer's advertised head (from its hello): the master uses it to push catch-up.
    pub fn handle_peer_head(&mut self, peer: MemberId, head: RevisionId, now: Instant) {
        if peer == self.me {
            return;
        }
        let entry = self.peers.entry(peer).or_insert(Peer {
            head,
            last_push: None,
            snapshot_sent: None,
        });
        entry.head = head;
        if self.master != Some(self.me) {
            return;
        }
        if entry.snapshot_sent == Some(head) {
            // The snapshot's acks were lost, but the hello shows it applied.
            self.on_ack(peer, head);
            return;
        }
        if self.diverged.get(&peer).is_some_and(|h| *h != head) {
            self.diverged.remove(&peer);
        }
        if head == self.head {
            if self.pull.as_ref().is_some_and(|p| p.from == peer) {
                self.finish_pull(now);
            }
            return;
        }
        if head.number > self.head.number && self.diverged.get(&peer) != Some(&head) {
            // Newer than ours and unknown here: it may extend our lineage (it committed while
            // this member was cut off or paused). Ask before overwriting it with a snapshot.
            self.start_pull(peer, head, now);
            return;
        }
        if self.pull.is_some() {
            // Catch-up waits until we know which head the cluster goes on from.
            return;
        }
        if let Some(t) = entry.last_push {
            if now < t + self.settings.retransmit_interval {
                return;
            }
        }
        self.catch_up(peer, now);
    }

    /// A peer is gone (dead interval): stop pushing to it.
    pub fn handle_peer_down(&mut self, peer: MemberId, now: Instant) {
        self.peers.remove(&peer);
        self.diverged.remove(&peer);
        self.superseded_assemblies
            .retain(|(from, _), _| *from != peer);
        if self.pull.as_ref().is_some_and(|p| p.from == peer) {
            self.pull = None;
            self.debug(format!("member {peer} lost while pulling its revisions"));
            self.release_if_free(now);
        }
    }

    /// The commit hold (a stall's resume hold, from the election through `Node`): while it is
    /// on, the master creates no revision; local commits wait (up to their commit timeout) and
    /// commit requests from peers are not answered (they retransmit).
    pub fn handle_hold(&mut self, held: bool, now: Instant) {
        if held == self.held {
            return;
        }
        self.held = held;
        if held {
            self.debug("commits held until this member has heard its peers".to_string());
        } else {
            self.debug("commit hold released".to_string());
            self.release_if_free(now);
        }
    }

    /// Whether the master must not create revisions now (commit hold, or a fast-forward
    /// under way).
    pub fn holding(&self) -> bool {
        self.held || self.pull.is_some()
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

    /// A commit from a local session; the outcome arrives as `Notification::CommitDone`.
    pub fn handle_local_commit(
        &mut self,
        request: u64,
        user: String,
        change: String,
        now: Instant,
    ) {
        if self.master == Some(self.me) && !self.holding() {
            return self.commit_local_as_master(request, user, change, now);
        }
        if self.pending.contains_key(&request) {
            return;
        }
        // Wait for the master's answer, or (right after start, or between masters) for a
        // master to be elected, up to `commit_timeout`.
        let deadline = now + self.settings.commit_timeout;
        self.pending.insert(
            request,
            PendingCommit {
                user,
                change,
                deadline,
                last_sent: None,
                last_error: None,
            },
        );
        match self.master {
            Some(m) if m == self.me => self.debug(format!(
                "commit request {request} waits: this master is resynchronising with its peers"
            )),
            Some(m) => self.send_commit_request(request, m, now),
            None => self.debug(format!(
                "commit request {request} waits for a cluster master"
            )),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let interval = self.settings.retransmit_interval;
        // Commit timeouts and retransmits.
        let requests: Vec<u64> = self.pending.keys().copied().collect();
        for request in requests {
            let p = &self.pending[&request];
            if now >= p.deadline {
                let p = self.pending.remove(&request).expect("pending");
                let msg = match (p.last_error, self.master) {
                    (Some(e), _) => e,
                    (None, Some(m)) if m == self.me => {
                        "the cluster master (this member) is still resynchronising with its peers"
                            .to_string()
                    }
                    (None, Some(m)) => format!("cluster master {} did not answer", m),
                    (None, None) => "no cluster master elected yet".to_string(),
                };
                self.debug(format!("commit request {} failed: {}", request, msg));
                self.notify(Notification::CommitDone {
                    request,
                    result: Err(msg),
                });
                continue;
            }
            if let Some(m) = self.master.filter(|m| *m != self.me) {
                if p.last_sent.is_none_or(|t| now >= t + interval) {
                    self.send_commit_request(request, m, now);
                }
            }
        }
        // Superseded reports.
        if let Some(m) = self.master.filter(|m| *m != self.me) {
            let due: Vec<RevisionId> = self
                .unacked_superseded
                .iter()
                .filter(|(_, t)| t.is_none_or(|t| now >= t + interval))
                .map(|(h, _)| *h)
                .collect();
            for head in due {
                self.send_superseded(head, m, now);
            }
        }
        let idle = self.superseded_idle();
        self.superseded_assemblies
            .retain(|_, (_, touched)| now < *touched + idle);
        self.failed.retain(|_, (_, expires)| *expires > now);
        // The fast-forward under way: retransmit, or give up.
        if let Some(p) = self.pull.clone() {
            if now >= p.deadline {
                self.pull = None;
                self.diverged.insert(p.from, p.target);
                self.debug(format!(
                    "member {} did not send revision {} in time; treating it as diverged",
                    p.from, p.target
                ));
                self.release_if_free(now);
            } else if now >= p.last_sent + interval {
                self.send_pull(now);
            }
        }
    }

    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
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

    // ----- internals -----

    fn superseded_idle(&self) -> Duration {
        self.settings.retransmit_interval * SUPERSEDED_IDLE_INTERVALS
    }

    fn wall_ms(&self, now: Instant) -> u64 {
        (self.wall_origin_ms + now.as_millis() as i128).clamp(0, u64::MAX as i128) as u64
    }

    fn push(&mut self, c: Command) {
        self.commands.push_back(c);
    }
    fn notify(&mut self, n: Notification) {
        self.push(Command::Notify(n));
    }
    fn debug(&mut self, line: String) {
        self.notify(Notification::Debug(line));
    }
    fn send(&mut self, to: MemberId, msg: ReplicationMessage) {
        self.push(Command::Send {
            to,
            msg: MemberMessage::Replication(msg),
        });
    }

    /// The current state, with `config` (the configuration before the step) in place of ours.
    fn checkpoint(&self, config: S) -> Checkpoint<S> {
        Checkpoint {
            head: self.head,
            config,
            log: self.log.clone(),
            archive: self.archive.clone(),
            lineage: self.lineage.clone(),
            requests: self.requests.clone(),
            pending: self.pending.clone(),
        }
    }

    fn unsaved_batch(
        &mut self,
        steps: Vec<Revision>,
        waiting: Vec<Option<Waiter>>,
        before: Checkpoint<S>,
    ) {
        self.unsaved.push_back(Unsaved {
            heads: steps.iter().map(|r| r.id).collect(),
            steps,
            waiting,
            before,
        });
        self.bound_unsaved();
    }

    fn bound_unsaved(&mut self) {
        while self.unsaved.len() > UNSAVED_MAX {
            self.unsaved.pop_front();
        }
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
            self.requests.retain(|(id, _, _)| in_lineage.contains(id));
            if self.requests.len() > cap {
                let drop = self.requests.len() - cap;
                self.requests.drain(..drop);
            }
        }
    }

    /// The id of the revision that committed `origin`'s `request`, if known: from the
    /// revisions held here, or from the request ids snapshots carried.
    fn find_request(&self, origin: MemberId, request: u64) -> Option<RevisionId> {
        self.log
            .iter()
            .rev()
            .chain(self.archive.iter().rev())
            .find(|r| r.origin == origin && r.request == request)
            .map(|r| r.id)
            .or_else(|| {
                self.requests
                    .iter()
                    .rev()
                    .find(|(_, o, q)| *o == origin && *q == request)
                    .map(|(id, _, _)| *id)
            })
    }

    /// (revision, origin, request) of the newest lineage revisions whose request is known
    /// here, oldest first, at most [`SNAPSHOT_REQUESTS_MAX`]: carried by snapshots.
    fn lineage_requests(&self) -> Vec<(RevisionId, MemberId, u64)> {
        let mut known: HashMap<RevisionId, (MemberId, u64)> = self
            .requests
            .iter()
            .map(|(id, o, q)| (*id, (*o, *q)))
            .collect();
        for r in self.archive.iter().chain(self.log.iter()) {
            known.insert(r.id, (r.origin, r.request));
        }
        let mut out: Vec<(RevisionId, MemberId, u64)> = self
            .lineage
            .iter()
            .rev()
            .filter_map(|id| known.get(id).map(|(o, q)| (*id, *o, *q)))
            .take(SNAPSHOT_REQUESTS_MAX)
            .collect();
        out.reverse();
        out
    }

    fn accept_from_master(&mut self, from: MemberId, what: &str) -> bool {
        if self.master == Some(from) && from != self.me {
            return true;
        }
        let master = self.master.map_or("none".to_string(), |m| m.to_string());
        self.debug(format!(
            "ignoring {} from {}: not the cluster master (master is {})",
            what, from, master
        ));
        false
    }

    /// Master only: applies `change` and makes it the new head; emits `Persist`.
    fn create_revision(
        &mut self,
        origin: MemberId,
        request: u64,
        user: String,
        change: String,
        now: Instant,
    ) -> Result<Revision, String> {
        let mut next = self.config.clone();
        next.apply(&change)?;
        let id = revision_id(&self.head, origin, request, &change);
        let rev = Revision {
            id,
            parent: self.head,
            origin,
            request,
            user,
            wall_ms: self.wall_ms(now),
            change,
        };
        let prev = std::mem::replace(&mut self.config, next);
        let before = self.checkpoint(prev);
        self.head = id;
        self.lineage.push(id);
        self.log.push(rev.clone());
        self.trim();
        self.debug(format!(
            "configuration revision updated to {} from {} (commit by '{}' on {})",
            id.number, rev.parent.number, rev.user, origin
        ));
        self.push(Command::Persist {
            head: id,
            config: self.config.text(),
            revision: Some(rev.clone()),
            lineage: self.lineage.clone(),
        });
        let waiter = if origin == self.me {
            Waiter::Local(request)
        } else {
            Waiter::Remote(origin, request)
        };
        self.unsaved_batch(vec![rev.clone()], vec![Some(waiter)], before);
        Ok(rev)
    }

    fn commit_local_as_master(&mut self, request: u64, user: String, change: String, now: Instant) {
        match self.create_revision(self.me, request, user, change, now) {
            Err(e) => {
                self.debug(format!("commit request {} rejected: {}", request, e));
                self.notify(Notification::CommitDone {
                    request,
                    result: Err(e),
                });
            }
            Ok(rev) => {
                self.notify(Notification::CommitDone {
                    request,
                    result: Ok(rev.id),
                });
                self.notify(Notification::ConfigApplied { head: rev.id });
                self.push_revision(&rev, now);
            }
        }
    }

    /// Master: sends a just-created revision to every alive peer.
    fn push_revision(&mut self, rev: &Revision, now: Instant) {
        self.debug(format!(
            "tx_update CS_ACT_CFG_UPDATE revision {} originator {}",
            rev.id.number, rev.origin
        ));
        if chain::encoded_len_bound(rev) > REVISIONS_CHUNK_BUDGET {
            self.debug(format!(
                "revision {} too large for an update; peers get a snapshot",
                rev.id
            ));
            return;
        }
        let peers: Vec<MemberId> = self.peers.keys().copied().collect();
        for peer in peers {
            self.send(
                peer,
                ReplicationMessage::Revisions {
                    after: rev.parent,
                    revisions: vec![rev.clone()],
                },
            );
            self.debug(format!(
                "sending UPDATE revision {} to {}",
                rev.id.number, peer
            ));
            if let Some(p) = self.peers.get_mut(&peer) {
                p.last_push = Some(now);
            }
        }
    }

    fn send_commit_request(&mut self, request: u64, to: MemberId, now: Instant) {
        let Some(p) = self.pending.get_mut(&request) else {
            return;
        };
        p.last_sent = Some(now);
        let msg = ReplicationMessage::CommitRequest {
            request,
            user: p.user.clone(),
            change: p.change.clone(),
        };
        self.send(to, msg);
        self.debug(format!(
            "sending commit request {} to cluster master {}",
            request, to
        ));
    }

    fn on_commit_request(
        &mut self,
        from: MemberId,
        request: u64,
        user: String,
        change: String,
        now: Instant,
    ) {
        if self.master != Some(self.me) {
            let master = self
                .master
                .map_or("not elected yet".to_string(), |m| m.to_string());
            let result = Err(format!("{}; master is {}", NOT_MASTER, master));
            self.send(from, ReplicationMessage::CommitResult { request, result });
            return;
        }
        if self.holding() {
            // Not answered: the requester retransmits until the hold is over.
            self.debug(format!(
                "commit request {} from {} waits: this master is resynchronising with its peers",
                request, from
            ));
            return;
        }
        if let Some(id) = self.find_request(from, request) {
            self.debug(format!(
                "commit request {} from {} already committed as revision {}",
                request, from, id
            ));
            self.send(
                from,
                ReplicationMessage::CommitResult {
                    request,
                    result: Ok(id),
                },
            );
            return;
        }
        if let Some((e, _)) = self
            .failed
            .get(&(from, request))
            .filter(|(_, exp)| *exp > now)
        {
            let result = Err(e.clone());
            self.send(from, ReplicationMessage::CommitResult { request, result });
            return;
        }
        match self.create_revision(from, request, user, change, now) {
            Err(e) => {
                self.debug(format!(
                    "commit request {} from {} rejected: {}",
                    request, from, e
                ));
                if self.failed.len() >= FAILED_CACHE_MAX {
                    self.failed.retain(|_, (_, exp)| *exp > now);
                    if self.failed.len() >= FAILED_CACHE_MAX {
                        let oldest = *self
                            .failed
                            .iter()
                            .min_by_key(|(_, (_, exp))| *exp)
                            .expect("non-empty")
                            .0;
                        self.failed.remove(&oldest);
                    }
                }
                self.failed.insert(
                    (from, request),
                    (e.clone(), now + 2 * self.settings.commit_timeout),
                );
                self.send(
                    from,
                    ReplicationMessage::CommitResult {
                        request,
                        result: Err(e),
                    },
                );
            }
            Ok(rev) => {
                self.notify(Notification::ConfigApplied { head: rev.id });
                self.send(
                    from,
                    ReplicationMessage::CommitResult {
                        request,
                        result: Ok(rev.id),
                    },
                );
                self.push_revision(&rev, now);
            }
        }
    }

    fn on_commit_result(
        &mut self,
        from: MemberId,
        request: u64,
        result: Result<RevisionId, String>,
    ) {
        let Some(p) = self.pending.get_mut(&request) else {
            self.debug(format!(
                "commit result {} from {} for no pending request",
                request, from
            ));
            return;
        };
        if let Err(e) = &result {
            if e.starts_with(NOT_MASTER) {
                p.last_error = Some(e.clone());
                self.debug(format!(
                    "commit request {}: {} answered: {}; retrying",
                    request, from, e
                ));
                return;
            }
        }
        self.pending.remove(&request);
        self.notify(Notification::CommitDone { request, result });
    }

    /// Applies revisions from our master (then acknowledged), or, on the master, from the
    /// peer it pulls from (a fast-forward: then pushed on to the other peers).
    fn on_revisions(
        &mut self,
        from: MemberId,
        after: RevisionId,
        revisions: Vec<Revision>,
        now: Instant,
    ) {
        let start = if after == self.head {
            0
        } else if let Some(i) = revisions.iter().position(|r| r.id == self.head) {
            i + 1
        } else {
            if revisions
                .last()
                .is_some_and(|r| self.lineage.contains(&r.id))
            {
                // Already applied (duplicate or reordered delivery).
                self.send(from, ReplicationMessage::Ack { head: self.head });
            } else {
                self.debug(format!(
                    "ignoring UPDATE after revision {} from {}: current revision is {}",
                    after, from, self.head
                ));
            }
            return;
        };
        if start == revisions.len() {
            self.send(from, ReplicationMessage::Ack { head: self.head });
            return;
        }
        // Verify the whole chain and apply to a copy: all or nothing.
        let mut next = self.config.clone();
        let mut prev = self.head;
        let mut texts = Vec::with_capacity(revisions.len() - start);
        for rev in &revisions[start..] {
            if let Err(e) = chain::check_link(&prev, rev) {
                self.debug(format!("rejecting UPDATE from {}: {}", from, e));
                return;
            }
            if let Err(e) = next.apply(&rev.change) {
                self.debug(format!(
                    "rejecting UPDATE from {}: revision {} does not apply: {}",
                    from, rev.id, e
                ));
                return;
            }
            prev = rev.id;
            texts.push(next.text());
        }
        // Commit, persisting each step.
        let old = self.head;
        let prev = std::mem::replace(&mut self.config, next);
        let before = self.checkpoint(prev);
        let steps: Vec<Revision> = revisions[start..].to_vec();
        for (rev, text) in revisions.into_iter().skip(start).zip(texts) {
            self.head = rev.id;
            self.lineage.push(rev.id);
            self.log.push(rev.clone());
            self.trim();
            let (origin, request, id) = (rev.origin, rev.request, rev.id);
            self.push(Command::Persist {
                head: id,
                config: text,
                revision: Some(rev),
                lineage: self.lineage.clone(),
            });
            if origin == self.me && self.pending.remove(&request).is_some() {
                self.notify(Notification::CommitDone {
                    request,
                    result: Ok(id),
                });
            }
        }
        let waiting = vec![None; steps.len()];
        self.unsaved_batch(steps, waiting, before);
        self.debug(format!(
            "cluster config update OK, current revision: {}, expected revision: {}",
            self.head.number, self.head.number
        ));
        self.debug(format!(
            "configuration revision updated to {} from {}",
            self.head.number, old.number
        ));
        self.notify(Notification::ConfigApplied { head: self.head });
        if self.is_master() {
            self.finish_pull(now);
        } else {
            self.send(from, ReplicationMessage::Ack { head: self.head });
        }
    }

    fn on_snapshot(
        &mut self,
        from: MemberId,
        chunk: Chunk,
        lineage: Vec<RevisionId>,
        requests: Vec<(RevisionId, MemberId, u64)>,
        now: Instant,
    ) {
        let Chunk {
            head,
            total_len,
            offset,
            data,
        } = chunk;
        if total_len > MAX_SNAPSHOT_LEN {
            self.debug(format!(
                "refusing CS_ACT_CFG_FULL revision {} from {}: {} bytes exceed {}",
                head, from, total_len, MAX_SNAPSHOT_LEN
            ));
            return;
        }
        if head == self.head {
            self.assembly = None;
            self.send(from, ReplicationMessage::Ack { head });
            return;
        }
        let fresh =
            !matches!(&self.assembly, Some(a) if a.head == head && a.total_len == total_len);
        if fresh {
            self.assembly = Some(Assembly::new(head, lineage, requests, total_len));
        }
        let asm = self.assembly.as_mut().expect("assembly present");
        if let Err(e) = asm.insert(offset, data) {
            self.debug(format!("bad CS_ACT_CFG_FULL chunk from {}: {}", from, e));
            return;
        }
        if !asm.is_complete() {
            return;
        }
        let mut asm = self.assembly.take().expect("assembly present");
        let head = asm.head;
        let lineage = std::mem::take(&mut asm.lineage);
        let requests = std::mem::take(&mut asm.requests);
        let text = match String::from_utf8(asm.into_bytes()) {
            Ok(t) => t,
            Err(_) => {
                self.debug(format!(
                    "CS_ACT_CFG_FULL revision {} from {} is not UTF-8",
                    head, from
                ));
                return;
            }
        };
        self.install_snapshot(from, head, lineage, requests, text, now);
    }

    fn install_snapshot(
        &mut self,
        from: MemberId,
        head: RevisionId,
        lineage: Vec<RevisionId>,
        requests: Vec<(RevisionId, MemberId, u64)>,
        text: String,
        now: Instant,
    ) {
        self.debug(format!(
            "received CS_ACT_CFG_FULL revision {} from {}, {} bytes",
            head.number,
            from,
            text.len()
        ));
        let loaded = match S::load(&text) {
            Ok(c) => c,
            Err(e) => {
                self.debug(format!(
                    "cluster config update failed, revision {} from {}: {}",
                    head, from, e
                ));
                return;
            }
        };
        let old = self.head;
        let mut lineage = lineage;
        if head != RevisionId::ZERO && lineage.last() != Some(&head) {
            lineage.push(head);
        }
        let winner: HashSet<RevisionId> = lineage.iter().copied().collect();
        if !self.is_master() && head != RevisionId::ZERO && self.lineage.contains(&head) {
            // The snapshot is an ancestor of our head: the master sent it on an old report of
            // our head. Ours extends it, so it is not applied (nothing is superseded); our
            // head, acknowledged, makes the master fast-forward instead.
            self.debug(format!(
                "ignoring CS_ACT_CFG_FULL revision {} from {}: our revision {} extends it",
                head, from, old
            ));
            self.send(from, ReplicationMessage::Ack { head: old });
            return;
        }
        let extends = old == RevisionId::ZERO || old == head || winner.contains(&old);
        if self.is_master() && !extends {
            // A pulled snapshot that does not descend from our head: the master's lineage is
            // authoritative; the peer gets a snapshot instead (and keeps its configuration as
            // superseded).
            self.debug(format!(
                "pulled revision {} from {} does not extend ours ({}); not applied",
                head, from, old
            ));
            if let Some(p) = self.pull.take() {
                self.diverged.insert(p.from, p.target);
            }
            self.release_if_free(now);
            return;
        }
        if !extends {
            self.supersede(from, head, &winner, now);
        }
        let before = self.checkpoint(self.config.clone());
        // Keep known revisions that stay ancestors (for later supersession and de-duplication).
        let mut seen = BTreeSet::new();
        let mut archive: Vec<Revision> = std::mem::take(&mut self.archive)
            .into_iter()
            .chain(std::mem::take(&mut self.log))
            .filter(|r| winner.contains(&r.id) && seen.insert(r.id))
            .collect();
        archive.sort_by_key(|r| r.id.number);
        self.archive = archive;
        // Request ids of lineage revisions: those known before that stay ancestors, then the
        // snapshot's (which replace any other entry for the same revision).
        let fresh: HashSet<RevisionId> = requests.iter().map(|(id, _, _)| *id).collect();
        let mut known: Vec<(RevisionId, MemberId, u64)> = std::mem::take(&mut self.requests)
            .into_iter()
            .filter(|(id, _, _)| winner.contains(id) && !fresh.contains(id))
            .chain(
                requests
                    .into_iter()
                    .filter(|(id, _, _)| winner.contains(id)),
            )
            .collect();
        known.sort_by_key(|(id, _, _)| id.number);
        self.requests = known;
        self.config = loaded;
        self.head = head;
        self.lineage = lineage;
        self.trim();
        self.push(Command::PersistRequests(self.requests.clone()));
        self.push(Command::Persist {
            head,
            config: text,
            revision: None,
            lineage: self.lineage.clone(),
        });
        self.unsaved.push_back(Unsaved {
            heads: vec![head],
            steps: Vec::new(),
            waiting: vec![None],
            before,
        });
        self.bound_unsaved();
        self.debug(format!(
            "cluster config update OK, current revision: {}, expected revision: {}",
            head.number, head.number
        ));
        self.debug(format!(
            "configuration revision updated to {} from {}",
            head.number, old.number
        ));
        self.notify(Notification::Record {
            event: ClusterEvent::ConfigUpdateSuccess,
            reason: "successfully applied config".to_string(),
        });
        self.notify(Notification::ConfigApplied { head });
        // A local commit the snapshot shows committed is done (its result was lost).
        let done: Vec<(u64, RevisionId)> = self
            .requests
            .iter()
            .filter(|(_, o, q)| *o == self.me && self.pending.contains_key(q))
            .map(|(id, _, q)| (*q, *id))
            .collect();
        for (request, id) in done {
            self.pending.remove(&request);
            self.notify(Notification::CommitDone {
                request,
                result: Ok(id),
            });
        }
        if self.is_master() {
            self.finish_pull(now);
        } else {
            self.send(from, ReplicationMessage::Ack { head });
        }
    }

    // ----- fast-forward (pull) -----

    fn pulling_from(&self, from: MemberId) -> bool {
        self.is_master() && self.pull.as_ref().is_some_and(|p| p.from == from)
    }

    /// Master: asks `peer` for what follows our head, since it advertised the newer, unknown
    /// `head`. One pull at a time; others wait for it.
    fn start_pull(&mut self, peer: MemberId, head: RevisionId, now: Instant) {
        if let Some(p) = &self.pull {
            if p.from == peer && p.target != head && p.after == self.head {
                // It moved on meanwhile: pull the newer head from it.
                self.pull.as_mut().expect("pull").target = head;
            }
            return;
        }
        self.debug(format!(
            "member {} is at revision {}, newer than ours ({}); pulling its revisions",
            peer, head, self.head
        ));
        self.pull = Some(Pull {
            from: peer,
            target: head,
            after: self.head,
            last_sent: now,
            deadline: now + self.settings.commit_timeout,
        });
        self.send_pull(now);
    }

    fn send_pull(&mut self, now: Instant) {
        let Some(p) = self.pull.as_mut() else { return };
        p.last_sent = now;
        let (to, after) = (p.from, p.after);
        self.send(to, ReplicationMessage::Pull { after });
    }

    /// The fast-forward reached the peer's head (or the peer turned out to be at ours): push
    /// the new head on to the other peers, and let waiting commits go.
    fn finish_pull(&mut self, now: Instant) {
        let Some(p) = self.pull.take() else { return };
        if self.head != p.after {
            self.debug(format!(
                "fast-forwarded from revision {} to {} (revisions from member {})",
                p.after, self.head, p.from
            ));
            self.notify(Notification::Record {
                event: ClusterEvent::ConfigUpdateSuccess,
                reason: format!(
                    "fast-forwarded to revision {} from member {}",
                    self.head.number, p.from
                ),
            });
        }
        let behind: Vec<MemberId> = self
            .peers
            .iter()
            .filter(|(_, peer)| peer.head != self.head)
            .map(|(m, _)| *m)
            .collect();
        for peer in behind {
            self.catch_up(peer, now);
        }
        self.release_if_free(now);
    }

    fn on_pull_refused(&mut self, from: MemberId, after: RevisionId, now: Instant) {
        if !self.pulling_from(from) || self.pull.as_ref().is_some_and(|p| p.after != after) {
            return;
        }
        let p = self.pull.take().expect("pulling");
        self.debug(format!(
            "member {}'s revision {} does not extend ours ({}); it gets a snapshot and keeps \
             its configuration as superseded",
            from, p.target, after
        ));
        self.diverged.insert(from, p.target);
        self.release_if_free(now);
        self.catch_up(from, now);
    }

    /// Member: our master asks for what follows its head `after`.
    fn on_pull(&mut self, from: MemberId, after: RevisionId) {
        if after == self.head {
            self.send(from, ReplicationMessage::Ack { head: self.head });
            return;
        }
        let descends = after == RevisionId::ZERO || self.lineage.contains(&after);
        if !descends {
            self.debug(format!(
                "master {} asks for revisions after {}, which is not an ancestor of ours ({})",
                from, after, self.head
            ));
            self.send(from, ReplicationMessage::PullRefused { after });
            return;
        }
        self.debug(format!(
            "master {} is behind at revision {}; sending it revisions up to {}",
            from, after, self.head
        ));
        for msg in self.transfer_messages(after) {
            self.send(from, msg);
        }
    }

    /// Master: lets waiting local commits go once nothing holds them.
    fn release_if_free(&mut self, now: Instant) {
        if self.is_master() && !self.holding() {
            self.commit_pending_as_master(now);
        }
    }

    /// Master: commits every waiting local commit (or completes it, if it is already in).
    fn commit_pending_as_master(&mut self, now: Instant) {
        if self.holding() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        for (request, p) in pending {
            if let Some(id) = self.find_request(self.me, request) {
                self.notify(Notification::CommitDone {
                    request,
                    result: Ok(id),
                });
            } else {
                self.commit_local_as_master(request, p.user, p.change, now);
            }
        }
    }

    /// Keeps the current (diverged) configuration before a snapshot from `master` replaces it.
    fn supersede(
        &mut self,
        master: MemberId,
        new_head: RevisionId,
        winner: &HashSet<RevisionId>,
        now: Instant,
    ) {
        let mut seen = BTreeSet::new();
        let mut revisions: Vec<Revision> = self
            .archive
            .iter()
            .chain(self.log.iter())
            .filter(|r| !winner.contains(&r.id) && seen.insert(r.id))
            .cloned()
            .collect();
        revisions.sort_by_key(|r| r.id.number);
        let sc = SupersededConfig {
            head: self.head,
            holder: self.me,
            revisions,
            config: self.config.text(),
            superseded_wall_ms: self.wall_ms(now),
        };
        let reason = format!(
            "revision {} superseded by master {} revision {}",
            self.head, master, new_head
        );
        self.debug(format!(
            "{}; keeping it ({} revisions not in the master's lineage)",
            reason,
            sc.revisions.len()
        ));
        // Kept already: the snapshot was tried before and could not be saved (a full disk).
        let again = self
            .superseded
            .iter()
            .any(|s| s.head == self.head && s.holder == self.me);
        self.keep_superseded(sc);
        if !again {
            self.notify(Notification::Record {
                event: ClusterEvent::ConfigSuperseded,
                reason,
            });
        }
        self.unacked_superseded.insert(self.head, None);
        self.send_superseded(self.head, master, now);
    }

    /// Keeps (and persists) a superseded config. One already held with the same head (the
    /// same configuration, by the hash chain) gains the revisions it did not list: two members
    /// can hold one head while knowing different stretches of its history (one had only a
    /// snapshot), and the union is what an operator restores from. Returns whether anything
    /// new was kept.
    fn keep_superseded(&mut self, sc: SupersededConfig) -> bool {
        let Some(held) = self.superseded.iter_mut().find(|s| s.head == sc.head) else {
            self.push(Command::PersistSuperseded(sc.clone()));
            self.superseded.push(sc);
            return true;
        };
        let known: HashSet<RevisionId> = held.revisions.iter().map(|r| r.id).collect();
        let before = held.revisions.len();
        held.revisions
            .extend(sc.revisions.into_iter().filter(|r| !known.contains(&r.id)));
        if held.revisions.len() == before {
            return false;
        }
        held.revisions.sort_by_key(|r| r.id.number);
        let merged = held.clone();
        self.push(Command::PersistSuperseded(merged));
        true
    }

    /// Sends every chunk of the superseded config at `head` to `to` (the master).
    fn send_superseded(&mut self, head: RevisionId, to: MemberId, now: Instant) {
        let Some(sc) = self.superseded.iter().find(|s| s.head == head) else {
            self.unacked_superseded.remove(&head);
            return;
        };
        let msgs = superseded_chunks(sc);
        if msgs.is_empty() {
            self.unacked_superseded.remove(&head);
            self.debug(format!(
                "superseded config {} is too large to report to {} (over {} bytes); kept on this member",
                head, to, MAX_SUPERSEDED_LEN
            ));
            return;
        }
        self.unacked_superseded.insert(head, Some(now));
        let n = msgs.len();
        for msg in msgs {
            self.send(to, msg);
        }
        self.debug(format!(
            "reporting superseded config {} to cluster master {} ({} chunks)",
            head, to, n
        ));
    }

    /// Master: one chunk of a superseded report; archives the config once all chunks are in.
    fn on_superseded_chunk(&mut self, from: MemberId, chunk: Chunk, now: Instant) {
        let head = chunk.head;
        if self.master != Some(self.me) {
            // Not acknowledged: the holder keeps reporting until the real master archives it.
            self.debug(format!(
                "ignoring superseded config {} from {}: not the cluster master",
                head, from
            ));
            return;
        }
        if chunk.total_len > MAX_SUPERSEDED_LEN {
            self.debug(format!(
                "refusing superseded config {} from {}: {} bytes exceed {}",
                head, from, chunk.total_len, MAX_SUPERSEDED_LEN
            ));
            return;
        }
        let key = (from, head);
        let fresh = !matches!(
            self.superseded_assemblies.get(&key),
            Some((a, _)) if a.total_len == chunk.total_len
        );
        if fresh {
            // Bounded: a few partial reports per sender, the least recently extended dropped.
            let mine: Vec<((MemberId, RevisionId), Instant)> = self
                .superseded_assemblies
                .iter()
                .filter(|(k, _)| k.0 == from && **k != key)
                .map(|(k, (_, t))| (*k, *t))
                .collect();
            if mine.len() >= SUPERSEDED_ASSEMBLIES_PER_SENDER {
                if let Some((oldest, _)) = mine.iter().min_by_key(|(_, t)| *t) {
                    self.superseded_assemblies.remove(oldest);
                }
            }
            self.superseded_assemblies.insert(
                key,
                (
                    Assembly::new(head, Vec::new(), Vec::new(), chunk.total_len),
                    now,
                ),
            );
        }
        let (asm, touched) = self.superseded_assemblies.get_mut(&key).expect("present");
        *touched = now;
        if let Err(e) = asm.insert(chunk.offset, chunk.data) {
            self.superseded_assemblies.remove(&key);
            self.debug(format!(
                "bad superseded config chunk {} from {}: {}",
                head, from, e
            ));
            return;
        }
        if !asm.is_complete() {
            return;
        }
        let (asm, _) = self.superseded_assemblies.remove(&key).expect("present");
        let config = match SupersededConfig::decode(&asm.into_bytes()) {
            Ok(c) if c.head == head => c,
            Ok(c) => {
                self.debug(format!(
                    "superseded config {} from {} names head {}; ignored",
                    head, from, c.head
                ));
                return;
            }
            Err(e) => {
                self.debug(format!(
                    "superseded config {} from {} does not decode: {}",
                    head, from, e
                ));
                return;
            }
        };
        let (holder, listed) = (config.holder, config.revisions.len());
        if self.keep_superseded(config) {
            self.debug(format!(
                "archiving superseded config {} from {} ({} revisions)",
                head, holder, listed
            ));
        }
        // Also for a head archived before (a retransmit whose ack was lost).
        self.send(from, ReplicationMessage::SupersededAck { head });
    }

    fn on_ack(&mut self, from: MemberId, head: RevisionId) {
        if self.master != Some(self.me) {
            return;
        }
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        peer.head = head;
        let synced = peer.snapshot_sent == Some(head);
        if synced {
            peer.snapshot_sent = None;
        }
        self.debug(format!(
            "cluster config update OK, current revision: {}, expected revision: {}",
            head.number, self.head.number
        ));
        if synced {
            self.debug(format!(
                "tx_update CS_ACT_CFG_FULL - revision {} host {} is OK",
                head.number, from
            ));
            self.notify(Notification::Record {
                event: ClusterEvent::ConfigUpdateSuccess,
                reason: "config sync succeeded".to_string(),
            });
        }
    }

    /// Master: brings `peer` from its advertised head to ours (incremental or snapshot).
    fn catch_up(&mut self, peer: MemberId, now: Instant) {
        let Some(peer_head) = self.peers.get(&peer).map(|p| p.head) else {
            return;
        };
        let transfer = self.transfer(peer_head);
        match &transfer {
            Transfer::Revisions(chunks) => {
                self.debug(format!(
                    "tx_update CS_ACT_CFG_UPDATE revisions {}..{} to {}, member rev is {}",
                    peer_head.number + 1,
                    self.head.number,
                    peer,
                    peer_head.number
                ));
                for revisions in chunks {
                    let last = revisions.last().expect("non-empty").id.number;
                    self.debug(format!("sending UPDATE revision {} to {}", last, peer));
                }
            }
            Transfer::Snapshot { lineage, bytes, .. } => {
                self.debug(format!(
                    "tx_update CS_ACT_CFG_FULL - revision {} to {}",
                    self.head.number, peer
                ));
                self.debug(format!("tx_update member rev is {}", peer_head.number));
                self.debug(format!(
                    "sending UPDATE revision: {} lineage: {}, data size: {}",
                    self.head.number,
                    lineage.len(),
                    bytes.len()
                ));
            }
            Transfer::TooLarge(len) => {
                self.debug(format!(
                    "configuration too large for CS_ACT_CFG_FULL ({} bytes)",
                    len
                ));
                return;
            }
        }
        let snapshot = matches!(transfer, Transfer::Snapshot { .. });
        for msg in transfer.into_messages() {
            self.send(peer, msg);
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            if snapshot {
                p.snapshot_sent = Some(self.head);
            }
            p.last_push = Some(now);
        }
    }

    /// What brings a member at `after` to our head: the revisions that follow it, if the log
    /// holds them all and each fits a message, else the whole configuration.
    fn transfer(&self, after: RevisionId) -> Transfer {
        let start = self.log.iter().position(|r| r.parent == after);
        let incremental = start.filter(|&i| {
            self.log[i..]
                .iter()
                .all(|r| chain::encoded_len_bound(r) <= REVISIONS_CHUNK_BUDGET)
        });
        if let Some(i) = incremental {
            let mut chunks: Vec<Vec<Revision>> = Vec::new();
            let mut size = 0;
            for rev in &self.log[i..] {
                let len = chain::encoded_len_bound(rev);
                if chunks.is_empty() || size + len > REVISIONS_CHUNK_BUDGET {
                    chunks.push(Vec::new());
                    size = 0;
                }
                size += len;
                chunks.last_mut().expect("pushed").push(rev.clone());
            }
            return Transfer::Revisions(chunks);
        }
        let bytes = self.config.text().into_bytes();
        if bytes.len() > MAX_SNAPSHOT_LEN as usize {
            return Transfer::TooLarge(bytes.len());
        }
        let skip = self.lineage.len().saturating_sub(SNAPSHOT_LINEAGE_MAX);
        Transfer::Snapshot {
            head: self.head,
            lineage: self.lineage[skip..].to_vec(),
            requests: self.lineage_requests(),
            bytes,
        }
    }

    /// [`Replication::transfer`] as messages (nothing if the configuration is too large).
    fn transfer_messages(&self, after: RevisionId) -> Vec<ReplicationMessage> {
        self.transfer(after).into_messages()
    }
}

/// A catch-up transfer (see [`Replication::transfer`]).
enum Transfer {
    Revisions(Vec<Vec<Revision>>),
    Snapshot {
        head: RevisionId,
        lineage: Vec<RevisionId>,
        requests: Vec<(RevisionId, MemberId, u64)>,
        bytes: Vec<u8>,
    },
    TooLarge(usize),
}

impl Transfer {
    fn into_messages(self) -> Vec<ReplicationMessage> {
        match self {
            Transfer::Revisions(chunks) => chunks
                .into_iter()
                .map(|revisions| ReplicationMessage::Revisions {
                    after: revisions[0].parent,
                    revisions,
                })
                .collect(),
            Transfer::Snapshot {
                head,
                lineage,
                requests,
                bytes,
            } => {
                let total_len = bytes.len() as u32;
                if bytes.is_empty() {
                    return vec![ReplicationMessage::Snapshot {
                        head,
                        lineage,
                        requests,
                        total_len,
                        offset: 0,
                        data: Vec::new(),
                    }];
                }
                bytes
                    .chunks(SNAPSHOT_CHUNK)
                    .enumerate()
                    .map(|(k, chunk)| ReplicationMessage::Snapshot {
                        head,
                        lineage: lineage.clone(),
                        requests: requests.clone(),
                        total_len,
                        offset: (k * SNAPSHOT_CHUNK) as u32,
                        data: chunk.to_vec(),
                    })
                    .collect()
            }
            Transfer::TooLarge(_) => Vec::new(),
        }
    }
}

/// The `SupersededChunk` messages that report `config` to a master: its encoding in pieces of
/// at most [`SUPERSEDED_CHUNK`] bytes, in order. Empty if the encoding exceeds
/// [`MAX_SUPERSEDED_LEN`] (it cannot be reported).
pub fn superseded_chunks(config: &SupersededConfig) -> Vec<ReplicationMessage> {
    let bytes = config.encode();
    if bytes.len() > MAX_SUPERSEDED_LEN as usize {
        return Vec::new();
    }
    let total_len = bytes.len() as u32;
    bytes
        .chunks(SUPERSEDED_CHUNK)
        .enumerate()
        .map(|(k, data)| ReplicationMessage::SupersededChunk {
            head: config.head,
            total_len,
            offset: (k * SUPERSEDED_CHUNK) as u32,
            data: data.to_vec(),
        })
        .collect()
}
