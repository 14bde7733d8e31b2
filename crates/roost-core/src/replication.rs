//! Configuration replication: the master is the authority.
//! TODO(helper): rules documented here once implemented.

use crate::{Command, Instant};
use roost_wire::{MemberId, ReplicationMessage, Revision, RevisionId, SupersededConfig};
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
            log_capacity: 1024,
        }
    }
}

/// Replication state machine for one member.
#[derive(Debug)]
pub struct Replication<S: ConfigState> {
    _todo: std::marker::PhantomData<S>,
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
        let _ = (me, settings, config, head, log, lineage, superseded);
        todo!()
    }
    /// Who is master now (from the election); `is_self` when it is this member.
    pub fn handle_master(&mut self, master: Option<MemberId>, now: Instant) {
        let _ = (master, now);
        todo!()
    }
    /// A peer's advertised head (from its hello): the master uses it to push catch-up.
    pub fn handle_peer_head(&mut self, peer: MemberId, head: RevisionId, now: Instant) {
        let _ = (peer, head, now);
        todo!()
    }
    /// A peer is gone (dead interval): stop pushing to it.
    pub fn handle_peer_down(&mut self, peer: MemberId, now: Instant) {
        let _ = (peer, now);
        todo!()
    }
    pub fn handle_message(&mut self, from: MemberId, msg: ReplicationMessage, now: Instant) {
        let _ = (from, msg, now);
        todo!()
    }
    /// A commit from a local session; the outcome arrives as `Notification::CommitDone`.
    pub fn handle_local_commit(&mut self, request: u64, user: String, change: String, now: Instant) {
        let _ = (request, user, change, now);
        todo!()
    }
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }
    pub fn poll_command(&mut self) -> Option<Command> {
        todo!()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }
    pub fn head(&self) -> RevisionId {
        todo!()
    }
    pub fn config(&self) -> &S {
        todo!()
    }
    /// Recent revisions, oldest first.
    pub fn log(&self) -> &[Revision] {
        todo!()
    }
    pub fn superseded(&self) -> &[SupersededConfig] {
        todo!()
    }
}
