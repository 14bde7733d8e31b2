//! Membership, master election and active/standby state, from hellos alone.
//!
//! See the module-level rules in the docs of [`Election`].

use crate::{Command, Instant};
use roost_wire::{
    ClusterMode, Hello, HistoryEvent, LicenceCounts, Mac, MemberId, Model, OperState, RevisionId,
};
use std::time::Duration;

/// This member's own cluster settings (from its device section of the running config, plus
/// identity). Changing them at run time goes through [`Election::handle_settings`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionSettings {
    pub member: MemberId,
    pub mac: Mac,
    pub hostname: String,
    pub model: Model,
    pub software_version: String,
    pub boot: u32,
    pub cluster_name: String,
    /// 1..=255, higher wins the master election; default 128.
    pub master_priority: u8,
    pub configured_mode: ClusterMode,
    pub force_configured_state: bool,
    pub force_configured_state_delay: Duration,
    pub hello_interval: Duration,
    /// A peer not heard from for this long is down.
    pub dead_interval: Duration,
    pub licences: LicenceCounts,
}

/// One member as seen by this member (for `show cluster members`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    pub member: MemberId,
    pub mac: Mac,
    pub hostname: String,
    pub model: Model,
    pub is_master: bool,
    pub oper_state: OperState,
    pub configured_mode: ClusterMode,
    pub master_priority: u8,
    pub config_head: RevisionId,
    pub licences: LicenceCounts,
    /// None for self; else when the last hello arrived.
    pub last_seen: Option<Instant>,
}

/// Everything `show cluster status|members|history` needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterView {
    pub me: MemberId,
    pub oper_state: OperState,
    pub master: Option<MemberId>,
    /// Self first, then alive peers by member id.
    pub members: Vec<MemberView>,
    /// Newest first.
    pub history: Vec<HistoryEvent>,
    /// Pending force-configured-state fallback, if armed: when it fires.
    pub force_configured_state_at: Option<Instant>,
}

/// Membership and election state machine. Rules:
/// TODO(helper): documented in this comment once implemented.
#[derive(Debug)]
pub struct Election {
    _todo: (),
}

impl Election {
    /// `wall_ms_at_now`: wall clock (ms since the Unix epoch) at `now`, to stamp history.
    pub fn new(settings: ElectionSettings, now: Instant, wall_ms_at_now: u64) -> Election {
        let _ = (settings, now, wall_ms_at_now);
        todo!()
    }
    /// A hello from a peer (already authenticated and replay-checked by the driver).
    pub fn handle_hello(&mut self, hello: Hello, now: Instant) {
        let _ = (hello, now);
        todo!()
    }
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }
    /// The local device's cluster settings changed (commit), or licences changed.
    pub fn handle_settings(&mut self, settings: ElectionSettings, now: Instant) {
        let _ = (settings, now);
        todo!()
    }
    /// The replication core's head moved: advertised in the next hellos.
    pub fn set_config_head(&mut self, head: RevisionId) {
        let _ = head;
        todo!()
    }
    /// Record a history event of this member (stamped now; goes out in hellos).
    pub fn record(&mut self, event: roost_wire::ClusterEvent, reason: String, now: Instant) {
        let _ = (event, reason, now);
        todo!()
    }
    pub fn poll_command(&mut self) -> Option<Command> {
        todo!()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }
    pub fn master(&self) -> Option<MemberId> {
        todo!()
    }
    pub fn is_master(&self) -> bool {
        todo!()
    }
    pub fn oper_state(&self) -> OperState {
        todo!()
    }
    /// Alive peers (not self) and their advertised config heads.
    pub fn alive_peers(&self) -> Vec<(MemberId, RevisionId)> {
        todo!()
    }
    pub fn view(&self, now: Instant) -> ClusterView {
        let _ = now;
        todo!()
    }
    pub fn settings(&self) -> &ElectionSettings {
        todo!()
    }
}
