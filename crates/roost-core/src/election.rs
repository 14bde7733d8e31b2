//! Membership, master election and active/standby state, from hellos alone.
//!
//! See the module-level rules in the docs of [`Election`].

use crate::Instant;
use roost_wire::{
    ClusterEvent, ClusterMode, Hello, HistoryEvent, LicenseCounts, Mac, MemberId, Model, OperState,
    RevisionId,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
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
    pub licenses: LicenseCounts,
    /// How long a lost member's licenses stay in the pool (`license grace-period`, WiNG's
    /// grace period; default 100 days), counted on the wall clock from its loss.
    pub license_grace_period: Duration,
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
    pub licenses: LicenseCounts,
    /// Its boot counter (from its hellos): a higher one means it restarted.
    pub boot: u32,
    /// None for self; else when the last hello arrived.
    pub last_seen: Option<Instant>,
}

/// A member that was alive and is not any more (its hellos stopped, or it turned
/// incompatible): `show cluster members` keeps listing it, as down, until it comes back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostMember {
    /// As it last was (its last hello; `last_seen` is None when it was restored from the store).
    pub last: MemberView,
    /// When it was declared lost: wall clock (ms since the Unix epoch), so that the grace
    /// period survives restarts.
    pub lost_wall_ms: u64,
    /// Its licenses are still in the pool: the license grace period has not ended.
    pub in_grace: bool,
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
    /// Members lost (newest last; also those lost before a restart), at most
    /// [`LOST_CAPACITY`].
    pub lost: Vec<LostMember>,
    /// `license grace-period`: how long a lost member's licenses stay in the pool.
    pub license_grace_period: Duration,
}

/// What the election asks of its driver ([`crate::Node`] maps these into
/// [`crate::Command`]s), drained in order by [`Election::poll_output`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElectionOutput {
    /// Broadcast this hello to every peer.
    Hello(Hello),
    /// A `show cluster history` event (stamped and merged into the history).
    History(HistoryEvent),
    /// Who is master changed (None: no master known yet).
    MasterChanged { master: Option<MemberId> },
    /// This member's operational state changed.
    OperStateChanged { state: OperState },
    /// This member's timers ran `late` past their deadline (see "Stalls"). `yielded`: it was
    /// master and gave up its claim; what it created as master and has not confirmed yet is in
    /// doubt until the resume hold ends (`Node` holds those replies).
    Stalled { late: Duration, yielded: bool },
    /// A peer that was alive is not any more (`show cluster history` has the line too).
    PeerLost { peer: MemberId, cause: LossCause },
    /// The lost members changed (one lost, back, or its grace period ended): durably keep
    /// this whole list, so that their licenses stay in the pool across a restart
    /// ([`Election::restore_lost`]).
    PersistLost(Vec<roost_wire::LostMemberRecord>),
}

/// Why a peer stopped counting as a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossCause {
    /// Its dead interval ran out without a hello: a hello miss.
    Silence,
    /// Its hellos turned incompatible (another release, model or cluster name): it missed no
    /// hello.
    Incompatible,
}

/// How many events the cluster history keeps (newest kept); the store keeps as many.
pub use roost_wire::HISTORY_CAPACITY;
/// How many of its own most recent history events a member puts in each hello.
pub const HELLO_HISTORY: usize = 16;
/// A debug line about an ignored (incompatible) peer is repeated at most this often per peer.
pub const IGNORED_PEER_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Intervals below this are raised to it, so timers always move forward.
const MIN_INTERVAL: Duration = Duration::from_millis(1);
/// How many lost members the view keeps (oldest forgotten first).
pub const LOST_CAPACITY: usize = 64;

/// Membership and election state machine: one per member, fed hellos, settings and timeouts,
/// emitting [`ElectionOutput`]s (and debug lines, [`Election::poll_debug`]). There are no election rounds: every decision is taken from the
/// latest hello of each alive peer, so a master is known within one hello exchange.
///
/// # Hellos
/// * A member broadcasts a [`Hello`] with its complete election state (identity, model,
///   software version, boot, cluster name, master priority, configured mode, operational
///   state, whether it claims mastership, whom it follows, force-configured-state, config head,
///   license counts and its own ≤ [`HELLO_HISTORY`] most recent history events) every
///   `hello_interval`, immediately at start, and immediately whenever something peers act on
///   changes (its master claim, whom it follows, its operational state, its settings), so a
///   failover or step-down reaches the peers within one message delay, not one interval. It
///   also answers a new member's first hello at once, so a newcomer learns the members (and
///   the master) without waiting an interval. The periodic schedule restarts after every hello
///   sent. A new config head (`set_config_head`) only goes out with the next hello.
///
/// # Membership
/// * A peer is *alive* while its last accepted hello is younger than `dead_interval`
///   (it is dead at exactly `last hello + dead_interval`).
/// * Hellos from peers running another `software_version`, another `model`, or another
///   `cluster_name` (when both names are non-empty) are ignored: such a peer is never a member.
///   Each is reported as a `Debug` line ("ignoring hello from …: software version … differs
///   from ours …"), at most once per peer per [`IGNORED_PEER_LOG_INTERVAL`]. An alive member
///   that turns incompatible (it restarted with another release, or our own settings changed)
///   is dropped at once as lost. Hellos carrying our own member id are ignored the same way.
/// * A hello with a lower `boot` than the sender's latest is stale and ignored; a higher
///   `boot` means the peer restarted: its old state is discarded and it counts as new.
/// * A peer that becomes alive (never seen, restarted, or back after being lost) is recorded
///   as `start-election` "new member {id} joined". A peer whose hellos stop is recorded as
///   `member-down` "member {id} lost (no hello for {n} ms)" the moment its dead interval
///   expires, and the master and operational state are re-evaluated at once.
///
/// # Master election
/// Members are ranked by master priority (higher first), then by member id (lower first), so
/// any two members compare the same way everywhere. The master is the configuration
/// authority, so mastership is *sticky*: a better-ranked member that joins a cluster with a
/// live master does not take over (WiNG: "no change in master, member list changed"), because
/// the newcomer's configuration must not win. After every input:
/// 1. **Startup hold**: for one `dead_interval` after start a member collects hellos and never
///    claims mastership (it does follow a claimant it hears of).
/// 2. **Follow the best claimant**: if any alive member (including self) claims to be master,
///    the member follows the best-ranked claimant. Several claimants exist after a partition
///    heals; a claimant that sees a better-ranked claimant steps down at once, so exactly the
///    best-ranked claimant stays master.
/// 3. **Claim**: if no alive member claims, the best-ranked alive member (including self, once
///    past its startup hold) claims mastership: "Announcing self as master", recorded as
///    `start-config-sync` "{id} won election and is the cluster master". The others have no
///    master (`None`) until its claim arrives, which is immediate since a claim sends a hello.
///
/// Hence members with the same view of the alive set converge on the same master.
/// `MasterChanged` is emitted whenever the followed master changes. A member that restarts
/// comes back as a non-claimant, so losing a restarting master's claim triggers rule 3.
/// Reachability is assumed to be transitive (one partition = one set of mutually reachable
/// members): with a non-transitive cut (A–B and B–C up, A–C down) A and C may both claim,
/// and B follows the better-ranked one.
///
/// # Operational state (active / standby)
/// * Configured `active` → always active ("Configured for active, stay active" at start,
///   "Configured for active, become active" on a mode change).
/// * Configured `standby` → standby ("Configured for standby, become standby") while any
///   alive peer is configured active. Once past the startup hold, a standby that sees no
///   alive configured-active peer fails over to active at once ("Primary down, Failed over to
///   active"), i.e. exactly when the last active peer's dead interval expires.
/// * A failed-over standby stays active when a configured-active member comes back, unless
///   force-configured-state is enabled on itself or in any alive configured-active peer's
///   hello: then it arms the fallback timer for `force_configured_state_delay` ("all cluster
///   members are connected; force-configured-state is enabled, start timer"). When the timer
///   fires while an active member is alive it goes back to standby ("force-configured-state
///   delay expired, back to configured standby"). If no active member is alive any more (or
///   force-configured-state got disabled everywhere) the timer is cancelled ("canceling
///   force_conf_state_timer"); it is armed afresh when an active member returns again.
/// * Without force-configured-state, a failed-over member stays active until it restarts or
///   its mode changes.
/// * Settings apply at once: a mode change to active makes the member active; a mode change to
///   standby makes it standby if a configured-active peer is alive (otherwise it stays active
///   as a failed-over standby). `OperStateChanged` is emitted on each change.
///
/// # History
/// * [`Election::record`] stamps an event with this member's id, current hostname, a sequence
///   number `boot << 32 | counter` (unique across restarts) and the wall clock derived from
///   `now`; it is stored and emitted as `Notify(History(..))`. Start records
///   `start-election` "new member {self} joined" and the initial `is-active`/`is-standby`.
/// * A hello carries only the sender's own recent events (they are not relayed further).
///   Events from peers' hellos are merged, de-duplicated by (member, seq), and emitted as
///   `Notify(History(..))` when new. The history keeps the newest [`HISTORY_CAPACITY`]
///   events, ordered by (wall clock, member, seq); [`ClusterView::history`] is newest first.
///   It is not persisted: a restarted member relearns the others' recent events from hellos.
///
/// # Stalls (the process was paused or starved)
/// The driver is asked to call again by [`Election::poll_timeout`], which is never more than
/// one hello interval away. An input whose `now` is later than that deadline by more than one
/// hello interval means this member was not running (SIGSTOP, a VM pause, a starved thread):
/// the peers' hellos sent meanwhile are still queued for it, so their silence is not evidence.
/// On such a *stall* the member
/// * restarts every peer's dead interval from `now` (nobody is declared lost for silence that
///   overlaps the stall; a peer that really died is lost one dead interval later), and
/// * enters a *resume hold* of one dead interval, like the startup hold: it claims no
///   mastership and does not fail over, and [`Election::resuming`] is true, which `Node` turns
///   into a commit hold in the replication core (a master creates no revision before it has
///   read what arrived and heard a round of hellos).
///
/// A master that resumes gives up its claim at once, before it sends a hello or reads its
/// inbox, and reports `Stalled { yielded: true }`: its peers may have lost it, elected another
/// master and acknowledged commits on top of the last revision they had, and a resumed claim
/// that outranks that master would make it step down, so that the heal supersedes its
/// acknowledged commits with revisions the paused master never got to confirm. (Detecting a
/// stall takes two hello intervals of silence, within one hello interval of the dead interval
/// with the defaults; and the hold stops its commits anyway, so the claim is worth nothing
/// until the hold ends.) Through the hold it follows any master it hears of; if none is
/// claimed when the hold ends, it is elected again as usual.
///
/// # Time and evaluation order
/// Every input is followed by one evaluation pass: expire dead peers (and the startup hold),
/// then the operational state (so a failover is recorded before a resulting claim, as in
/// WiNG's history), then the master, then a hello if one is due. Time only enters as `now`. [`Election::poll_timeout`] is the earliest of: the next hello,
/// the end of the startup hold, the fallback timer and every alive peer's expiry. Every
/// `handle_*` call first does whatever is due at `now`, so a driver calling late catches up
/// in one call, and calling early is harmless.
#[derive(Debug)]
pub struct Election {
    settings: ElectionSettings,
    origin: Instant,
    wall_origin: u64,
    startup_hold_until: Instant,
    in_startup_hold: bool,
    peers: BTreeMap<MemberId, Peer>,
    /// Highest boot seen per peer (also of peers that are not alive any more).
    boots: BTreeMap<MemberId, u32>,
    /// Last debug line about an ignored peer.
    ignored_logged: BTreeMap<MemberId, Instant>,
    is_master: bool,
    master: Option<MemberId>,
    /// Last best candidate reported in a debug line (no claimant case).
    best_logged: Option<MemberId>,
    /// The operational state and what it waits for.
    phase: OperPhase,
    /// A member joined since the last election pass (for the "no change in master" line).
    members_changed: bool,
    config_head: RevisionId,
    next_hello: Instant,
    hello_due: bool,
    history: BTreeMap<(u64, MemberId, u64), HistoryEvent>,
    history_ids: BTreeSet<(MemberId, u64)>,
    own_recent: VecDeque<HistoryEvent>,
    next_seq: u64,
    outputs: VecDeque<ElectionOutput>,
    /// `debug cfgd cluster` lines, apart from the outputs.
    debug: VecDeque<String>,
    /// The latest `now` by which the driver should have called again (`poll_timeout` after
    /// the last input): an input much later than this is a stall.
    wake_by: Instant,
    /// The last stall's resume time: no peer's dead interval runs from before it.
    resumed_at: Option<Instant>,
    /// End of the resume hold after a stall.
    resume_hold_until: Option<Instant>,
    /// Members that were alive and are not any more (newest last), for the view.
    lost: VecDeque<LostMember>,
    /// `lost` changed since it was last emitted for persisting.
    lost_dirty: bool,
    /// See [`Election::changes`].
    changes: u64,
    /// See [`Election::history_changes`].
    history_changes: u64,
}

#[derive(Debug)]
struct Peer {
    hello: Hello,
    last_seen: Instant,
}

impl Peer {
    fn view(&self) -> MemberView {
        let h = &self.hello;
        MemberView {
            member: h.member,
            mac: h.mac,
            hostname: h.hostname.clone(),
            model: h.model,
            is_master: h.is_master,
            oper_state: h.oper_state,
            configured_mode: h.configured_mode,
            master_priority: h.master_priority,
            config_head: h.config_head,
            licenses: h.licenses,
            boot: h.boot,
            last_seen: Some(self.last_seen),
        }
    }
}

/// Election rank: greater is better (higher priority, then lower member id).
fn rank(priority: u8, member: MemberId) -> (u8, std::cmp::Reverse<MemberId>) {
    (priority, std::cmp::Reverse(member))
}

impl Election {
    /// `wall_ms_at_now`: wall clock (ms since the Unix epoch) at `now`, to stamp history.
    pub fn new(settings: ElectionSettings, now: Instant, wall_ms_at_now: u64) -> Election {
        let hold = settings.dead_interval.max(MIN_INTERVAL);
        let phase = match settings.configured_mode {
            ClusterMode::Active => OperPhase::Active,
            ClusterMode::Standby => OperPhase::Standby,
        };
        let mut e = Election {
            next_seq: (settings.boot as u64) << 32 | 1,
            settings,
            origin: now,
            wall_origin: wall_ms_at_now,
            startup_hold_until: now + hold,
            in_startup_hold: true,
            peers: BTreeMap::new(),
            boots: BTreeMap::new(),
            ignored_logged: BTreeMap::new(),
            is_master: false,
            master: None,
            best_logged: None,
            phase,
            members_changed: false,
            config_head: RevisionId::ZERO,
            next_hello: now,
            hello_due: true,
            history: BTreeMap::new(),
            history_ids: BTreeSet::new(),
            own_recent: VecDeque::new(),
            outputs: VecDeque::new(),
            debug: VecDeque::new(),
            wake_by: now,
            resumed_at: None,
            resume_hold_until: None,
            lost: VecDeque::new(),
            lost_dirty: false,
            changes: 0,
            history_changes: 0,
        };
        let me = e.settings.member;
        e.debug(format!(
            "starting election for {me} (prio {}, mode {}), waiting {} ms for members",
            e.settings.master_priority,
            e.settings.configured_mode,
            hold.as_millis()
        ));
        e.record(
            ClusterEvent::StartElection,
            format!("new member {me} joined"),
            now,
        );
        match phase.state() {
            OperState::Active => e.record(
                ClusterEvent::IsActive,
                "Configured for active, stay active".into(),
                now,
            ),
            OperState::Standby => e.record(
                ClusterEvent::IsStandby,
                "Configured for standby, become standby".into(),
                now,
            ),
        }
        e.step(now);
        e
    }

    /// A hello from a peer (already authenticated and replay-checked by the driver).
    pub fn handle_hello(&mut self, hello: Hello, now: Instant) {
        self.check_stall(now);
        self.expire_peers(now);
        self.accept_hello(hello, now);
        self.step(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_stall(now);
        self.step(now);
    }

    /// join-cluster made this member part of another cluster (new key, new configuration):
    /// whatever it claimed alone no longer holds. It drops any master claim and starts a
    /// fresh startup hold, so it follows the cluster's live master instead of competing with
    /// it (mastership is sticky: a joiner never takes over).
    pub fn handle_rejoin(&mut self, now: Instant) {
        self.check_stall(now);
        if self.is_master {
            self.is_master = false;
            self.changes += 1;
            self.debug("joined another cluster; no longer claiming mastership".into());
        }
        self.in_startup_hold = true;
        self.startup_hold_until = now + self.dead_interval();
        self.best_logged = None;
        self.set_master(None);
        self.hello_due = true;
        self.step(now);
    }

    /// Whether this member is in its resume hold after a stall (see the type's docs): it must
    /// not create revisions yet.
    pub fn resuming(&self) -> bool {
        self.resume_hold_until.is_some()
    }

    /// The local device's cluster settings changed (commit), or licenses changed.
    pub fn handle_settings(&mut self, settings: ElectionSettings, now: Instant) {
        self.check_stall(now);
        if settings == self.settings {
            self.step(now);
            return;
        }
        let old = std::mem::replace(&mut self.settings, settings);
        self.changes += 1;
        let new = &self.settings;
        if (
            old.master_priority,
            old.configured_mode,
            old.force_configured_state,
        ) != (
            new.master_priority,
            new.configured_mode,
            new.force_configured_state,
        ) {
            let fcs = if new.force_configured_state {
                "enabled"
            } else {
                "disabled"
            };
            let line = format!(
                "cluster settings changed: prio {}, mode {}, force-configured-state {fcs}",
                new.master_priority, new.configured_mode
            );
            self.debug(line);
        }
        // A delay changed while the fallback timer runs (e.g. the primary's delay arrived with
        // the first config sync): keep the moment it was armed, apply the new delay.
        if old.force_configured_state_delay != self.settings.force_configured_state_delay {
            if let OperPhase::FallingBack { at } = self.phase {
                let armed = at.saturating_sub(old.force_configured_state_delay);
                let at = armed + self.settings.force_configured_state_delay;
                self.set_phase(OperPhase::FallingBack { at });
            }
        }
        if old.boot != self.settings.boot {
            self.next_seq = (self.settings.boot as u64) << 32 | 1;
        }
        // Leaving active mode: standby at once if an active member is there to take over.
        if old.configured_mode == ClusterMode::Active
            && self.settings.configured_mode == ClusterMode::Standby
            && self.phase.state() == OperState::Active
        {
            self.expire_peers(now);
            if self.active_peer_alive() {
                self.set_phase(OperPhase::Standby);
                self.record(
                    ClusterEvent::IsStandby,
                    "Configured for standby, become standby".into(),
                    now,
                );
            } else {
                self.debug(
                    "configured for standby but no active member is connected; stay active".into(),
                );
                self.set_phase(OperPhase::StandbyWhenActiveAppears);
            }
        }
        self.hello_due = true;
        self.step(now);
    }

    /// The replication core's head moved: advertised in the next hellos, including any hello
    /// queued but not yet polled (the first hello, queued by [`Election::new`] before the
    /// driver could tell the head, must not advertise an empty configuration).
    pub fn set_config_head(&mut self, head: RevisionId) {
        self.changes += u64::from(self.config_head != head);
        self.config_head = head;
        for o in self.outputs.iter_mut() {
            if let ElectionOutput::Hello(h) = o {
                h.config_head = head;
            }
        }
    }

    /// The next output, in order.
    pub fn poll_output(&mut self) -> Option<ElectionOutput> {
        self.outputs.pop_front()
    }

    /// The next `debug cfgd cluster` line (WiNG's cfgd cluster debug text).
    pub fn poll_debug(&mut self) -> Option<String> {
        self.debug.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.next_hello;
        for p in self.peers.values() {
            t = t.min(self.expiry(p));
        }
        if self.in_startup_hold {
            t = t.min(self.startup_hold_until);
        }
        if let Some(until) = self.resume_hold_until {
            t = t.min(until);
        }
        if let Some(at) = self.phase.fallback_at() {
            t = t.min(at);
        }
        if let Some(at) = self.next_grace_end() {
            t = t.min(at);
        }
        Some(t)
    }

    pub fn master(&self) -> Option<MemberId> {
        self.master
    }

    /// Counts changes to what [`Election::view`] shows, apart from the peers' last-seen times:
    /// a driver that publishes the view needs to rebuild it only when this moves.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Counts changes to the history (a subset of [`Election::changes`]).
    pub fn history_changes(&self) -> u64 {
        self.history_changes
    }

    /// The history, newest first (what [`Election::view`] copies into `history`).
    pub fn history(&self) -> impl Iterator<Item = &HistoryEvent> {
        self.history.values().rev()
    }

    pub fn is_master(&self) -> bool {
        self.is_master
    }

    pub fn oper_state(&self) -> OperState {
        self.phase.state()
    }

    /// Alive peers (not self) and their advertised config heads.
    pub fn alive_peers(&self) -> Vec<(MemberId, RevisionId)> {
        self.peers
            .iter()
            .map(|(id, p)| (*id, p.hello.config_head))
            .collect()
    }

    /// The state as of the latest input (call `handle_timeout` first for a fresh one; `now` is
    /// not used to second-guess liveness, so the view always agrees with [`Election::master`]).
    pub fn view(&self, now: Instant) -> ClusterView {
        let mut v = self.view_without_history(now);
        v.history = self.history().cloned().collect();
        v
    }

    /// [`Election::view`] with an empty `history` (read it with [`Election::history`]): what a
    /// driver that publishes often copies, since the history is large and changes rarely.
    pub fn view_without_history(&self, now: Instant) -> ClusterView {
        let _ = now;
        let s = &self.settings;
        let mut members = vec![MemberView {
            member: s.member,
            mac: s.mac,
            hostname: s.hostname.clone(),
            model: s.model,
            is_master: self.is_master,
            oper_state: self.phase.state(),
            configured_mode: s.configured_mode,
            master_priority: s.master_priority,
            config_head: self.config_head,
            licenses: s.licenses,
            boot: s.boot,
            last_seen: None,
        }];
        members.extend(self.peers.values().map(Peer::view));
        ClusterView {
            me: s.member,
            oper_state: self.phase.state(),
            master: self.master,
            members,
            history: Vec::new(),
            force_configured_state_at: self.phase.fallback_at(),
            lost: self.lost.iter().cloned().collect(),
            license_grace_period: s.license_grace_period,
        }
    }

    pub fn settings(&self) -> &ElectionSettings {
        &self.settings
    }

    /// Whether this member is still in its startup hold (may not claim mastership yet).
    pub fn in_startup_hold(&self) -> bool {
        self.in_startup_hold
    }

    /// The hello this member would send now.
    pub fn hello(&self) -> Hello {
        let s = &self.settings;
        Hello {
            member: s.member,
            mac: s.mac,
            hostname: s.hostname.clone(),
            model: s.model,
            software_version: s.software_version.clone(),
            boot: s.boot,
            cluster_name: s.cluster_name.clone(),
            master_priority: s.master_priority,
            configured_mode: s.configured_mode,
            oper_state: self.phase.state(),
            is_master: self.is_master,
            master: self.master,
            force_configured_state: s.force_configured_state,
            config_head: self.config_head,
            licenses: s.licenses,
            history: self.own_recent.iter().cloned().collect(),
        }
    }

    // ---- internals ----

    fn dead_interval(&self) -> Duration {
        self.settings.dead_interval.max(MIN_INTERVAL)
    }

    fn hello_interval(&self) -> Duration {
        self.settings.hello_interval.max(MIN_INTERVAL)
    }

    fn debug(&mut self, line: String) {
        self.debug.push_back(line);
    }

    fn notify(&mut self, o: ElectionOutput) {
        self.outputs.push_back(o);
    }

    /// Does everything due at `now`, then re-evaluates master and operational state and sends
    /// a hello if one is due.
    fn step(&mut self, now: Instant) {
        self.expire_peers(now);
        self.expire_grace(now);
        if self.in_startup_hold && now >= self.startup_hold_until {
            self.in_startup_hold = false;
            let n = self.peers.len();
            self.debug(format!("startup hold over, {n} other member(s) connected"));
        }
        if self.resume_hold_until.is_some_and(|until| now >= until) {
            self.resume_hold_until = None;
            let n = self.peers.len();
            self.debug(format!("resume hold over, {n} other member(s) connected"));
        }
        self.update_oper_state(now);
        self.elect(now);
        if now >= self.next_hello {
            self.hello_due = true;
        }
        if self.hello_due {
            self.hello_due = false;
            self.next_hello = now + self.hello_interval();
            let hello = self.hello();
            self.outputs.push_back(ElectionOutput::Hello(hello));
        }
        self.emit_lost();
        self.wake_by = self.poll_timeout().unwrap_or(now).max(now);
    }
}

mod grace;
mod history;
mod master;
mod membership;
mod oper;
use oper::OperPhase;
#[cfg(test)]
mod tests;
