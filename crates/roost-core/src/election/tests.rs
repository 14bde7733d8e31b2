//! Layer-1 tests of [`Election`]: a tiny in-test network moves broadcast hellos between a few
//! instances under simulated time, with link cuts, kills and restarts. No sleeps.

use super::*;
use proptest::prelude::*;
use rand::SeedableRng;
use roost_simnet::Net as Links;
use std::collections::BTreeMap;

const HELLO: Duration = Duration::from_millis(100);
const DEAD: Duration = Duration::from_millis(300);
const FCS_DELAY: Duration = Duration::from_secs(2);
const WALL0: u64 = 1_503_952_726_000; // 2017-08-28 20:38:46 UTC

fn ms(n: u64) -> Instant {
    Duration::from_millis(n)
}

/// The seed's two controllers.
const E1EE16: [u8; 6] = [0x52, 0x54, 0x00, 0xE1, 0xEE, 0x16];
const A3AA117: [u8; 6] = [0x52, 0x54, 0x00, 0x3A, 0xA1, 0x17];

fn mac_n(n: u8) -> [u8; 6] {
    [0x52, 0x54, 0x00, 0x10, 0x00, n]
}

fn settings(mac: [u8; 6], prio: u8, mode: ClusterMode) -> ElectionSettings {
    let mac = Mac(mac);
    ElectionSettings {
        member: mac.member_id(),
        mac,
        hostname: mac.default_hostname(Model::Vx9000),
        model: Model::Vx9000,
        software_version: "5.9.1.0".into(),
        boot: 1,
        cluster_name: "WING-CLUSTER".into(),
        master_priority: prio,
        configured_mode: mode,
        force_configured_state: false,
        force_configured_state_delay: FCS_DELAY,
        hello_interval: HELLO,
        dead_interval: DEAD,
        licenses: LicenseCounts::default(),
        license_grace_period: std::time::Duration::from_secs(100 * 86_400),
    }
}

fn id(mac: [u8; 6]) -> MemberId {
    Mac(mac).member_id()
}

/// A connected component: its members and the links among them.
type Topology = (Vec<usize>, Vec<(usize, usize)>);

struct Slot {
    settings: ElectionSettings,
    e: Option<Election>,
    /// Everything the instance emitted, not yet taken by the test.
    out: Drained,
}

/// Moves broadcast hellos instantly between connected, running instances.
struct Net {
    now: Instant,
    slots: Vec<Slot>,
    /// The links, and the hellos in flight (fault-free: delivered at the instant they are sent).
    links: Links<Hello>,
    /// Unused by a fault-free network, which draws nothing.
    rng: rand::rngs::StdRng,
    /// Per connected component (members, links inside): since when it has been that way.
    topo_since: BTreeMap<Topology, Instant>,
    /// Check "at most one claimant per stable, fully connected component" after every step.
    check: bool,
    /// How many component checks passed.
    checks: u64,
}

impl Net {
    fn new(settings: Vec<ElectionSettings>) -> Net {
        let n = settings.len();
        Net {
            now: Duration::ZERO,
            slots: settings
                .into_iter()
                .map(|settings| Slot {
                    settings,
                    e: None,
                    out: Drained::default(),
                })
                .collect(),
            links: Links::new(n),
            rng: rand::rngs::StdRng::seed_from_u64(0),
            topo_since: BTreeMap::new(),
            check: false,
            checks: 0,
        }
    }

    /// All instances started at time 0.
    fn started(settings: Vec<ElectionSettings>) -> Net {
        let mut net = Net::new(settings);
        for i in 0..net.slots.len() {
            net.start(i);
        }
        net
    }

    fn start(&mut self, i: usize) {
        let wall = WALL0 + self.now.as_millis() as u64;
        self.slots[i].e = Some(Election::new(
            self.slots[i].settings.clone(),
            self.now,
            wall,
        ));
        // A new incarnation changes its component even if the links did not.
        self.topo_since.retain(|(comp, _), _| !comp.contains(&i));
        self.retopo();
        self.deliver();
    }

    fn kill(&mut self, i: usize) {
        self.slots[i].e = None;
        self.retopo();
    }

    /// A new incarnation (boot + 1).
    fn restart(&mut self, i: usize) {
        self.slots[i].e = None;
        self.slots[i].settings.boot += 1;
        self.start(i);
    }

    fn set_link(&mut self, a: usize, b: usize, up: bool) {
        self.links.set_link(a, b, up);
        self.retopo();
    }

    fn cut(&mut self, a: usize, b: usize) {
        self.set_link(a, b, false);
    }

    fn heal(&mut self, a: usize, b: usize) {
        self.set_link(a, b, true);
    }

    fn heal_all(&mut self) {
        self.links.heal_all();
        self.retopo();
    }

    /// Splits into the given groups (members of different groups cannot talk).
    fn partition(&mut self, groups: &[&[usize]]) {
        self.links.partition(groups);
        self.retopo();
    }

    fn settings_change(&mut self, i: usize, f: impl FnOnce(&mut ElectionSettings)) {
        f(&mut self.slots[i].settings);
        let s = self.slots[i].settings.clone();
        let now = self.now;
        self.el_mut(i).handle_settings(s, now);
        self.deliver();
    }

    fn el(&self, i: usize) -> &Election {
        self.slots[i].e.as_ref().expect("running")
    }

    fn el_mut(&mut self, i: usize) -> &mut Election {
        self.slots[i].e.as_mut().expect("running")
    }

    fn running(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.slots.len()).filter(|i| self.slots[*i].e.is_some())
    }

    fn take(&mut self, i: usize) -> Drained {
        std::mem::take(&mut self.slots[i].out)
    }

    fn take_all(&mut self) {
        for s in &mut self.slots {
            s.out = Drained::default();
        }
    }

    /// Delivers until no instance has anything to send.
    fn deliver(&mut self) {
        loop {
            let running: Vec<bool> = self.slots.iter().map(|s| s.e.is_some()).collect();
            for i in 0..self.slots.len() {
                let slot = &mut self.slots[i];
                let Some(e) = slot.e.as_mut() else { continue };
                slot.out.debug.extend(std::iter::from_fn(|| e.poll_debug()));
                while let Some(cmd) = e.poll_output() {
                    if let ElectionOutput::Hello(h) = &cmd {
                        for (j, up) in running.iter().enumerate() {
                            if j != i && *up {
                                self.links.send(&mut self.rng, self.now, i, j, h.clone());
                            }
                        }
                    }
                    slot.out.outputs.push(cmd);
                }
            }
            let due = self.links.take_due(self.now);
            if due.is_empty() {
                break;
            }
            for d in due {
                let now = self.now;
                if let Some(e) = self.slots[d.to].e.as_mut() {
                    e.handle_hello(d.msg, now);
                }
            }
        }
        if self.check {
            self.check_claimants();
        }
    }

    /// Runs every due timer (exactly when due) until `t`, delivering after each instant.
    fn run_until(&mut self, t: Instant) {
        loop {
            let next = self
                .running()
                .filter_map(|i| self.el(i).poll_timeout())
                .min();
            let Some(next) = next.filter(|n| *n <= t) else {
                break;
            };
            self.now = self.now.max(next);
            let now = self.now;
            for i in 0..self.slots.len() {
                if let Some(e) = self.slots[i].e.as_mut() {
                    if e.poll_timeout().is_some_and(|d| d <= now) {
                        e.handle_timeout(now);
                        assert!(
                            e.poll_timeout().unwrap() > now,
                            "timer did not move past now"
                        );
                    }
                }
            }
            self.deliver();
        }
        self.now = self.now.max(t);
    }

    fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    fn components(&self) -> Vec<Vec<usize>> {
        let alive: Vec<usize> = self.running().collect();
        self.links.components(&alive)
    }

    fn retopo(&mut self) {
        let mut next = BTreeMap::new();
        for comp in self.components() {
            let mut edges = vec![];
            for (x, &a) in comp.iter().enumerate() {
                for &b in &comp[x + 1..] {
                    if self.links.linked(a, b) {
                        edges.push((a, b));
                    }
                }
            }
            let key = (comp, edges);
            let since = self.topo_since.get(&key).copied().unwrap_or(self.now);
            next.insert(key, since);
        }
        self.topo_since = next;
    }

    /// In every fully connected component unchanged for 2 × dead interval: exactly one
    /// claimant, followed by every member of the component.
    fn check_claimants(&mut self) {
        for ((comp, edges), since) in &self.topo_since {
            let clique = edges.len() == comp.len() * (comp.len() - 1) / 2;
            if clique && self.now >= *since + 2 * DEAD {
                self.checks += 1;
                let claimants: Vec<usize> = comp
                    .iter()
                    .copied()
                    .filter(|i| self.el(*i).is_master())
                    .collect();
                assert!(
                    claimants.len() == 1,
                    "t={:?}: component {comp:?} stable since {since:?} has claimants {claimants:?}",
                    self.now
                );
                let m = self.el(claimants[0]).settings().member;
                for &i in comp {
                    assert_eq!(
                        self.el(i).master(),
                        Some(m),
                        "t={:?}: {i} in {comp:?}",
                        self.now
                    );
                }
            }
        }
    }

    /// All running members follow one master, which is the only claimant.
    fn assert_converged(&self) -> MemberId {
        let alive: Vec<usize> = self.running().collect();
        let m = self.el(alive[0]).master().expect("a master");
        for &i in &alive {
            assert_eq!(
                self.el(i).master(),
                Some(m),
                "member {i} follows another master"
            );
        }
        let claimants: Vec<usize> = alive
            .iter()
            .copied()
            .filter(|i| self.el(*i).is_master())
            .collect();
        assert_eq!(claimants.len(), 1, "claimants {claimants:?}");
        assert_eq!(self.el(claimants[0]).settings().member, m);
        m
    }
}

/// What an instance emitted: its outputs, and apart from them its debug lines.
#[derive(Clone, Debug, Default)]
struct Drained {
    outputs: Vec<ElectionOutput>,
    debug: Vec<String>,
}

impl std::ops::Deref for Drained {
    type Target = [ElectionOutput];
    fn deref(&self) -> &[ElectionOutput] {
        &self.outputs
    }
}

fn hellos(outs: &[ElectionOutput]) -> Vec<&Hello> {
    outs.iter()
        .filter_map(|o| match o {
            ElectionOutput::Hello(h) => Some(h),
            _ => None,
        })
        .collect()
}

fn notes(outs: &[ElectionOutput]) -> Vec<&ElectionOutput> {
    outs.iter()
        .filter(|o| !matches!(o, ElectionOutput::Hello(_)))
        .collect()
}

fn records(outs: &[ElectionOutput]) -> Vec<(MemberId, ClusterEvent, String)> {
    outs.iter()
        .filter_map(|o| match o {
            ElectionOutput::History(ev) => Some((ev.member, ev.event, ev.reason.clone())),
            _ => None,
        })
        .collect()
}

fn debugs(d: &Drained) -> Vec<String> {
    d.debug.clone()
}

fn oper_changes(outs: &[ElectionOutput]) -> Vec<OperState> {
    outs.iter()
        .filter_map(|o| match o {
            ElectionOutput::OperStateChanged { state } => Some(*state),
            _ => None,
        })
        .collect()
}

fn master_changes(outs: &[ElectionOutput]) -> Vec<Option<MemberId>> {
    outs.iter()
        .filter_map(|o| match o {
            ElectionOutput::MasterChanged { master } => Some(*master),
            _ => None,
        })
        .collect()
}

fn drain(e: &mut Election) -> Drained {
    Drained {
        outputs: std::iter::from_fn(|| e.poll_output()).collect(),
        debug: std::iter::from_fn(|| e.poll_debug()).collect(),
    }
}

fn peer_hello(s: &ElectionSettings, is_master: bool) -> Hello {
    Election::new(s.clone(), Duration::ZERO, WALL0).hello_with(is_master)
}

impl Election {
    /// Test helper: this instance's hello with a chosen master claim.
    fn hello_with(&self, is_master: bool) -> Hello {
        let mut h = self.hello();
        h.is_master = is_master;
        h.master = is_master.then_some(h.member);
        h
    }
}

#[test]
fn new_emits_start_records_and_first_hello() {
    let s = settings(E1EE16, 250, ClusterMode::Active);
    let me = s.member;
    let mut e = Election::new(s, ms(0), WALL0);
    let cmds = drain(&mut e);
    let stamp = |seq: u64, event, reason: &str| {
        ElectionOutput::History(HistoryEvent {
            member: me,
            hostname: "vx9000-E1EE16".into(),
            seq: 1 << 32 | seq,
            event,
            wall_ms: WALL0,
            reason: reason.into(),
        })
    };
    let start = stamp(
        1,
        ClusterEvent::StartElection,
        "new member 12.E1.EE.16 joined",
    );
    let active = stamp(
        2,
        ClusterEvent::IsActive,
        "Configured for active, stay active",
    );
    assert_eq!(
        cmds.outputs,
        vec![start, active, ElectionOutput::Hello(e.hello())]
    );
    assert_eq!(
        cmds.debug,
        vec![
            "starting election for 12.E1.EE.16 (prio 250, mode Active), waiting 300 ms for members",
            "election: best candidate 12.E1.EE.16 (prio 250)",
        ]
    );
    let h = e.hello();
    assert!(!h.is_master && h.master.is_none());
    assert_eq!(h.oper_state, OperState::Active);
    assert_eq!(h.history.len(), 2);
    assert_eq!(e.master(), None);
    assert_eq!(e.poll_timeout(), Some(HELLO));
}

#[test]
fn single_member_claims_after_startup_hold() {
    let s = settings(E1EE16, 250, ClusterMode::Active);
    let me = s.member;
    let mut e = Election::new(s, ms(0), WALL0);
    drain(&mut e);
    // Hellos keep going during the hold, without a claim.
    for t in [100, 200] {
        assert_eq!(e.poll_timeout(), Some(ms(t)));
        e.handle_timeout(ms(t));
        let cmds = drain(&mut e);
        assert_eq!(cmds.outputs, vec![ElectionOutput::Hello(e.hello())]);
        assert!(cmds.debug.is_empty(), "{:?}", cmds.debug);
        assert!(!e.is_master());
    }
    assert_eq!(e.poll_timeout(), Some(DEAD));
    e.handle_timeout(DEAD);
    let cmds = drain(&mut e);
    let hello = e.hello();
    assert!(hello.is_master && hello.master == Some(me));
    let sync = HistoryEvent {
        member: me,
        hostname: "vx9000-E1EE16".into(),
        seq: 1 << 32 | 3,
        event: ClusterEvent::StartConfigSync,
        wall_ms: WALL0 + 300,
        reason: "12.E1.EE.16 won election and is the cluster master".into(),
    };
    assert_eq!(
        cmds.outputs,
        vec![
            ElectionOutput::History(sync.clone()),
            ElectionOutput::MasterChanged { master: Some(me) },
            ElectionOutput::Hello(hello.clone()),
        ]
    );
    assert_eq!(
        cmds.debug,
        vec![
            "startup hold over, 0 other member(s) connected",
            "Announcing self as master",
        ]
    );
    assert_eq!(hello.history.last(), Some(&sync));
    assert!(e.is_master());
    assert_eq!(e.master(), Some(me));
    assert_eq!(e.poll_timeout(), Some(DEAD + HELLO));
    let v = e.view(DEAD);
    assert_eq!(v.members.len(), 1);
    assert!(v.members[0].is_master && v.members[0].last_seen.is_none());
    assert_eq!(v.history[0], sync);
}

#[test]
fn two_members_higher_priority_wins() {
    let mut net = Net::started(vec![
        settings(A3AA117, 128, ClusterMode::Standby),
        settings(E1EE16, 250, ClusterMode::Active),
    ]);
    net.run_until(DEAD);
    assert_eq!(net.assert_converged(), id(E1EE16));
    assert!(net.el(1).is_master());
    let c0 = net.take(0);
    assert_eq!(master_changes(&c0), vec![Some(id(E1EE16))]);
    assert!(records(&c0).contains(&(
        id(E1EE16),
        ClusterEvent::StartConfigSync,
        "12.E1.EE.16 won election and is the cluster master".into()
    )));
    assert!(records(&c0).contains(&(
        id(A3AA117),
        ClusterEvent::StartElection,
        "new member 12.E1.EE.16 joined".into()
    )));
    assert_eq!(net.el(0).oper_state(), OperState::Standby);
    assert_eq!(net.el(1).oper_state(), OperState::Active);
    // Both see both; the standby never became active.
    assert!(oper_changes(&c0).is_empty());
    let v = net.el(0).view(net.now);
    assert_eq!(
        v.members.iter().map(|m| m.member).collect::<Vec<_>>(),
        vec![id(A3AA117), id(E1EE16)]
    );
    assert!(v.members[1].is_master && v.members[1].last_seen.is_some());
    assert_eq!(
        net.el(0).alive_peers(),
        vec![(id(E1EE16), RevisionId::ZERO)]
    );
    net.run_for(ms(5000));
    assert_eq!(net.assert_converged(), id(E1EE16));
}

#[test]
fn priority_tie_goes_to_lower_member_id() {
    let mut net = Net::started(vec![
        settings(E1EE16, 128, ClusterMode::Active),
        settings(A3AA117, 128, ClusterMode::Active),
    ]);
    net.run_until(DEAD);
    assert_eq!(net.assert_converged(), id(A3AA117)); // 12.3A.A1.17 < 12.E1.EE.16
}

#[test]
fn master_is_sticky_when_a_better_member_joins() {
    let mut net = Net::new(vec![
        settings(A3AA117, 128, ClusterMode::Active),
        settings(E1EE16, 250, ClusterMode::Active),
    ]);
    net.start(0);
    net.run_until(ms(1000));
    assert_eq!(net.assert_converged(), id(A3AA117));
    net.take_all();
    net.start(1);
    net.run_for(ms(5000));
    assert_eq!(net.assert_converged(), id(A3AA117));
    let d0 = debugs(&net.take(0));
    assert!(
        d0.contains(&"new member 12.E1.EE.16 prio 250".into()),
        "{d0:?}"
    );
    assert!(
        d0.contains(&"no change in master, member list changed".into()),
        "{d0:?}"
    );
    let c1 = net.take(1);
    assert!(records(&c1)
        .iter()
        .all(|r| r.1 != ClusterEvent::StartConfigSync || r.0 != id(E1EE16)));
    assert_eq!(master_changes(&c1), vec![Some(id(A3AA117))]);
    // The newcomer follows at once (on the first hello), not after its startup hold.
    assert!(net.el(1).master().is_some());
    // A priority raise does not steal mastership either.
    net.settings_change(0, |s| s.master_priority = 1);
    net.run_for(ms(1000));
    assert_eq!(net.assert_converged(), id(A3AA117));
    // When the sticky master dies, the best remaining member takes over.
    net.kill(0);
    net.run_for(DEAD + HELLO);
    assert_eq!(net.assert_converged(), id(E1EE16));
}

#[test]
fn newcomer_follows_master_during_startup_hold() {
    let mut net = Net::new(vec![
        settings(A3AA117, 128, ClusterMode::Active),
        settings(E1EE16, 250, ClusterMode::Active),
    ]);
    net.start(0);
    net.run_until(ms(1000));
    net.take_all();
    net.start(1);
    // The master's next hello reaches the newcomer within one hello interval.
    net.run_for(HELLO);
    assert!(net.el(1).in_startup_hold());
    assert_eq!(net.el(1).master(), Some(id(A3AA117)));
}

#[test]
fn partition_heal_keeps_only_best_ranked_claimant() {
    let mut net = Net::started(vec![
        settings(mac_n(1), 200, ClusterMode::Active),
        settings(mac_n(2), 100, ClusterMode::Active),
        settings(mac_n(3), 150, ClusterMode::Standby),
        settings(mac_n(4), 50, ClusterMode::Standby),
    ]);
    net.run_until(ms(1000));
    assert_eq!(net.assert_converged(), id(mac_n(1)));
    net.partition(&[&[0, 3], &[1, 2]]);
    net.run_for(ms(2000));
    assert!(net.el(0).is_master());
    assert!(net.el(2).is_master(), "2 ranks above 1 in the second half");
    assert_eq!(net.el(1).master(), Some(id(mac_n(3))));
    net.take_all();
    net.heal_all();
    net.run_for(HELLO);
    assert_eq!(net.assert_converged(), id(mac_n(1)));
    let c2 = net.take(2);
    assert!(debugs(&c2)
        .iter()
        .any(|l| l.contains("also claims master and ranks higher; stepping down")));
    // The loser sent a hello without the claim at once.
    assert!(hellos(&c2)
        .last()
        .is_some_and(|h| !h.is_master && h.master == Some(id(mac_n(1)))));
    net.run_for(ms(3000));
    assert_eq!(net.assert_converged(), id(mac_n(1)));
}

#[test]
fn standby_fails_over_when_active_dies() {
    let mut net = Net::started(vec![
        settings(E1EE16, 250, ClusterMode::Active),
        settings(A3AA117, 128, ClusterMode::Standby),
    ]);
    net.run_until(ms(1000));
    net.take_all();
    net.kill(0);
    net.run_for(ms(2000));
    let c1 = net.take(1);
    // The active's last hello arrived at ≤ killed_at; failover at last hello + dead interval.
    let failover = c1
        .iter()
        .position(|c| matches!(c, ElectionOutput::OperStateChanged { .. }));
    assert!(failover.is_some());
    assert_eq!(net.el(1).oper_state(), OperState::Active);
    assert_eq!(oper_changes(&c1), vec![OperState::Active]);
    let recs = records(&c1);
    assert_eq!(
        recs[..3],
        [
            (
                id(A3AA117),
                ClusterEvent::MemberDown,
                "member 12.E1.EE.16 lost (no hello for 300 ms)".into()
            ),
            (
                id(A3AA117),
                ClusterEvent::IsActive,
                "Primary down, Failed over to active".into()
            ),
            (
                id(A3AA117),
                ClusterEvent::StartConfigSync,
                "12.3A.A1.17 won election and is the cluster master".into()
            ),
        ]
    );
    assert_eq!(net.assert_converged(), id(A3AA117));
    // Exact timing: find when it happened by replaying with a fresh network.
    let mut net = Net::started(vec![
        settings(E1EE16, 250, ClusterMode::Active),
        settings(A3AA117, 128, ClusterMode::Standby),
    ]);
    net.run_until(ms(1050));
    net.kill(0);
    let mut t = net.now;
    while net.el(1).oper_state() == OperState::Standby {
        t += ms(1);
        net.run_until(t);
    }
    // Last hello from the active at 1000 ms: dead at 1300 ≤ kill + dead + hello interval.
    assert_eq!(t, ms(1300));
    assert!(t <= ms(1050) + DEAD + HELLO);
    // The failover is announced in a hello at once.
    let h = hellos(&net.take(1)).last().cloned().cloned().unwrap();
    assert_eq!(h.oper_state, OperState::Active);
    assert!(h.is_master);
}

fn fcs_net(force_on_standby: bool, force_on_active: bool) -> Net {
    let mut active = settings(E1EE16, 250, ClusterMode::Active);
    active.force_configured_state = force_on_active;
    let mut standby = settings(A3AA117, 128, ClusterMode::Standby);
    standby.force_configured_state = force_on_standby;
    let mut net = Net::started(vec![active, standby]);
    net.run_until(ms(1000));
    // Primary down: the standby fails over.
    net.kill(0);
    net.run_for(ms(1000));
    assert_eq!(net.el(1).oper_state(), OperState::Active);
    net.take_all();
    net
}

#[test]
fn force_configured_state_falls_back_after_delay() {
    for (on_standby, on_active) in [(true, false), (false, true)] {
        let mut net = fcs_net(on_standby, on_active);
        net.restart(0);
        let back = net.now;
        net.run_for(HELLO);
        let at = net.el(1).view(net.now).force_configured_state_at;
        assert_eq!(
            at,
            Some(back + FCS_DELAY),
            "armed on the first hello of the returning active"
        );
        let c1 = net.take(1);
        assert!(debugs(&c1).contains(
            &"all cluster members are connected; force-configured-state is enabled, start timer"
                .into()
        ));
        net.run_until(back + FCS_DELAY - ms(1));
        assert_eq!(net.el(1).oper_state(), OperState::Active);
        net.run_until(back + FCS_DELAY);
        assert_eq!(net.el(1).oper_state(), OperState::Standby);
        let c1 = net.take(1);
        assert_eq!(oper_changes(&c1), vec![OperState::Standby]);
        assert_eq!(
            records(&c1),
            vec![(
                id(A3AA117),
                ClusterEvent::IsStandby,
                "force-configured-state delay expired, back to configured standby".into()
            )]
        );
        assert_eq!(net.el(1).view(net.now).force_configured_state_at, None);
        // Mastership is sticky: the failed-over standby stays master, the returning one follows.
        assert_eq!(net.assert_converged(), id(A3AA117));
        net.run_for(ms(5000));
        assert_eq!(net.el(1).oper_state(), OperState::Standby);
    }
}

#[test]
fn delay_change_while_armed_rearms_from_the_arming_time() {
    let mut net = fcs_net(false, true);
    net.restart(0);
    let back = net.now;
    net.run_for(HELLO);
    assert_eq!(
        net.el(1).view(net.now).force_configured_state_at,
        Some(back + FCS_DELAY)
    );
    // The primary's (shorter) delay arrives with the config sync.
    net.settings_change(1, |s| s.force_configured_state_delay = ms(500));
    assert_eq!(
        net.el(1).view(net.now).force_configured_state_at,
        Some(back + ms(500))
    );
    net.run_until(back + ms(500));
    assert_eq!(net.el(1).oper_state(), OperState::Standby);
}

#[test]
fn member_configured_standby_while_alone_becomes_standby_when_an_active_appears() {
    // A lone active member is reconfigured to standby (join-cluster does this); the primary's
    // hellos arrive later. It never failed over, so no force-configured-state is needed.
    let mut net = Net::started(vec![
        settings(E1EE16, 250, ClusterMode::Active),
        settings(A3AA117, 128, ClusterMode::Active),
    ]);
    net.partition(&[&[0], &[1]]);
    net.run_until(ms(1000));
    net.settings_change(1, |s| s.configured_mode = ClusterMode::Standby);
    assert_eq!(net.el(1).oper_state(), OperState::Active);
    net.heal_all();
    net.run_for(ms(300));
    assert_eq!(net.el(1).oper_state(), OperState::Standby);
    assert_eq!(net.el(1).view(net.now).force_configured_state_at, None);
}

#[test]
fn force_configured_state_timer_cancelled_on_refailure_and_restarted() {
    let mut net = fcs_net(true, false);
    net.restart(0);
    net.run_for(ms(1000));
    assert!(net.el(1).view(net.now).force_configured_state_at.is_some());
    // The active fails again before the delay expires.
    net.kill(0);
    net.run_for(ms(1000));
    assert_eq!(net.el(1).view(net.now).force_configured_state_at, None);
    assert_eq!(net.el(1).oper_state(), OperState::Active);
    let c1 = net.take(1);
    assert!(debugs(&c1).contains(&"active member lost; canceling force_conf_state_timer".into()));
    // Nothing happens when the old deadline passes.
    net.run_for(ms(3000));
    assert_eq!(net.el(1).oper_state(), OperState::Active);
    // It returns: the timer restarts from the new return.
    net.restart(0);
    let back = net.now;
    net.run_for(HELLO);
    assert_eq!(
        net.el(1).view(net.now).force_configured_state_at,
        Some(back + FCS_DELAY)
    );
    net.run_until(back + FCS_DELAY);
    assert_eq!(net.el(1).oper_state(), OperState::Standby);
}

#[test]
fn force_configured_state_disabled_cancels_timer() {
    let mut net = fcs_net(true, false);
    net.restart(0);
    net.run_for(ms(500));
    assert!(net.el(1).view(net.now).force_configured_state_at.is_some());
    net.settings_change(1, |s| s.force_configured_state = false);
    assert_eq!(net.el(1).view(net.now).force_configured_state_at, None);
    net.run_for(ms(5000));
    assert_eq!(net.el(1).oper_state(), OperState::Active);
}

#[test]
fn without_force_configured_state_failed_over_member_stays_active() {
    let mut net = fcs_net(false, false);
    net.restart(0);
    net.run_for(ms(10_000));
    assert_eq!(net.el(1).oper_state(), OperState::Active);
    assert_eq!(net.el(1).view(net.now).force_configured_state_at, None);
    let c1 = net.take(1);
    assert!(oper_changes(&c1).is_empty());
    let d = debugs(&c1);
    let stay = "active member connected; force-configured-state is disabled, stay active";
    assert_eq!(
        d.iter().filter(|l| *l == stay).count(),
        1,
        "logged once, not per hello"
    );
    // A mode change to standby with the active alive: standby at once.
    net.settings_change(1, |s| s.configured_mode = ClusterMode::Active);
    net.settings_change(1, |s| s.configured_mode = ClusterMode::Standby);
    assert_eq!(net.el(1).oper_state(), OperState::Standby);
    let r = records(&net.take(1));
    assert_eq!(
        r.last().unwrap(),
        &(
            id(A3AA117),
            ClusterEvent::IsStandby,
            "Configured for standby, become standby".into()
        )
    );
}

#[test]
fn mode_changes_apply_at_once() {
    let mut net = Net::started(vec![
        settings(E1EE16, 250, ClusterMode::Active),
        settings(A3AA117, 128, ClusterMode::Standby),
    ]);
    net.run_until(ms(1000));
    net.take_all();
    net.settings_change(1, |s| s.configured_mode = ClusterMode::Active);
    assert_eq!(net.el(1).oper_state(), OperState::Active);
    let c1 = net.take(1);
    assert_eq!(oper_changes(&c1), vec![OperState::Active]);
    assert!(records(&c1).contains(&(
        id(A3AA117),
        ClusterEvent::IsActive,
        "Configured for active, become active".into()
    )));
    assert!(hellos(&c1)
        .last()
        .is_some_and(|h| h.configured_mode == ClusterMode::Active));
    // The former active turns standby while an active member is alive.
    net.settings_change(0, |s| s.configured_mode = ClusterMode::Standby);
    assert_eq!(net.el(0).oper_state(), OperState::Standby);
    // Last active member switched to standby with no active peer: it stays active, and the
    // other standby, now without any configured-active member, fails over.
    net.take_all();
    net.settings_change(1, |s| s.configured_mode = ClusterMode::Standby);
    assert_eq!(net.el(1).oper_state(), OperState::Active);
    assert!(debugs(&net.take(1))
        .contains(&"configured for standby but no active member is connected; stay active".into()));
    assert_eq!(net.el(0).oper_state(), OperState::Active);
    net.run_for(ms(1000));
    assert_eq!(net.el(0).oper_state(), OperState::Active);
    assert_eq!(net.el(1).oper_state(), OperState::Active);
    assert_eq!(net.assert_converged(), id(E1EE16));
}

#[test]
fn mismatched_peers_are_ignored() {
    let base = settings(E1EE16, 128, ClusterMode::Active);
    let mut e = Election::new(base.clone(), ms(0), WALL0);
    drain(&mut e);
    let mut version = settings(mac_n(1), 250, ClusterMode::Active);
    version.software_version = "5.9.2.0".into();
    let mut model = settings(mac_n(2), 250, ClusterMode::Active);
    model.model = Model::Nx96x0;
    let mut name = settings(mac_n(3), 250, ClusterMode::Active);
    name.cluster_name = "OTHER".into();
    let mut unnamed = settings(mac_n(4), 10, ClusterMode::Active);
    unnamed.cluster_name = String::new();
    for t in 0..30u64 {
        let now = ms(10 + t * 100);
        for s in [&version, &model, &name, &unnamed] {
            e.handle_hello(peer_hello(s, true), now);
        }
        e.handle_timeout(now);
    }
    let cmds = drain(&mut e);
    let d = debugs(&cmds);
    let expect = [
        "ignoring hello from 12.10.00.01: software version 5.9.2.0 differs from ours 5.9.1.0",
        "ignoring hello from 12.10.00.02: model NX96X0 differs from ours VX9000",
        "ignoring hello from 12.10.00.03: cluster name \"OTHER\" differs from ours \"WING-CLUSTER\"",
    ];
    for line in expect {
        // 30 hellos over 2.9 s: reported once (rate limit 10 s).
        assert_eq!(d.iter().filter(|l| *l == line).count(), 1, "{line}");
    }
    // Only the unnamed peer (an empty cluster name matches any) is a member, and it is master.
    assert_eq!(
        e.alive_peers().iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![id(mac_n(4))]
    );
    assert_eq!(e.master(), Some(id(mac_n(4))));
    // After 10 s the line is repeated.
    e.handle_hello(peer_hello(&version, true), ms(10_010));
    assert_eq!(
        debugs(&drain(&mut e))
            .iter()
            .filter(|l| *l == expect[0])
            .count(),
        1
    );
}

#[test]
fn member_turning_incompatible_is_dropped_at_once() {
    let mut net = Net::started(vec![
        settings(E1EE16, 250, ClusterMode::Active),
        settings(A3AA117, 128, ClusterMode::Active),
    ]);
    net.run_until(ms(1000));
    net.take_all();
    net.settings_change(1, |s| s.cluster_name = "OTHER".into());
    assert!(net.el(0).alive_peers().is_empty());
    assert!(net.el(1).alive_peers().is_empty());
    let r = records(&net.take(0));
    assert_eq!(
        r,
        vec![(
            id(E1EE16),
            ClusterEvent::MemberDown,
            "member 12.3A.A1.17 lost (cluster name \"OTHER\" differs from ours \"WING-CLUSTER\")"
                .into()
        )]
    );
    net.run_for(ms(1000));
    assert!(net.el(0).is_master() && net.el(1).is_master());
}

#[test]
fn peer_restart_is_noticed_by_boot_and_stale_boots_ignored() {
    let me = settings(E1EE16, 250, ClusterMode::Active);
    let peer = settings(A3AA117, 128, ClusterMode::Standby);
    let mut e = Election::new(me, ms(0), WALL0);
    let old = peer_hello(&peer, false);
    e.handle_hello(old.clone(), ms(10));
    drain(&mut e);
    e.handle_hello(old.clone(), ms(60));
    assert!(records(&drain(&mut e)).is_empty(), "same boot: nothing new");
    let mut p2 = peer.clone();
    p2.boot = 2;
    e.handle_hello(peer_hello(&p2, false), ms(110));
    let c = drain(&mut e);
    assert!(debugs(&c).contains(&"member 12.3A.A1.17 restarted (boot 2)".into()));
    let own = |c: &[ElectionOutput]| {
        records(c)
            .into_iter()
            .filter(|r| r.0 == id(E1EE16))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        own(&c),
        vec![(
            id(E1EE16),
            ClusterEvent::StartElection,
            "new member 12.3A.A1.17 joined".into()
        )]
    );
    // A late hello of the earlier incarnation changes nothing.
    e.handle_hello(old, ms(120));
    assert!(records(&drain(&mut e)).is_empty());
    // The peer's own history events (start, is-standby, in boot 2's sequence space) are merged.
    let v = e.view(ms(120));
    assert!(v.history.iter().any(|h| h.member == id(A3AA117)
        && h.seq == 2 << 32 | 1
        && h.event == ClusterEvent::StartElection));
}

#[test]
fn member_down_is_recorded_and_member_returns_as_new() {
    let mut net = Net::started(vec![
        settings(E1EE16, 250, ClusterMode::Active),
        settings(A3AA117, 128, ClusterMode::Active),
    ]);
    net.run_until(ms(1000));
    net.take_all();
    net.cut(0, 1);
    net.run_for(ms(1000));
    let c0 = net.take(0);
    assert!(debugs(&c0).contains(&"member 12.3A.A1.17 lost".into()));
    assert_eq!(
        records(&c0)[0],
        (
            id(E1EE16),
            ClusterEvent::MemberDown,
            "member 12.3A.A1.17 lost (no hello for 300 ms)".into()
        )
    );
    net.heal(0, 1);
    net.run_for(HELLO);
    let r = records(&net.take(0));
    assert!(r.contains(&(
        id(E1EE16),
        ClusterEvent::StartElection,
        "new member 12.3A.A1.17 joined".into()
    )));
    // Member 1's member-down record travelled in its hello.
    assert!(r
        .iter()
        .any(|x| x.0 == id(A3AA117) && x.1 == ClusterEvent::MemberDown));
    assert_eq!(net.assert_converged(), id(E1EE16));
}

#[test]
fn history_is_deduplicated_and_ordered() {
    let mut net = Net::started(vec![
        settings(E1EE16, 250, ClusterMode::Active),
        settings(A3AA117, 128, ClusterMode::Standby),
    ]);
    net.run_until(ms(2000));
    let c0 = net.take(0);
    // Every event was emitted once although it travelled in ~20 hellos.
    let mut seen = BTreeSet::new();
    for n in notes(&c0) {
        if let ElectionOutput::History(ev) = n {
            assert!(seen.insert((ev.member, ev.seq)), "emitted twice: {ev:?}");
        }
    }
    let v0 = net.el(0).view(net.now);
    let v1 = net.el(1).view(net.now);
    assert_eq!(v0.history, v1.history, "both members show the same history");
    assert_eq!(v0.history.len(), seen.len());
    let keys: Vec<_> = v0
        .history
        .iter()
        .map(|h| (h.wall_ms, h.member, h.seq))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(keys, sorted, "newest first");
    let text: Vec<_> = v0
        .history
        .iter()
        .rev()
        .map(|h| (h.member, h.event, h.reason.as_str()))
        .collect();
    assert_eq!(
        text,
        vec![
            (
                id(A3AA117),
                ClusterEvent::StartElection,
                "new member 12.3A.A1.17 joined"
            ),
            (
                id(A3AA117),
                ClusterEvent::IsStandby,
                "Configured for standby, become standby"
            ),
            // Same wall clock: by member id, then sequence.
            (
                id(A3AA117),
                ClusterEvent::StartElection,
                "new member 12.E1.EE.16 joined"
            ),
            (
                id(E1EE16),
                ClusterEvent::StartElection,
                "new member 12.E1.EE.16 joined"
            ),
            (
                id(E1EE16),
                ClusterEvent::IsActive,
                "Configured for active, stay active"
            ),
            (
                id(E1EE16),
                ClusterEvent::StartElection,
                "new member 12.3A.A1.17 joined"
            ),
            (
                id(E1EE16),
                ClusterEvent::StartConfigSync,
                "12.E1.EE.16 won election and is the cluster master"
            ),
        ]
    );
    // A replication record goes through record() and out in the next hello.
    let now = net.now;
    net.el_mut(1).record(
        ClusterEvent::ConfigUpdateSuccess,
        "successfully applied config".into(),
        now,
    );
    assert_eq!(
        records(&drain(net.el_mut(1))),
        vec![(
            id(A3AA117),
            ClusterEvent::ConfigUpdateSuccess,
            "successfully applied config".into()
        )]
    );
    net.run_for(HELLO);
    assert_eq!(
        net.el(0).view(net.now).history[0].reason,
        "successfully applied config"
    );
}

#[test]
fn history_is_bounded_and_hello_carries_recent_own_events() {
    let mut e = Election::new(settings(E1EE16, 250, ClusterMode::Active), ms(0), WALL0);
    for i in 0..(HISTORY_CAPACITY as u64 + 50) {
        e.record(ClusterEvent::ConfigUpdateSuccess, format!("r{i}"), ms(i));
    }
    let v = e.view(ms(0));
    assert_eq!(v.history.len(), HISTORY_CAPACITY);
    assert_eq!(v.history[0].reason, format!("r{}", HISTORY_CAPACITY + 49));
    let h = e.hello();
    assert_eq!(h.history.len(), HELLO_HISTORY);
    assert_eq!(
        h.history.last().unwrap().reason,
        format!("r{}", HISTORY_CAPACITY + 49)
    );
    // An event older than everything kept is not merged (nor emitted) again.
    drain(&mut e);
    let mut peer = Election::new(
        settings(A3AA117, 1, ClusterMode::Active),
        ms(0),
        WALL0 - 1000,
    );
    let mut hello = peer.hello();
    hello.history.truncate(1);
    e.handle_hello(hello.clone(), ms(2000));
    e.handle_hello(hello, ms(2010));
    let c = drain(&mut e);
    assert!(
        records(&c).iter().all(|r| r.0 == id(E1EE16)),
        "{:?}",
        records(&c)
    );
    assert!(e
        .view(ms(2010))
        .history
        .iter()
        .all(|h| h.member == id(E1EE16)));
    drain(&mut peer);
}

#[test]
fn three_members_elect_and_fail_over_in_order() {
    let mut net = Net::started(vec![
        settings(mac_n(1), 100, ClusterMode::Standby),
        settings(mac_n(2), 200, ClusterMode::Active),
        settings(mac_n(3), 150, ClusterMode::Standby),
    ]);
    net.run_until(ms(1000));
    assert_eq!(net.assert_converged(), id(mac_n(2)));
    assert_eq!(net.el(0).view(net.now).members.len(), 3);
    net.kill(1);
    net.run_for(DEAD + HELLO);
    assert_eq!(net.assert_converged(), id(mac_n(3)));
    // Both standbys fail over (no configured-active member left).
    assert_eq!(net.el(0).oper_state(), OperState::Active);
    assert_eq!(net.el(2).oper_state(), OperState::Active);
    net.restart(1);
    net.run_for(ms(3000));
    assert_eq!(
        net.assert_converged(),
        id(mac_n(3)),
        "sticky after the old master returns"
    );
    net.kill(2);
    net.run_for(DEAD + HELLO);
    assert_eq!(net.assert_converged(), id(mac_n(2)));
}

#[test]
fn restarted_master_loses_claim_and_best_member_reclaims() {
    let mut net = Net::started(vec![
        settings(mac_n(1), 100, ClusterMode::Active),
        settings(mac_n(2), 200, ClusterMode::Active),
    ]);
    net.run_until(ms(1000));
    net.take_all();
    net.restart(1);
    // The restarted member is the best-ranked: nobody claims until its hold is over.
    net.run_for(ms(10));
    assert_eq!(net.el(0).master(), None);
    net.run_for(DEAD);
    assert_eq!(net.assert_converged(), id(mac_n(2)));
}

#[test]
fn standby_does_not_fail_over_during_startup_hold() {
    let mut e = Election::new(settings(A3AA117, 128, ClusterMode::Standby), ms(0), WALL0);
    e.handle_timeout(ms(100));
    e.handle_timeout(ms(299));
    assert_eq!(e.oper_state(), OperState::Standby);
    drain(&mut e);
    e.handle_timeout(ms(300));
    assert_eq!(e.oper_state(), OperState::Active);
    assert!(e.is_master());
    let r = records(&drain(&mut e));
    assert!(r.contains(&(
        id(A3AA117),
        ClusterEvent::IsActive,
        "Primary down, Failed over to active".into()
    )));
}

#[test]
fn late_and_early_timeouts_are_handled() {
    let mut e = Election::new(settings(E1EE16, 250, ClusterMode::Active), ms(0), WALL0);
    let peer = settings(A3AA117, 128, ClusterMode::Active);
    e.handle_hello(peer_hello(&peer, false), ms(5));
    drain(&mut e);
    // Early: nothing is due, nothing happens.
    e.handle_timeout(ms(50));
    assert!(drain(&mut e).is_empty());
    // Slightly late (within a hello interval of the deadline): just catches up.
    e.handle_timeout(ms(150));
    let c = drain(&mut e);
    assert_eq!(hellos(&c).len(), 1);
    assert!(!e.resuming());
    // Very late: a stall. The peer's silence overlaps it, so it is not lost yet; a single
    // hello goes out (no burst), nothing is claimed during the resume hold.
    e.handle_timeout(ms(5000));
    let c = drain(&mut e);
    assert_eq!(hellos(&c).len(), 1);
    assert!(records(&c).is_empty(), "{:?}", records(&c));
    assert!(c.contains(&ElectionOutput::Stalled {
        late: ms(5000) - ms(250),
        yielded: false,
    }));
    assert!(e.resuming());
    assert_eq!(e.alive_peers().len(), 1);
    assert!(!e.is_master());
    // Nothing heard within one dead interval of the resume: now it is lost, and we claim.
    assert_eq!(e.poll_timeout(), Some(ms(5100)));
    e.handle_timeout(ms(5100));
    drain(&mut e);
    e.handle_timeout(ms(5200));
    drain(&mut e);
    e.handle_timeout(ms(5300));
    let c = drain(&mut e);
    assert!(!e.resuming());
    assert_eq!(
        records(&c),
        vec![
            (
                id(E1EE16),
                ClusterEvent::MemberDown,
                "member 12.3A.A1.17 lost (no hello for 5295 ms)".into()
            ),
            (
                id(E1EE16),
                ClusterEvent::StartConfigSync,
                "12.E1.EE.16 won election and is the cluster master".into()
            ),
        ]
    );
    // A hello arriving late is processed after expiring what is due.
    e.handle_hello(peer_hello(&peer, false), ms(5350));
    assert_eq!(e.alive_peers().len(), 1);
    assert!(e.poll_timeout().unwrap() > ms(5350));
}

/// The hostile test's stall: a member paused for seconds resumes with its timers overdue and
/// its inbox full. It must not declare its peers lost from its own stall, nor fail over or
/// claim before it has heard them.
#[test]
fn a_stalled_standby_reads_its_inbox_before_declaring_the_active_lost() {
    let mut e = Election::new(settings(A3AA117, 128, ClusterMode::Standby), ms(0), WALL0);
    let active = settings(E1EE16, 250, ClusterMode::Active);
    for t in (10..1000).step_by(100) {
        e.handle_hello(peer_hello(&active, true), ms(t));
    }
    drain(&mut e);
    assert_eq!(e.oper_state(), OperState::Standby);
    // Paused from 1000 ms to 2500 ms: the timer fires first (worst case), then the queued
    // hellos are read.
    e.handle_timeout(ms(2500));
    e.handle_hello(peer_hello(&active, true), ms(2501));
    let c = drain(&mut e);
    assert_eq!(e.oper_state(), OperState::Standby);
    assert!(records(&c).is_empty(), "{:?}", records(&c));
    assert_eq!(e.master(), Some(id(E1EE16)));
    // Fresh hellos keep it so; the hold ends one dead interval after the resume.
    for t in (2600..3200).step_by(100) {
        e.handle_hello(peer_hello(&active, true), ms(t));
        e.handle_timeout(ms(t));
    }
    assert!(!e.resuming());
    assert_eq!(e.oper_state(), OperState::Standby);
    // A real death after the resume is still detected one dead interval later (by a driver
    // that wakes when asked to).
    for t in [3200, 3300, 3400] {
        e.handle_timeout(ms(t));
    }
    assert_eq!(e.oper_state(), OperState::Active);
}

/// join-cluster: a member that claimed mastership alone drops the claim and follows the
/// cluster's live master, even when it ranks higher (mastership is sticky).
#[test]
fn a_joiner_that_was_master_alone_follows_the_live_master() {
    // E1EE16 has the lower id: it would win a tie on priority as a competing master.
    let mut e = Election::new(settings(E1EE16, 128, ClusterMode::Standby), ms(0), WALL0);
    for t in (100..=400).step_by(100) {
        e.handle_timeout(ms(t));
    }
    assert!(e.is_master());
    drain(&mut e);
    e.handle_rejoin(ms(450));
    assert!(!e.is_master());
    let live = settings(A3AA117, 128, ClusterMode::Active);
    for t in (460..1200).step_by(100) {
        e.handle_hello(peer_hello(&live, true), ms(t));
        e.handle_timeout(ms(t + 1));
    }
    assert!(!e.is_master());
    assert_eq!(e.master(), Some(id(A3AA117)));
}

/// A master that steps down for a better-ranked claimant says so in the history.
#[test]
fn stepping_down_is_recorded() {
    let mut e = Election::new(settings(A3AA117, 128, ClusterMode::Active), ms(0), WALL0);
    for t in (100..=400).step_by(100) {
        e.handle_timeout(ms(t));
    }
    assert!(e.is_master());
    drain(&mut e);
    let better = settings(E1EE16, 250, ClusterMode::Active);
    e.handle_hello(peer_hello(&better, true), ms(450));
    assert!(!e.is_master());
    let r = records(&drain(&mut e));
    assert!(
        r.iter().any(|(m, ev, reason)| *m == id(A3AA117)
            && *ev == ClusterEvent::StartElection
            && reason.contains("also claims master and ranks higher; stepping down")),
        "{r:?}"
    );
}

/// A lost member stays in the view, as lost, until it comes back.
#[test]
fn lost_members_stay_in_the_view_until_they_return() {
    let mut e = Election::new(settings(E1EE16, 250, ClusterMode::Active), ms(0), WALL0);
    let peer = settings(A3AA117, 128, ClusterMode::Active);
    e.handle_hello(peer_hello(&peer, false), ms(5));
    e.handle_timeout(ms(100));
    e.handle_timeout(ms(200));
    e.handle_timeout(ms(305));
    let v = e.view(ms(305));
    assert_eq!(v.members.len(), 1);
    assert_eq!(v.lost.len(), 1);
    assert_eq!(v.lost[0].last.member, id(A3AA117));
    assert_eq!(v.lost[0].lost_wall_ms, WALL0 + 305);
    assert!(v.lost[0].in_grace);
    e.handle_hello(peer_hello(&peer, false), ms(350));
    let v = e.view(ms(350));
    assert_eq!(v.members.len(), 2);
    assert!(v.lost.is_empty());
}

#[test]
fn own_member_id_hello_is_ignored() {
    let s = settings(E1EE16, 250, ClusterMode::Active);
    let mut e = Election::new(s.clone(), ms(0), WALL0);
    drain(&mut e);
    e.handle_hello(peer_hello(&s, true), ms(10));
    assert!(e.alive_peers().is_empty());
    assert_eq!(
        debugs(&drain(&mut e)),
        vec!["ignoring hello from 12.E1.EE.16: it carries our own member id".to_string()]
    );
}

#[derive(Clone, Debug)]
enum Op {
    Cut(usize, usize),
    Heal(usize, usize),
    Partition(Vec<usize>),
    Kill(usize),
    Restart(usize),
    Run(u64),
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..n, 0..n).prop_map(|(a, b)| Op::Cut(a, b)),
        (0..n, 0..n).prop_map(|(a, b)| Op::Heal(a, b)),
        proptest::collection::vec(0..2usize, n).prop_map(Op::Partition),
        (0..n).prop_map(Op::Kill),
        (0..n).prop_map(Op::Restart),
        (1..100u64).prop_map(|t| Op::Run(t * 10)),
        (1..100u64).prop_map(|t| Op::Run(t * 10)),
    ]
}

fn scenario() -> impl Strategy<Value = (Vec<(u8, bool)>, Vec<Op>)> {
    (3..=5usize).prop_flat_map(|n| {
        (
            proptest::collection::vec((prop_oneof![Just(128u8), 1..=255u8], any::<bool>()), n),
            proptest::collection::vec(op(n), 1..40),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::default() /* 256 cases; PROPTEST_CASES overrides */)]

    #[test]
    fn random_faults_converge_to_one_master((members, ops) in scenario()) {
        let settings: Vec<_> = members
            .iter()
            .enumerate()
            .map(|(i, (prio, active))| {
                let mode = if *active { ClusterMode::Active } else { ClusterMode::Standby };
                let mut s = settings(mac_n(i as u8 + 1), *prio, mode);
                s.force_configured_state = *active;
                s
            })
            .collect();
        let mut net = Net::started(settings);
        net.check = true;
        for op in ops {
            match op {
                Op::Cut(a, b) if a != b => net.cut(a, b),
                Op::Heal(a, b) => net.heal(a, b),
                Op::Partition(groups) => {
                    let g0: Vec<usize> = (0..groups.len()).filter(|i| groups[*i] == 0).collect();
                    let g1: Vec<usize> = (0..groups.len()).filter(|i| groups[*i] == 1).collect();
                    net.partition(&[&g0, &g1]);
                }
                Op::Kill(i) => {
                    // Keep at least one member running.
                    if net.running().count() > 1 {
                        net.kill(i);
                    }
                }
                Op::Restart(i) => net.restart(i),
                Op::Run(t) => net.run_for(ms(t)),
                Op::Cut(..) => {}
            }
            net.run_for(ms(1));
        }
        net.heal_all();
        net.run_for(3 * DEAD);
        prop_assert!(net.checks > 0, "the per-step check ran");
        net.assert_converged();
        // Views agree on the membership too.
        let alive: Vec<MemberId> = net.running().map(|i| net.el(i).settings().member).collect();
        for i in net.running() {
            let v = net.el(i).view(net.now);
            let mut ids: Vec<MemberId> = v.members.iter().map(|m| m.member).collect();
            ids.sort();
            prop_assert_eq!(&ids, &alive);
        }
        // Operational state: if any running member is configured active, every configured
        // standby is either standby or failed over with a pending fallback; otherwise all active.
        let any_active = net.running().any(|i| net.el(i).settings().configured_mode == ClusterMode::Active);
        for i in net.running() {
            let e = net.el(i);
            if e.settings().configured_mode == ClusterMode::Active || !any_active {
                prop_assert_eq!(e.oper_state(), OperState::Active);
            } else if e.oper_state() == OperState::Active {
                prop_assert!(e.view(net.now).force_configured_state_at.is_some());
            }
        }
    }
}

/// A master stopped long enough to notice (its peers may have lost it) gives up its claim
/// before its first hello after the stall: a resumed claim that outranks a master elected meanwhile would make that master
/// step down. It follows the new master; with none claimed, it is elected again after the hold.
#[test]
fn a_master_stopped_for_a_dead_interval_gives_up_its_claim_before_its_first_hello() {
    for replaced in [true, false] {
        let mut e = Election::new(settings(E1EE16, 250, ClusterMode::Active), ms(0), WALL0);
        let peer = settings(A3AA117, 128, ClusterMode::Active);
        for t in (5..=405).step_by(100) {
            e.handle_hello(peer_hello(&peer, false), ms(t));
            e.handle_timeout(ms(t));
        }
        assert!(e.is_master());
        drain(&mut e);
        // Its last hello went out at 400 ms; stopped until 700 ms (peers lose it at 700 ms).
        e.handle_timeout(ms(700));
        let c = drain(&mut e);
        assert!(c
            .iter()
            .any(|o| matches!(o, ElectionOutput::Stalled { yielded: true, .. })));
        assert_eq!(
            hellos(&c).iter().map(|h| h.is_master).collect::<Vec<_>>(),
            vec![false],
            "the first hello after the stall claims nothing"
        );
        assert_eq!(master_changes(&c), vec![None]);
        assert!(records(&c).iter().any(|(m, ev, why)| *m == id(E1EE16)
            && *ev == ClusterEvent::StartElection
            && why.contains("giving up mastership")));
        // The inbox: the peer's claim (it took over), or its plain hellos.
        for t in (701..1100).step_by(100) {
            e.handle_hello(peer_hello(&peer, replaced), ms(t));
            e.handle_timeout(ms(t));
        }
        assert!(!e.resuming());
        if replaced {
            assert!(!e.is_master());
            assert_eq!(e.master(), Some(id(A3AA117)));
        } else {
            assert!(e.is_master());
        }
    }
}

/// A lost peer is reported with its cause: silence (a hello miss, `/metrics` counts it), or
/// hellos that turned incompatible (no hello was missed).
#[test]
fn a_lost_peer_is_reported_with_its_cause() {
    let lost = |outs: &[ElectionOutput]| -> Vec<(MemberId, LossCause)> {
        outs.iter()
            .filter_map(|o| match o {
                ElectionOutput::PeerLost { peer, cause } => Some((*peer, *cause)),
                _ => None,
            })
            .collect()
    };
    let mut e = Election::new(settings(E1EE16, 250, ClusterMode::Active), ms(0), WALL0);
    let peer = settings(A3AA117, 128, ClusterMode::Active);
    e.handle_hello(peer_hello(&peer, false), ms(5));
    drain(&mut e);
    for t in [100, 200, 300, 305] {
        e.handle_timeout(ms(t));
    }
    assert_eq!(
        lost(&drain(&mut e)),
        vec![(id(A3AA117), LossCause::Silence)]
    );
    // Back, then on another release.
    e.handle_hello(peer_hello(&peer, false), ms(400));
    drain(&mut e);
    let mut other = peer.clone();
    other.software_version = "another".into();
    e.handle_hello(peer_hello(&other, false), ms(450));
    assert_eq!(
        lost(&drain(&mut e)),
        vec![(id(A3AA117), LossCause::Incompatible)]
    );
}

fn persisted_lost(outputs: &[ElectionOutput]) -> Vec<Vec<roost_wire::LostMemberRecord>> {
    outputs
        .iter()
        .filter_map(|o| match o {
            ElectionOutput::PersistLost(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// A lost member's licenses stay in the pool for the grace period, counted on the wall clock
/// from its loss; the list is persisted at every change and, restored after a restart, the
/// grace period runs on from where it was, not from the restart.
#[test]
fn a_lost_members_grace_period_ends_on_time_and_survives_a_restart() {
    let mut me = settings(E1EE16, 250, ClusterMode::Active);
    me.license_grace_period = Duration::from_secs(60);
    let mut e = Election::new(me.clone(), ms(0), WALL0);
    let mut peer = settings(A3AA117, 128, ClusterMode::Active);
    peer.licenses.aap_licenses = 512;
    e.handle_hello(peer_hello(&peer, false), ms(5));
    drain(&mut e);
    e.handle_timeout(ms(100));
    e.handle_timeout(ms(200));
    e.handle_timeout(ms(305));
    let records = persisted_lost(&drain(&mut e).outputs);
    assert_eq!(records.len(), 1, "one loss, persisted once");
    let r = &records[0][0];
    assert_eq!(
        (
            r.member,
            r.lost_wall_ms,
            r.in_grace,
            r.licenses.aap_licenses
        ),
        (id(A3AA117), WALL0 + 305, true, 512)
    );
    // The grace period's end is a timer of its own (hellos may be slower than it).
    assert!(e.poll_timeout().unwrap() <= ms(60_305));
    e.handle_timeout(ms(60_304));
    assert!(e.view(ms(60_304)).lost[0].in_grace);
    assert!(persisted_lost(&drain(&mut e).outputs).is_empty());
    e.handle_timeout(ms(60_305));
    let d = drain(&mut e);
    let v = e.view(ms(60_305));
    assert_eq!(v.lost.len(), 1, "still listed as down");
    assert!(!v.lost[0].in_grace);
    let after = persisted_lost(&d.outputs);
    assert_eq!(after.len(), 1);
    assert!(!after[0][0].in_grace);
    assert!(d
        .debug
        .iter()
        .any(|l| l.contains("license grace period ended: its 0 AP and 512 AAP licenses")));

    // Restart 30 s after the loss (the monotonic clock starts again at 0): 30 s of grace
    // left, not 60.
    let mut e = Election::new(me.clone(), ms(0), WALL0 + 30_305);
    e.restore_lost(records[0].clone(), ms(0));
    let d = drain(&mut e);
    assert!(
        persisted_lost(&d.outputs).is_empty(),
        "restored, not re-stored"
    );
    let v = e.view(ms(0));
    assert_eq!(v.lost.len(), 1);
    assert!(v.lost[0].in_grace);
    assert_eq!(v.lost[0].last.licenses.aap_licenses, 512);
    e.handle_timeout(ms(29_999));
    assert!(e.view(ms(29_999)).lost[0].in_grace);
    e.handle_timeout(ms(30_000));
    assert!(!e.view(ms(30_000)).lost[0].in_grace);

    // A restart after the grace period ended: the member is listed, its licenses are not
    // counted; a record of this member itself is ignored.
    let mut own = records[0][0].clone();
    own.member = me.member;
    let mut e = Election::new(me.clone(), ms(0), WALL0 + 90_000);
    e.restore_lost(vec![records[0][0].clone(), own], ms(0));
    let v = e.view(ms(0));
    assert_eq!(v.lost.len(), 1);
    assert!(!v.lost[0].in_grace);
    assert_eq!(persisted_lost(&drain(&mut e).outputs).len(), 1);

    // The member coming back takes it off the list, and that is persisted too.
    let mut e = Election::new(me, ms(0), WALL0 + 31_000);
    e.restore_lost(records[0].clone(), ms(0));
    drain(&mut e);
    e.handle_hello(peer_hello(&peer, false), ms(10));
    assert!(e.view(ms(10)).lost.is_empty());
    assert_eq!(persisted_lost(&drain(&mut e).outputs), vec![vec![]]);
}
