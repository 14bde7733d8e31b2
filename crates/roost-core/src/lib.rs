//! Sans-IO cluster cores.
//!
//! Plain state machines in the quinn-proto / openraft-Engine style: they are fed inputs with
//! `handle_*(input, now)` and emit outputs (their own type per core, [`ElectionOutput`] and
//! [`ReplicationOutput`]; debug lines on a queue of their own) that [`Node`] maps into the
//! driver's [`Command`]s (send, persist, notify), drained by `poll_command()`; `poll_timeout()` says when `handle_timeout(now)` is next due. No sockets,
//! clock or RNG inside, so one test can drive five members through thousands of partitions.
//!
//! * [`Election`]: membership from hellos, master choice, active/standby, failover,
//!   force-configured-state, cluster history.
//! * [`Replication`]: the master as config authority, commits, incremental and full transfer,
//!   divergence after a partition (superseded configs are kept, never lost).
//! * [`Node`]: one member = both of the above, wired together; what the daemon drives.

// No unsafe code here: what needs a libc call lives in the daemon and the binaries.
#![forbid(unsafe_code)]

pub mod election;
pub mod fallback;
pub mod node;
pub mod replication;

pub use election::{
    ClusterView, Election, ElectionOutput, ElectionSettings, LossCause, LostMember, MemberView,
};
pub use fallback::fallback_delay;
pub use node::{MemberConfig, Node};
pub use replication::{ConfigState, Replication, ReplicationOutput, ReplicationSettings};

pub use roost_wire::{CommitError, RequestRecord};

use roost_wire::{MemberId, MemberMessage, OperState, Revision, RevisionId, SupersededConfig};

/// Monotonic time: elapsed since an origin chosen by the driver (the daemon's start, or 0 in
/// simulations). Wall-clock timestamps are derived from it and a wall-clock origin.
pub type Instant = std::time::Duration;

/// What a core asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Send to one member; the driver knows its address from its hellos or static config.
    Send { to: MemberId, msg: MemberMessage },
    /// Send to every peer the driver knows (configured `cluster member ip` and learned).
    Broadcast { msg: MemberMessage },
    /// Durably store the configuration `config` at revision `head` (and `revision`, the change
    /// that produced it, if it was an incremental step) before acknowledging anything.
    Persist {
        head: RevisionId,
        config: String,
        revision: Option<Revision>,
        lineage: Vec<RevisionId>,
    },
    /// Durably keep a configuration that lost after a partition healed (saving the same head
    /// again replaces it).
    PersistSuperseded(SupersededConfig),
    /// Durably keep the (revision, origin member, request id) of lineage revisions that a
    /// snapshot named but this member never held, so that exactly-once survives a restart.
    /// Emitted just before the snapshot's `Persist`; on restart, entries for revisions not in
    /// the persisted lineage are ignored (see [`Replication::restore_requests`]).
    PersistRequests(Vec<RequestRecord>),
    /// Durably keep the members lost so far (the whole list replaces the stored one), so that
    /// their licenses stay in the pool for the grace period across a restart (see
    /// [`Election::restore_lost`]). Nothing waits for it.
    PersistLost(Vec<roost_wire::LostMemberRecord>),
    /// Something an operator or the daemon wants to know about.
    Notify(Notification),
}

/// Outputs for the daemon and for `debug cfgd cluster` sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notification {
    /// A `show cluster history` event (already stamped and merged into the history).
    History(roost_wire::HistoryEvent),
    /// Who is master changed (None: no master known yet).
    MasterChanged { master: Option<MemberId> },
    /// This member's operational state changed.
    OperStateChanged { state: OperState },
    /// A new configuration is applied locally (by a commit here or replication).
    ConfigApplied { head: RevisionId },
    /// The outcome of `Node::handle_local_commit` with this request id.
    CommitDone {
        request: u64,
        result: Result<RevisionId, CommitError>,
    },
    /// A line for sessions running `debug cfgd cluster` (WiNG's cfgd cluster debug text).
    Debug(String),
    /// This member's timers ran `late` past their deadline: the process was paused or starved
    /// (see the election's stall rules). The daemon logs it as a warning.
    Stalled { late: std::time::Duration },
    /// A peer that was alive is not any more, and why (`/metrics` counts the hello misses).
    PeerLost { peer: MemberId, cause: LossCause },
}
