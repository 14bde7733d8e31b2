//! One member: [`Election`] and [`Replication`] wired together. The daemon and the
//! whole-cluster simulation drive this, and only this.
//!
//! The wiring: a hello feeds the election and (for live members) tells the replication core
//! the sender's config head; a master change from the election is handed to replication;
//! history records from replication are stamped by the election (which owns the history and
//! gossips it in hellos); a peer the election declares dead is dropped from replication's push
//! set; replication's head is advertised in the election's hellos; the election's resume hold
//! after a stall is replication's commit hold. Every input first lets the election see the
//! time (so a stall is noticed before a queued message is acted on).
//!
//! Each core has its own output type ([`ElectionOutput`], [`ReplicationOutput`]) and its own
//! debug queue; `Node` maps both into the driver's [`Command`]s, forwarding debug lines as
//! `Notification::Debug` in the order it drains them.
//!
//! **Durability, two ways.** By default a `Persist` counts as carried out when the driver polls
//! again (a driver that saves in line, like the simulation's plain mode). A driver that saves on
//! another thread calls [`Node::defer_persist_confirmations`]: then a polled `Persist` stays
//! outstanding until [`Node::handle_persisted`] (or `handle_persist_failed`), and meanwhile
//! `poll_command` hands out only the election's outputs (hellos, history, master changes), so
//! failure detection never waits for a disk; everything the replication core emitted after the
//! `Persist` (replies, acknowledgements, pushes, the next `Persist`) waits for it, in order.
//! Hellos never advertise a head that is not on disk yet: while a `Persist` is pending they carry
//! the last head the driver confirmed.
//!
//! **The member's own section.** What a configuration says about this member is the
//! configuration's business ([`MemberConfig`]): the election settings its section gives it,
//! and the section itself as a change. Whenever a configuration is applied (handed to the
//! driver as `ConfigApplied`, so it is on disk), `Node` re-reads the election settings from it;
//! if the configuration has no section for this member (static clustering, or a master that
//! never saw its join: its snapshot replaced ours) and this member is not the master, it
//! commits its section as last seen through the master, one registration at a time, and again
//! after a failure when a configuration is next applied or a new master is known. Its outcome
//! is a debug line, not a `CommitDone` (no session asked for it).
//!
//! **Replies in doubt after a stall.** A master paused long enough to be replaced gives up its
//! claim on resume (`ElectionOutput::Stalled { yielded: true }`). Any success reply it had
//! queued and not handed out yet (a `CommitDone` or `CommitResult` Ok, waiting behind a save)
//! is for a revision no peer has: it is held until the resume hold ends. If this member is
//! master again then (nobody took over), the replies go out as they were; otherwise the
//! cluster went on without those revisions (the heal supersedes them here): a local commit
//! fails with [`CommitError::Unconfirmed`] and a peer's result is dropped (the requester is
//! still retrying, and its retry reaches the new master).

use crate::ElectionSettings;
use crate::{
    Command, ConfigState, Election, ElectionOutput, Instant, Notification, Replication,
    ReplicationOutput,
};
use roost_wire::{
    ClusterEvent, CommitError, MemberId, MemberMessage, ReplicationMessage, RevisionId,
};
use std::collections::{BTreeSet, HashSet, VecDeque};

/// What a configuration says about one member, beyond replicating it: implemented by the config
/// model (roost-config's `ClusterConfig`) and by the simulations' test config, so that the rules
/// in [`Node`] that use it run in both.
pub trait MemberConfig: ConfigState {
    /// The election settings the section of member `me` gives it (`me` is what it runs now:
    /// identity, model, boot and licenses come from there), or `None` when the configuration
    /// has no section for `me`: then the member keeps what it runs.
    fn election_settings(&self, me: &ElectionSettings) -> Option<ElectionSettings>;
    /// The section of member `me` as a change that recreates it, or `None` if there is none.
    fn own_section(&self, me: &ElectionSettings) -> Option<String>;
}

/// Request ids of registrations have this bit set (under the boot in the high half), so they
/// never meet the driver's (boot << 32 | n, n counted from 1).
const REGISTRATION: u64 = 1 << 31;

#[derive(Debug)]
pub struct Node<S: MemberConfig> {
    pub election: Election,
    pub replication: Replication<S>,
    out: VecDeque<(Lane, Out)>,
    master: Option<MemberId>,
    alive: BTreeSet<MemberId>,
    head: RevisionId,
    /// Head of the `Persist` last handed out by `poll_command`: carried out once the driver
    /// polls again (or, deferred, calls `handle_persisted`), unless it reports it failed first
    /// (`handle_persist_failed`).
    persisting: Option<RevisionId>,
    /// `Persist`s are confirmed by `handle_persisted`, not by the next poll.
    deferred: bool,
    /// The head last known to be on disk (loaded at start, or the last confirmed `Persist`).
    durable: RevisionId,
    /// The head of the last `ConfigApplied` handed to the driver: what the running
    /// configuration the faces show is at (the replication head may be ahead, unsaved).
    applied: RevisionId,
    /// The latest `now` an input brought (stamps history records held behind a `Persist`).
    now: Instant,
    /// Success replies are held in [`Lane::InDoubt`] until the resume hold ends.
    in_doubt: bool,
    /// This member's section as last seen in an applied configuration (kept when a snapshot
    /// from a master that does not know us lacks it, until it is registered again).
    own_section: Option<String>,
    /// The request id of the registration under way.
    registering: Option<u64>,
    registrations: u64,
}

impl<S: MemberConfig> Node<S> {
    pub fn new(mut election: Election, mut replication: Replication<S>, now: Instant) -> Self {
        let head = replication.head();
        election.set_config_head(head);
        let master = election.master();
        replication.handle_master(master, now);
        let own_section = replication.config().own_section(election.settings());
        let mut node = Node {
            election,
            replication,
            out: VecDeque::new(),
            master,
            alive: BTreeSet::new(),
            head,
            persisting: None,
            deferred: false,
            durable: head,
            applied: head,
            now,
            in_doubt: false,
            own_section,
            registering: None,
            registrations: 0,
        };
        node.pump(now);
        node
    }

    /// An authenticated, replay-checked message from `from`.
    pub fn handle_message(&mut self, from: MemberId, msg: MemberMessage, now: Instant) {
        match msg {
            MemberMessage::Hello(hello) => {
                if hello.member != from {
                    // A member may only speak for itself: the sealed header names the sender.
                    self.push(
                        Lane::Election,
                        Command::Notify(Notification::Debug(format!(
                            "dropping hello for {} sent by {from}",
                            hello.member
                        ))),
                    );
                    return;
                }
                let head = hello.config_head;
                self.election.handle_hello(hello, now);
                // Liveness and the master may have changed: settle that before replication acts
                // on the head, so a new master pushes to a member it has just learned about.
                self.pump(now);
                if self.alive.contains(&from) {
                    self.replication.handle_peer_head(from, head, now);
                }
            }
            MemberMessage::Replication(r) => {
                self.observe_time(now);
                self.replication.handle_message(from, r, now)
            }
            // The AP table is the adoption thread's: the member task routes it there.
            MemberMessage::Aps(_) => {}
        }
        self.pump(now);
    }

    /// Lets the election do what is due at `now` (and notice a stall) before another input
    /// is acted on.
    fn observe_time(&mut self, now: Instant) {
        self.election.handle_timeout(now);
        self.pump(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        // The election first: a stall's hold (and a yielded claim) reaches the replication
        // core before it acts on its own timers.
        self.observe_time(now);
        self.replication.handle_timeout(now);
        self.pump(now);
    }

    /// A commit from a local session; the outcome arrives as `Notification::CommitDone`.
    pub fn handle_local_commit(
        &mut self,
        request: u64,
        user: String,
        change: String,
        now: Instant,
    ) {
        self.observe_time(now);
        self.replication
            .handle_local_commit(request, user, change, now);
        self.pump(now);
    }

    /// Replaces the configuration state wholesale (join-cluster adopted the cluster's
    /// configuration), keeping the election — its identity, peers and history — as it is.
    /// The joiner also drops any master claim it held alone ([`Election::handle_rejoin`]), so
    /// it follows the cluster's live master instead of competing with it.
    pub fn replace_replication(&mut self, replication: Replication<S>, now: Instant) {
        self.replication = replication;
        self.applied = self.replication.head();
        self.durable = self.applied;
        self.alive.clear();
        self.election.handle_rejoin(now);
        self.registering = None;
        self.config_applied(now);
        self.pump(now);
        self.master = self.election.master();
        self.replication.handle_master(self.master, now);
        self.pump(now);
    }

    /// From now on a polled `Persist` stays outstanding until the driver reports its outcome
    /// ([`handle_persisted`](Self::handle_persisted) or
    /// [`handle_persist_failed`](Self::handle_persist_failed)); see the module docs.
    pub fn defer_persist_confirmations(&mut self) {
        self.deferred = true;
    }

    /// The driver saved the `Persist` of `head` (deferred mode). What waited for it is released
    /// to `poll_command`. A head that is not the outstanding one changes nothing.
    pub fn handle_persisted(&mut self, head: RevisionId, now: Instant) {
        // A save that completes as the first thing after a stall: the stall is noticed (and
        // what it puts in doubt held) before what waited for the save is released.
        self.observe_time(now);
        if self.persisting == Some(head) {
            self.persisting = None;
            self.confirm(head);
            self.pump(now);
        }
    }

    /// Whether a `Persist` is outstanding (deferred mode: handed out, outcome not reported).
    pub fn persist_pending(&self) -> bool {
        self.deferred && self.persisting.is_some()
    }

    fn confirm(&mut self, head: RevisionId) {
        self.replication.persist_confirmed(head);
        self.durable = head;
    }

    /// The next command, in order. A `Persist` counts as carried out when the driver polls
    /// again (unless deferred, see the module docs); if it fails, call
    /// [`handle_persist_failed`](Self::handle_persist_failed) first.
    pub fn poll_command(&mut self) -> Option<Command> {
        if !self.deferred {
            if let Some(head) = self.persisting.take() {
                self.confirm(head);
            }
        }
        let next = if self.persisting.is_some() {
            // Deferred and outstanding: only the election's outputs go ahead.
            let i = self.out.iter().position(|(l, _)| *l == Lane::Election)?;
            self.out.remove(i)?.1
        } else {
            let i = self.out.iter().position(|(l, _)| *l != Lane::InDoubt)?;
            self.out.remove(i)?.1
        };
        match next {
            Out::Record { event, reason } => {
                // Held back behind a `Persist` (see `pump`), which is now on disk.
                self.election.record(event, reason, self.now);
                let mut stamped: Vec<Command> = std::iter::from_fn(|| self.election.poll_debug())
                    .map(|line| Command::Notify(Notification::Debug(line)))
                    .collect();
                stamped.extend(
                    std::iter::from_fn(|| self.election.poll_output()).map(election_command),
                );
                for c in stamped.into_iter().rev() {
                    self.out.push_front((Lane::Replication, Out::Command(c)));
                }
                self.poll_command()
            }
            Out::Command(Command::Notify(Notification::CommitDone { request, result }))
                if self.registering == Some(request) =>
            {
                self.registering = None;
                let line = match result {
                    Ok(id) => format!("own device section registered in revision {id}"),
                    Err(e) => format!("re-registering own device section failed: {e}"),
                };
                Some(Command::Notify(Notification::Debug(line)))
            }
            Out::Command(mut cmd) => {
                match &mut cmd {
                    Command::Persist { head, .. } => self.persisting = Some(*head),
                    Command::Notify(Notification::ConfigApplied { head }) => {
                        self.applied = *head;
                        self.config_applied(self.now);
                    }
                    Command::Send {
                        msg: MemberMessage::Hello(h),
                        ..
                    }
                    | Command::Broadcast {
                        msg: MemberMessage::Hello(h),
                    } if h.config_head != self.durable && self.persist_ahead() => {
                        h.config_head = self.durable;
                    }
                    _ => {}
                }
                Some(cmd)
            }
        }
    }

    /// A `Persist` is outstanding or still queued: the replication head may not be on disk.
    fn persist_ahead(&self) -> bool {
        self.persisting.is_some() || self.persist_queued()
    }

    /// The driver could not carry out the `Persist` of `head` just polled (a full disk:
    /// `reason` is e.g. "no space left on device"). The replication core returns to the state
    /// before it and says so (a refused commit, no acknowledgement, a `config-update-failed`
    /// record); every queued output that depends on an unsaved revision is dropped: its
    /// `Persist`, `CommitDone`/`CommitResult` Ok, `ConfigApplied`, `Revisions`, `Snapshot` and
    /// `Ack` messages, history records of its success, and hellos advertise the head restored.
    /// Returns false (nothing changed) if `head` is not the `Persist` just polled or cannot be
    /// undone: then the driver must not go on.
    pub fn handle_persist_failed(&mut self, head: RevisionId, reason: &str, now: Instant) -> bool {
        if self.persisting != Some(head) {
            return false;
        }
        let Some(void) = self.replication.handle_persist_failed(head, reason, now) else {
            return false;
        };
        self.persisting = None;
        let void: HashSet<RevisionId> = void.into_iter().collect();
        let restored = self.replication.head();
        let pending: HashSet<u64> = self.replication.pending_commits().into_iter().collect();
        self.out.retain_mut(|(_, out)| match out {
            // Tells of a success that is void now.
            Out::Record {
                event: ClusterEvent::ConfigUpdateSuccess,
                ..
            } => false,
            Out::Record { .. } => true,
            Out::Command(cmd) => keep_after_failure(cmd, &void, restored, &pending),
        });
        self.pump(now);
        true
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match (
            self.election.poll_timeout(),
            self.replication.poll_timeout(),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The revision the running configuration is at, as the driver has been told
    /// (`ConfigApplied`): what status views report. With deferred saves the replication head
    /// can be ahead of it until the save is confirmed.
    pub fn applied_head(&self) -> RevisionId {
        self.applied
    }

    pub fn master(&self) -> Option<MemberId> {
        self.master
    }

    /// This member's section as last seen in an applied configuration (see the module docs).
    pub fn own_section(&self) -> Option<&str> {
        self.own_section.as_deref()
    }

    /// Moves outputs of both cores into `out`, feeding each core what the other decided, until
    /// both are quiet.
    fn pump(&mut self, now: Instant) {
        self.now = now;
        for _round in 0..64 {
            let mut progressed = false;
            while let Some(line) = self.election.poll_debug() {
                self.push(Lane::Election, Command::Notify(Notification::Debug(line)));
            }
            while let Some(o) = self.election.poll_output() {
                progressed = true;
                match &o {
                    ElectionOutput::MasterChanged { master } => {
                        self.master = *master;
                        self.replication.handle_master(*master, now);
                        if master.is_some() && self.section_missing() {
                            self.register(now);
                        }
                    }
                    ElectionOutput::Stalled { yielded: true, .. } => self.hold_success_replies(),
                    _ => {}
                }
                self.push(Lane::Election, election_command(o));
            }
            if self.in_doubt && !self.election.resuming() {
                self.settle_replies_in_doubt();
            }
            self.replication.handle_hold(self.election.resuming(), now);
            let alive: BTreeSet<MemberId> = self
                .election
                .alive_peers()
                .into_iter()
                .map(|(m, _)| m)
                .collect();
            for gone in self.alive.difference(&alive) {
                self.replication.handle_peer_down(*gone, now);
            }
            self.alive = alive;
            while let Some(line) = self.replication.poll_debug() {
                self.push(
                    Lane::Replication,
                    Command::Notify(Notification::Debug(line)),
                );
            }
            while let Some(o) = self.replication.poll_output() {
                progressed = true;
                match replication_command(o) {
                    Ok(cmd) => self.push(Lane::Replication, cmd),
                    Err((event, reason)) => {
                        if self.persist_ahead() {
                            // It may tell of a revision not on disk yet: stamped when polled.
                            self.out
                                .push_back((Lane::Replication, Out::Record { event, reason }));
                        } else {
                            // Stamped by the election, which emits the History notification.
                            self.election.record(event, reason, now);
                        }
                    }
                }
            }
            let head = self.replication.head();
            if head != self.head {
                self.head = head;
                self.election.set_config_head(head);
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }
}

impl<S: MemberConfig> Node<S> {
    /// A configuration was applied (see the module docs): the election runs what it says about
    /// this member, or this member's section is registered again.
    fn config_applied(&mut self, now: Instant) {
        let config = self.replication.config();
        let me = self.election.settings();
        match config.own_section(me) {
            Some(section) => {
                let settings = config.election_settings(me);
                self.own_section = Some(section);
                if let Some(s) = settings.filter(|s| s != self.election.settings()) {
                    self.election.handle_settings(s, now);
                }
            }
            None => self.register(now),
        }
        self.pump(now);
    }

    fn section_missing(&self) -> bool {
        self.own_section.is_some()
            && self
                .replication
                .config()
                .own_section(self.election.settings())
                .is_none()
    }

    /// Commits this member's section as last seen through the master, unless one is under
    /// way, this member is the master (its configuration is the cluster's), no master is known
    /// or it never had one.
    fn register(&mut self, now: Instant) {
        if self.registering.is_some() || self.election.is_master() || self.master.is_none() {
            return;
        }
        let Some(section) = self.own_section.clone() else {
            return;
        };
        self.registrations += 1;
        let request =
            u64::from(self.election.settings().boot) << 32 | REGISTRATION | self.registrations;
        self.registering = Some(request);
        self.push(
            Lane::Replication,
            Command::Notify(Notification::Debug(
                "own device section missing in cluster configuration, registering it".into(),
            )),
        );
        self.replication
            .handle_local_commit(request, "cluster".into(), section, now);
    }

    /// The master gave up its claim after a stall: its queued success replies are in doubt
    /// (see the module docs).
    fn hold_success_replies(&mut self) {
        for (lane, out) in self.out.iter_mut() {
            if *lane == Lane::Replication && matches!(out, Out::Command(c) if success_reply(c)) {
                *lane = Lane::InDoubt;
                self.in_doubt = true;
            }
        }
    }

    /// The resume hold is over: the replies in doubt go out if this member is master again,
    /// else they are turned into what they are now (see the module docs).
    fn settle_replies_in_doubt(&mut self) {
        self.in_doubt = false;
        let kept = self.election.is_master();
        let master = self.election.master();
        self.out.retain_mut(|(lane, out)| {
            if *lane != Lane::InDoubt {
                return true;
            }
            if kept {
                *lane = Lane::Replication;
                return true;
            }
            match out {
                Out::Command(Command::Notify(Notification::CommitDone { result, .. })) => {
                    *result = Err(CommitError::Unconfirmed { master });
                    // A refusal waits for no save (a later one may be pending by now).
                    *lane = Lane::Election;
                    true
                }
                _ => false,
            }
        });
    }

    fn push(&mut self, lane: Lane, cmd: Command) {
        self.out.push_back((lane, Out::Command(cmd)));
    }

    fn persist_queued(&self) -> bool {
        self.out
            .iter()
            .any(|(_, o)| matches!(o, Out::Command(Command::Persist { .. })))
    }
}

/// Whether a queued command survives the failed `Persist` of the `void` heads (see
/// [`Node::handle_persist_failed`]); a hello that advertises a void head is set to `restored`.
fn keep_after_failure(
    cmd: &mut Command,
    void: &HashSet<RevisionId>,
    restored: RevisionId,
    pending: &HashSet<u64>,
) -> bool {
    match cmd {
        Command::Persist { head, .. } => !void.contains(head),
        // Only a snapshot behind the failed one emits these: it is void too.
        Command::PersistRequests(_) => false,
        Command::Send { msg, .. } | Command::Broadcast { msg } => match msg {
            MemberMessage::Hello(h) => {
                if void.contains(&h.config_head) {
                    h.config_head = restored;
                }
                true
            }
            MemberMessage::Replication(r) => !depends_on(r, void),
            MemberMessage::Aps(_) => true,
        },
        Command::Notify(Notification::ConfigApplied { head }) => !void.contains(head),
        Command::Notify(Notification::CommitDone {
            request,
            result: Ok(id),
        }) => !void.contains(id) && !pending.contains(request),
        _ => true,
    }
}

/// A commit's success, to a local session or to a requesting peer.
fn success_reply(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Notify(Notification::CommitDone { result: Ok(_), .. })
            | Command::Send {
                msg: MemberMessage::Replication(ReplicationMessage::CommitResult {
                    result: Ok(_),
                    ..
                }),
                ..
            }
    )
}

/// Whether a replication message carries or acknowledges one of the `void` revisions.
fn depends_on(msg: &ReplicationMessage, void: &HashSet<RevisionId>) -> bool {
    match msg {
        ReplicationMessage::Revisions { revisions, .. } => {
            revisions.iter().any(|r| void.contains(&r.id))
        }
        ReplicationMessage::Snapshot { head, .. } | ReplicationMessage::Ack { head } => {
            void.contains(head)
        }
        ReplicationMessage::CommitResult { result: Ok(id), .. } => void.contains(id),
        _ => false,
    }
}

/// Which core an output came from: the election's are never held behind a pending `Persist`
/// (nor is a refusal that a resume hold settled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    Election,
    Replication,
    /// A replication success reply held through a resume hold (see the module docs).
    InDoubt,
}

/// Node's queue: driver commands, and history records held back behind a `Persist` (stamped
/// by the election when they are polled).
#[derive(Debug)]
// Records are rare and small; boxing every command instead would allocate once per output.
#[allow(clippy::large_enum_variant)]
enum Out {
    Command(Command),
    Record { event: ClusterEvent, reason: String },
}

fn election_command(o: ElectionOutput) -> Command {
    match o {
        ElectionOutput::Hello(h) => Command::Broadcast {
            msg: MemberMessage::Hello(h),
        },
        ElectionOutput::History(ev) => Command::Notify(Notification::History(ev)),
        ElectionOutput::MasterChanged { master } => {
            Command::Notify(Notification::MasterChanged { master })
        }
        ElectionOutput::OperStateChanged { state } => {
            Command::Notify(Notification::OperStateChanged { state })
        }
        ElectionOutput::Stalled { late, .. } => Command::Notify(Notification::Stalled { late }),
        ElectionOutput::PeerLost { peer, cause } => {
            Command::Notify(Notification::PeerLost { peer, cause })
        }
        ElectionOutput::PersistLost(records) => Command::PersistLost(records),
    }
}

/// The driver's form of a replication output; a history record (`Err`) is the election's to
/// stamp.
fn replication_command(o: ReplicationOutput) -> Result<Command, (ClusterEvent, String)> {
    Ok(match o {
        ReplicationOutput::Send { to, msg } => Command::Send {
            to,
            msg: MemberMessage::Replication(msg),
        },
        ReplicationOutput::Persist {
            head,
            config,
            revision,
            lineage,
        } => Command::Persist {
            head,
            config,
            revision,
            lineage,
        },
        ReplicationOutput::PersistSuperseded(s) => Command::PersistSuperseded(s),
        ReplicationOutput::PersistRequests(r) => Command::PersistRequests(r),
        ReplicationOutput::CommitDone { request, result } => {
            Command::Notify(Notification::CommitDone { request, result })
        }
        ReplicationOutput::ConfigApplied { head } => {
            Command::Notify(Notification::ConfigApplied { head })
        }
        ReplicationOutput::Record { event, reason } => return Err((event, reason)),
    })
}
