//! Layer 2: a deterministic simulation of controllers and APs. 2–3 AC cores (`Adoption`, this
//! crate) and 8–40 WTP cores (`roost_wtp::Wtp`, written apart from the AC and sharing only the
//! codec) talk over the shared fault-injecting test network (`roost_simnet::Net`), with seeded
//! faults: a controller killed (its sessions are gone) or restarted, links between controllers
//! and APs cut and healed, loss, and the member channel partitioned (each side sees the other
//! as lost, while the APs may still reach both) and healed. The cluster view the daemon's
//! composition would compute from hellos (who is active, the license pool, what each member
//! holds) is modelled exactly per side, with Active/Standby roles: controller 0 is the
//! configured active; on each side the lowest-numbered live controller serves (a standby
//! serves only while no active is alive on its side), and a member it cannot see is as its
//! last hello described it. The cluster-wide AP table is not modelled: each controller runs its
//! `Directory`, whose messages cross the same lossy network, and its grace share comes from
//! its own copy.
//!
//! Invariants, checked at every step:
//! * the pool is never over-committed: the APs the live controllers hold, the APs each dead
//!   one held when it died, and the licenses of released APs still reserved, counted once
//!   per AP, never exceed the cluster's licenses;
//! * no controller holds more APs than its platform capacity;
//!
//! and after the final heal and a quiet period:
//! * every AP that the licenses allow is in Run, and each AP in Run is held (in Run) by
//!   exactly one live controller: the one the AP believes it is adopted by.
//!
//! A failing seed prints itself; replay it with `ROOST_SIM_SEED=<seed>`; `ROOST_SIM_SEEDS=<n>`
//! runs more.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roost_adoption::balance::{self, BalanceSettings};
use roost_adoption::directory::{Directory, DirectoryOutput};
use roost_adoption::placement::{admission, fallback_targets, handing_back, PoolMember};
use roost_adoption::{
    AcSettings, Adoption, AdoptionEvent, AdoptionOutput, ApState, BalanceOrder, ReleaseReason,
};
use roost_capwap::vendor::FastTimers;
use roost_simnet::{Chance, Delay, Faults, Net};
use roost_wire::{ApTableMessage, MemberId};
use roost_wtp::{ControllerList, Output, State, Wtp, WtpIdentity, WtpSettings};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The daemon's fast timers (`roost_daemon::wireless::FAST_TIMERS`): a dead member's APs
/// learn of it from the Roost Controller Lost Request, not from their 5 s echo.
const FAST: FastTimers = FastTimers {
    echo_interval: Duration::from_millis(5000),
    retransmit_interval: Duration::from_millis(300),
    max_retransmit: 3,
};

#[derive(Clone, Debug)]
enum Packet {
    Capwap {
        from: SocketAddr,
        data: bool,
        bytes: Vec<u8>,
    },
    /// The cluster-wide AP table, on the member channel between controllers.
    Table(ApTableMessage),
}

struct Ac {
    core: Option<Adoption>,
    directory: Option<Directory>,
    boots: u32,
    licenses: u32,
    capacity: u32,
    /// What it held when it died (its grace share), while dead.
    held_at_death: u32,
    /// The APs it held when it died (their licenses are its grace share).
    macs_at_death: std::collections::BTreeSet<[u8; 6]>,
    /// What its store keeps across a restart: the APs it held (the daemon persists them).
    persisted_aps: Vec<(roost_wire::Mac, roost_adoption::placement::LicenseKind)>,
}

struct Sim {
    rng: StdRng,
    origin: Instant,
    now: Duration,
    acs: Vec<Ac>,
    wtps: Vec<Wtp>,
    net: Net<Packet>,
    steps: u64,
    /// The member channel's side of each controller (all equal: not partitioned).
    side: Vec<u8>,
    /// `seen[i][j]`: what controller `i` last saw `j` hold (its last hello); None: `i` knows
    /// nothing of `j` (it never saw it, or restarted since and `j` was not lost when it
    /// died: a member keeps across restarts only the members it had lost, with their
    /// license grace periods).
    seen: Vec<Vec<Option<u32>>>,
    /// Active/Active: every live member is active and balances (`cluster ap-balance`,
    /// threshold 10 %, hold-down longer than the run), as the daemon composes it.
    balancing: bool,
}

const SIM_BALANCE: BalanceSettings = BalanceSettings {
    threshold_pct: 10,
    hold_down: Duration::from_secs(3600),
};

fn member(i: usize) -> MemberId {
    MemberId(i as u32 + 1)
}

fn ac_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, i as u8 + 1)
}

fn wtp_ip(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, (n / 200) as u8, (n % 200) as u8 + 1)
}

fn control(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut rng = StdRng::seed_from_u64(seed);
        let k = rng.gen_range(2..=3);
        let n = rng.gen_range(8..=40);
        let origin = Instant::now();
        let acs = (0..k)
            .map(|_| Ac {
                core: None,
                directory: None,
                boots: 0,
                licenses: [n as u32 / 2, n as u32, 64][rng.gen_range(0..3)],
                capacity: [n as u32 / 3 + 1, 1024][rng.gen_range(0..2)],
                held_at_death: 0,
                macs_at_death: Default::default(),
                persisted_aps: Vec::new(),
            })
            .collect();
        let ac_addrs: Vec<SocketAddr> = (0..k).map(|i| control(ac_ip(i), 5246)).collect();
        let wtps = (0..n)
            .map(|i| {
                let id = WtpIdentity::new(
                    [0x00, 0x23, 0x68, 0x02, (i >> 8) as u8, i as u8],
                    "AP7532",
                    &format!("SIM{i:05}"),
                    &format!("ap-{i}"),
                    "5.9.1.0",
                    wtp_ip(i),
                );
                let list = ControllerList::pool1(ac_addrs.clone());
                let settings = WtpSettings {
                    discovery_interval: Duration::from_secs(1),
                    refused_retry: Duration::from_secs(1),
                    ..WtpSettings::default()
                };
                let seed: [u8; 16] = rng.gen();
                let start = origin + Duration::from_millis(rng.gen_range(0..500));
                Wtp::new(id, list, settings, seed, start).expect("a valid identity")
            })
            .collect();
        let mut sim = Sim {
            rng,
            origin,
            now: Duration::ZERO,
            acs,
            wtps,
            net: Net::new(k + n),
            steps: 0,
            side: vec![0; k],
            seen: vec![vec![None; k]; k],
            balancing: false,
        };
        for i in 0..k {
            sim.start_ac(i);
        }
        sim
    }

    fn k(&self) -> usize {
        self.acs.len()
    }

    /// Whether `i` and `j` are on one side of the member channel.
    fn reach(&self, i: usize, j: usize) -> bool {
        self.side[i] == self.side[j]
    }

    fn live(&self, i: usize) -> bool {
        self.acs[i].core.is_some()
    }

    /// Cuts the member channel between the controllers of `sides` (one entry per
    /// controller); the APs' links are untouched.
    fn partition(&mut self, sides: Vec<u8>) {
        if std::env::var_os("ROOST_SIM_TRACE").is_some() {
            eprintln!("{:?} partition {sides:?}", self.now);
        }
        self.side = sides;
        self.members_changed();
        self.readmit();
    }

    /// Heals the member channel.
    fn heal_members(&mut self) {
        self.side = vec![0; self.k()];
        self.members_changed();
        self.readmit();
    }

    fn node_of(&self, addr: SocketAddr) -> Option<usize> {
        let IpAddr::V4(ip) = addr.ip() else {
            return None;
        };
        let o = ip.octets();
        match (o[0], o[1]) {
            (10, 0) => Some(o[3] as usize - 1),
            (10, 1) => Some(self.k() + o[2] as usize * 200 + o[3] as usize - 1),
            _ => None,
        }
    }

    fn start_ac(&mut self, i: usize) {
        if std::env::var_os("ROOST_SIM_TRACE").is_some() {
            eprintln!("{:?} start ac{i}", self.now);
        }
        let mut s = AcSettings::new(&format!("ac{i}"), ac_ip(i));
        s.ac_list = (0..self.k()).map(ac_ip).collect();
        s.fast_timers = Some(FAST);
        self.acs[i].core = Some(Adoption::new(s));
        self.acs[i].boots += 1;
        let mut d = Directory::new(member(i), self.acs[i].boots);
        // Held for the licensing grace period (100 days: longer than any run).
        d.handle_previous_boot(
            std::mem::take(&mut self.acs[i].persisted_aps),
            self.now + Duration::from_secs(100 * 86_400),
        );
        self.acs[i].directory = Some(d);
        self.acs[i].held_at_death = 0;
        self.members_changed();
        self.readmit();
    }

    /// Hellos, modelled exactly: every live controller's directory learns who is connected
    /// on its side.
    fn members_changed(&mut self) {
        let now = self.now;
        for i in 0..self.k() {
            let connected: Vec<(MemberId, u32)> = (0..self.k())
                .filter(|j| self.live(*j) && self.reach(i, *j))
                .map(|j| (member(j), self.acs[j].boots))
                .collect();
            let lost: Vec<MemberId> = (0..self.k())
                .filter(|j| !(self.live(*j) && self.reach(i, *j)))
                .map(member)
                .collect();
            if let Some(d) = self.acs[i].directory.as_mut() {
                d.handle_members(&connected, &lost, now);
            }
            self.drain_directory(i);
        }
    }

    fn drain_directory(&mut self, i: usize) {
        let mut outs = vec![];
        if let Some(d) = self.acs[i].directory.as_mut() {
            while let Some(o) = d.poll_output() {
                outs.push(o);
            }
        }
        for o in outs {
            match o {
                DirectoryOutput::Send { to, msg } => {
                    let j = to.0 as usize - 1;
                    if self.reach(i, j) {
                        self.net
                            .send(&mut self.rng, self.now, i, j, Packet::Table(msg));
                    }
                }
                DirectoryOutput::MemberLost { aps, .. } => {
                    let now = self.now;
                    if let Some(core) = self.acs[i].core.as_mut() {
                        core.handle_member_lost(aps, now);
                    }
                    self.drain_ac(i);
                }
                DirectoryOutput::Release { mac, .. } => {
                    let now = self.now;
                    if let Some(core) = self.acs[i].core.as_mut() {
                        core.handle_release(mac, ReleaseReason::ClaimedElsewhere, now);
                    }
                    self.drain_ac(i);
                }
            }
        }
    }

    fn kill_ac(&mut self, i: usize) {
        if std::env::var_os("ROOST_SIM_TRACE").is_some() {
            eprintln!("{:?} kill ac{i}", self.now);
        }
        if let Some(core) = self.acs[i].core.take() {
            // What its last hello said: its sessions and the licenses it still reserves.
            let reserved = self.acs[i]
                .directory
                .as_ref()
                .map_or(0, |d| d.reserved().total());
            self.acs[i].held_at_death = core.held().total() + reserved;
            let reserved_macs: Vec<[u8; 6]> = self.acs[i]
                .directory
                .as_ref()
                .map(|d| d.reserved_macs().map(|m| m.0).collect())
                .unwrap_or_default();
            self.acs[i].macs_at_death =
                core.aps().map(|ap| ap.mac.0).chain(reserved_macs).collect();
        }
        if let Some(d) = self.acs[i].directory.take() {
            self.acs[i].persisted_aps = d.persisted_aps();
        }
        // What it keeps across the restart: the APs it held, and of the members only those
        // it had lost.
        for j in 0..self.k() {
            if self.live(j) && self.reach(i, j) {
                self.seen[i][j] = None;
            }
        }
        self.net.forget(i);
        self.members_changed();
        self.readmit();
    }

    /// What every live controller may adopt, as the composition computes it from hellos
    /// (modelled exactly) and its own copy of the AP table (replicated over the network).
    fn readmit(&mut self) {
        let now = self.now;
        for i in 0..self.k() {
            let pool = self.pool(i);
            let capacity = self.acs[i].capacity;
            let licenses: Vec<u32> = self.acs.iter().map(|a| a.licenses).collect();
            let capacities: Vec<u32> = self.acs.iter().map(|a| a.capacity).collect();
            let balancing = self.balancing;
            let ac = &mut self.acs[i];
            let (Some(core), Some(d)) = (ac.core.as_mut(), ac.directory.as_ref()) else {
                continue;
            };
            let me: Vec<PoolMember> = pool
                .iter()
                .map(|m| PoolMember {
                    is_self: m.member == member(i),
                    ..*m
                })
                .collect();
            let me_active = me.iter().any(|m| m.is_self && m.active);
            let part = balance::for_member(
                &me,
                |m| capacities[m.0 as usize - 1],
                balancing.then_some(SIM_BALANCE),
                core.held().total(),
            );
            let back = handing_back(me_active, &me, part.receiving_from);
            let grace = d.grace(|m| (0, licenses[m.0 as usize - 1]), &back);
            core.handle_admission(admission(me_active, &me, &grace, capacity), now);
            // The sim's election applies force-configured-state at once: a member that is no
            // longer active hands its APs back to the one that is.
            let targets = fallback_targets(me_active, &me, |m| d.has_copy(m))
                .into_iter()
                .map(|m| format!("ac{}", m.0 - 1))
                .collect();
            core.handle_fallback(targets, now);
            core.handle_intake(part.receiving_from.is_some());
            core.handle_balance(
                part.order.map(|(to, count)| BalanceOrder {
                    target: format!("ac{}", to.0 - 1),
                    count: count as usize,
                    hold_down: SIM_BALANCE.hold_down,
                }),
                now,
            );
        }
    }

    /// Every controller as `viewer`'s side's hellos describe it (`is_self` unset): one it
    /// cannot see (dead, or across a partition) as its last hello to `viewer` did.
    fn pool(&mut self, viewer: usize) -> Vec<PoolMember> {
        let active = (0..self.k()).find(|j| self.live(*j) && self.reach(viewer, *j));
        (0..self.k())
            .filter_map(|j| {
                let a = &self.acs[j];
                let connected = a.core.is_some() && self.side[viewer] == self.side[j];
                let viewer_live = self.acs[viewer].core.is_some();
                let held = match (&a.core, &a.directory) {
                    // A dead viewer hears no hello.
                    (Some(c), Some(d)) if connected && viewer_live => {
                        let h = c.held().total() + d.reserved().total();
                        self.seen[viewer][j] = Some(h);
                        h
                    }
                    (Some(c), Some(d)) if connected => c.held().total() + d.reserved().total(),
                    // A member it knows nothing of is not in its pool at all.
                    _ => self.seen[viewer][j]?,
                };
                Some(PoolMember {
                    // Equal priorities: the master is the lowest live id on the side, and
                    // outranks every higher one.
                    member: member(j),
                    is_self: false,
                    connected,
                    is_master: Some(j) == active,
                    master_priority: 128,
                    active: if self.balancing {
                        connected
                    } else {
                        Some(j) == active
                    },
                    licenses: roost_wire::LicenseCounts {
                        aap_licenses: a.licenses,
                        aap_count: held,
                        ..Default::default()
                    },
                })
            })
            .collect()
    }

    fn wall(&self) -> Instant {
        self.origin + self.now
    }

    fn drain_ac(&mut self, i: usize) {
        let mut outs = vec![];
        if let Some(core) = self.acs[i].core.as_mut() {
            while let Some(o) = core.poll_output() {
                outs.push(o);
            }
        }
        let from_c = control(ac_ip(i), 5246);
        let from_d = control(ac_ip(i), 5247);
        let mut changed = false;
        for o in outs {
            let (to, data, bytes, from) = match o {
                AdoptionOutput::Control { to, datagram } => (to, false, datagram, from_c),
                AdoptionOutput::Data { to, datagram } => (to, true, datagram, from_d),
                AdoptionOutput::Event(e) => {
                    let now = self.now;
                    let wall_ms = 1_700_000_000_000 + self.now.as_millis() as u64;
                    let ac = &mut self.acs[i];
                    if let Some(d) = ac.directory.as_mut() {
                        match e {
                            AdoptionEvent::Joined { ap, session_id } => {
                                // From a connected member: held down here (the daemon's rule).
                                if d.held_by_connected_peer(&ap.mac) {
                                    if let Some(c) = ac.core.as_mut() {
                                        c.handle_moved(ap.mac, now);
                                    }
                                }
                                d.handle_adopted(ap.record(session_id, wall_ms), now)
                            }
                            AdoptionEvent::Released { mac, grace, .. } => {
                                d.handle_released(mac, !grace, now)
                            }
                            AdoptionEvent::Renamed { .. }
                            | AdoptionEvent::Adopted { .. }
                            | AdoptionEvent::Refused { .. }
                            | AdoptionEvent::WlansApplied { .. } => {}
                        }
                    }
                    changed = true;
                    continue;
                }
            };
            if let Some(j) = self.node_of(to) {
                let p = Packet::Capwap { from, data, bytes };
                self.net.send(&mut self.rng, self.now, i, j, p);
            }
        }
        // Held counts reach the others at once (hellos, without their latency).
        let _ = changed;
        self.drain_directory(i);
        self.readmit();
        self.check_books();
    }

    fn drain_wtp(&mut self, n: usize) {
        let mut outs = vec![];
        while let Some(o) = self.wtps[n].poll_output() {
            outs.push(o);
        }
        let ip = wtp_ip(n);
        let me = self.k() + n;
        for o in outs {
            let (to, data, bytes) = match o {
                Output::Control { to, bytes } => (to, false, bytes),
                Output::Data { to, bytes } => (to, true, bytes),
                Output::Event(e) => {
                    if std::env::var_os("ROOST_SIM_TRACE_AP").is_some_and(|v| v == *n.to_string()) {
                        eprintln!("{:?} ap {n} {e:?}", self.now);
                    }
                    continue;
                }
            };
            let from = control(ip, if data { 40001 } else { 40000 });
            if let Some(j) = self.node_of(to) {
                let p = Packet::Capwap { from, data, bytes };
                self.net.send(&mut self.rng, self.now, me, j, p);
            }
        }
    }

    /// The pool and the capacities, at every step: the licenses the live controllers'
    /// sessions take, plus what each dead one held when it died, never exceed the cluster's
    /// licenses (a dead member's stay in the pool: WiNG's grace period).
    ///
    /// Counted as the rule counts: a live member's sessions and the licenses of released APs
    /// it still reserves; a dead member's APs (those not since adopted by a live member, on
    /// its grace share) and its reserved licenses.
    fn check_books(&self) {
        let mut pool = 0u32;
        // One license per AP, however many sessions (a duplicate is one AP, until the
        // duplicate rule releases one session), plus the reserved licenses of released APs.
        let mut aps: std::collections::BTreeSet<[u8; 6]> = Default::default();
        for (i, a) in self.acs.iter().enumerate() {
            pool += a.licenses;
            match (&a.core, &a.directory) {
                (Some(c), Some(d)) => {
                    let h = c.held().total();
                    assert!(
                        h <= a.capacity,
                        "ac{i} holds {h} APs, above its capacity {} at {:?}",
                        a.capacity,
                        self.now
                    );
                    aps.extend(c.aps().map(|ap| ap.mac.0));
                    aps.extend(d.reserved_macs().map(|m| m.0));
                }
                _ => aps.extend(a.macs_at_death.iter().copied()),
            }
        }
        let held = aps.len() as u32;
        if held > pool && std::env::var_os("ROOST_SIM_TRACE").is_some() {
            for a in &self.acs {
                eprintln!(
                    "dead {:?} held {}",
                    a.macs_at_death.iter().map(|m| m[5]).collect::<Vec<_>>(),
                    a.held_at_death
                );
                if let Some(c) = &a.core {
                    eprintln!(
                        "live {:?} grace {:?} reserved {:?}",
                        c.aps()
                            .map(|ap| (ap.mac.0[5], ap.state))
                            .collect::<Vec<_>>(),
                        c.admission()
                            .grace
                            .keys()
                            .map(|m| m.0[5])
                            .collect::<Vec<_>>(),
                        a.directory.as_ref().unwrap().reserved()
                    );
                }
            }
        }
        assert!(
            held <= pool,
            "the pool is over-committed: {held} APs held, {pool} licenses at {:?}: {:?}",
            self.now,
            self.acs
                .iter()
                .map(|a| (
                    a.licenses,
                    a.held_at_death,
                    a.core.as_ref().map(|c| (
                        c.held().total(),
                        c.admission().aap_licenses,
                        c.admission().grace.len()
                    ))
                ))
                .collect::<Vec<_>>()
        );
    }

    fn step(&mut self, until: Duration) {
        let k = self.k();
        let next_ac = self
            .acs
            .iter()
            .flat_map(|a| {
                [
                    a.core.as_ref().and_then(|c| c.poll_timeout()),
                    a.directory.as_ref().and_then(|d| d.poll_timeout()),
                ]
            })
            .flatten()
            .min();
        let next_wtp = self
            .wtps
            .iter()
            .filter_map(|w| w.poll_timeout())
            .map(|t| t.saturating_duration_since(self.origin))
            .min();
        let next = [self.net.next_due(), next_ac, next_wtp]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(until)
            .clamp(self.now, until);
        self.now = next;
        self.steps += 1;
        while let Some(d) = self.net.poll_due(self.now) {
            let now = self.now;
            let wall = self.wall();
            match d.msg {
                Packet::Table(_) if !self.reach(d.from, d.to) => {}
                Packet::Table(msg) => {
                    let from = member(d.from);
                    if let Some(dir) = self.acs[d.to].directory.as_mut() {
                        dir.handle_message(from, msg, now);
                    }
                    self.drain_directory(d.to);
                    self.readmit();
                }
                Packet::Capwap { from, data, bytes } if d.to < k => {
                    if let Some(core) = self.acs[d.to].core.as_mut() {
                        if data {
                            core.handle_data(from, &bytes, now);
                        } else {
                            core.handle_control(from, &bytes, now);
                        }
                    }
                    self.drain_ac(d.to);
                }
                Packet::Capwap { from, data, bytes } => {
                    let w = &mut self.wtps[d.to - k];
                    let _ = if data {
                        w.handle_data(from, &bytes, wall)
                    } else {
                        w.handle_control(from, &bytes, wall)
                    };
                    self.drain_wtp(d.to - k);
                }
            }
        }
        for i in 0..k {
            let due = self.acs[i]
                .directory
                .as_ref()
                .and_then(|d| d.poll_timeout())
                .is_some_and(|t| t <= self.now);
            if due {
                let now = self.now;
                self.acs[i].directory.as_mut().unwrap().handle_timeout(now);
                self.drain_directory(i);
                self.readmit();
            }
        }
        for i in 0..k {
            let due = self.acs[i]
                .core
                .as_ref()
                .and_then(|c| c.poll_timeout())
                .is_some_and(|t| t <= self.now);
            if due {
                let now = self.now;
                self.acs[i].core.as_mut().unwrap().handle_timeout(now);
                self.drain_ac(i);
            }
        }
        let wall = self.wall();
        for n in 0..self.wtps.len() {
            if self.wtps[n].poll_timeout().is_some_and(|t| t <= wall) {
                self.wtps[n].handle_timeout(wall);
                self.drain_wtp(n);
            }
        }
    }

    fn run_until(&mut self, until: Duration) {
        let mut guard = 0u64;
        while self.now < until {
            self.step(until);
            guard += 1;
            assert!(guard < 2_000_000, "no progress at {:?}", self.now);
        }
    }

    fn check_settled(&self, seed: u64) {
        let k = self.k();
        let mut holders: BTreeMap<[u8; 6], Vec<(usize, ApState)>> = BTreeMap::new();
        for (i, a) in self.acs.iter().enumerate() {
            if let Some(c) = &a.core {
                for ap in c.aps() {
                    holders.entry(ap.mac.0).or_default().push((i, ap.state));
                }
            }
        }
        let mut run = 0;
        for (n, w) in self.wtps.iter().enumerate() {
            let mac = w.identity().mac;
            let held = holders.get(&mac).cloned().unwrap_or_default();
            if w.state() == State::Run {
                run += 1;
                let ac = w.ac().expect("an AP in Run has an AC");
                let ac = self.node_of(ac).unwrap();
                assert!(ac < k);
                assert_eq!(
                    held,
                    vec![(ac, ApState::Run)],
                    "seed {seed}: ap-{n} is in Run on ac{ac}; holders {held:?}"
                );
            } else {
                assert!(
                    held.iter().all(|(_, s)| *s != ApState::Run),
                    "seed {seed}: ap-{n} is {} but held in Run by {held:?}",
                    w.state()
                );
            }
        }
        // Every AP the serving controller may still take is adopted: the APs others hold,
        // plus what the active's licenses and capacity allow.
        let active = self.acs.iter().position(|a| a.core.is_some()).unwrap();
        let a = self.acs[active].core.as_ref().unwrap();
        let others: u32 = self
            .acs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != active)
            .filter_map(|(_, x)| x.core.as_ref())
            .map(|c| c.adopted() as u32)
            .sum();
        let room = a.admission().aap_licenses.min(a.admission().capacity);
        let want = (self.wtps.len() as u32).min(others + room);
        let states: Vec<String> = self
            .wtps
            .iter()
            .map(|w| format!("{}@{:?}", w.state(), w.ac()))
            .collect();
        let acs: Vec<String> = self
            .acs
            .iter()
            .map(|a| match &a.core {
                Some(c) => format!(
                    "up held {} adopted {} {:?} {:?}",
                    c.held().total(),
                    c.adopted(),
                    c.admission(),
                    c.counters()
                ),
                None => "down".into(),
            })
            .collect();
        assert!(
            run as u32 >= want,
            "seed {seed}: only {run} of {} APs in Run (at least {want} expected)\nAPs: {states:?}\nACs: {acs:#?}",
            self.wtps.len()
        );
        // Fallback: the members that are not active handed their APs back, unless the active
        // has no room for them (Active/Active: every member is active, none hands back).
        if !self.balancing && a.held().total() < a.admission().capacity {
            assert_eq!(
                others, 0,
                "seed {seed}: APs still on standbys after the handback\nAPs: {states:?}\nACs: {acs:#?}"
            );
        }
    }
}

/// `partitions`: the member channel may be split too (the recorded seeds' schedules predate
/// it, and keep their meaning without it).
fn run_seed(seed: u64, faults: usize, partitions: bool) {
    run_schedule(seed, faults, partitions, if partitions { 8 } else { 6 })
}

/// [`run_seed`] with faults drawn from `0..kinds` (6 leaves out the member-channel heal).
fn run_schedule(seed: u64, faults: usize, partitions: bool, kinds: u32) {
    run_schedule_with(seed, faults, partitions, kinds, false)
}

fn run_schedule_with(seed: u64, faults: usize, partitions: bool, kinds: u32, balancing: bool) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xa9);
    let mut sim = Sim::new(seed);
    sim.balancing = balancing;
    let k = sim.k();
    let n = sim.wtps.len();
    sim.run_until(Duration::from_secs(3));
    for _ in 0..faults {
        let at = sim.now + Duration::from_millis(rng.gen_range(100..3000));
        sim.run_until(at);
        let fault = rng.gen_range(0..kinds);
        if std::env::var_os("ROOST_SIM_TRACE").is_some() {
            eprintln!("{:?} fault {fault}", sim.now);
        }
        match fault {
            0 => {
                let alive = sim.acs.iter().filter(|a| a.core.is_some()).count();
                let i = rng.gen_range(0..k);
                if alive > 1 {
                    sim.kill_ac(i);
                }
            }
            1 => {
                let i = rng.gen_range(0..k);
                if sim.acs[i].core.is_none() {
                    sim.start_ac(i);
                }
            }
            2 => {
                let i = rng.gen_range(0..k);
                for w in 0..n {
                    if rng.gen_bool(0.3) {
                        sim.net.cut(i, k + w);
                    }
                }
            }
            3 => sim.net.heal_all(),
            5 if partitions && k > 1 => {
                // Split the member channel in two non-empty sides.
                let mut sides: Vec<u8> = (0..k).map(|_| rng.gen_range(0..2)).collect();
                let lone = rng.gen_range(0..k);
                sides[lone] = 1 - sides[(lone + 1) % k];
                if sides.iter().all(|s| *s == sides[0]) {
                    sides[lone] = 1 - sides[0];
                }
                sim.partition(sides);
            }
            6 if partitions => sim.heal_members(),
            4 => {
                sim.net.faults = Faults {
                    loss: Chance::Probability([0.0, 0.02, 0.1][rng.gen_range(0..3)]),
                    duplication: Chance::Probability(0.0),
                    delay: Delay::up_to_ms([1, 5, 20][rng.gen_range(0..3)]),
                };
            }
            _ => {}
        }
    }
    sim.net.heal_all();
    sim.heal_members();
    sim.net.faults = Faults::NONE;
    // Long enough for an AP that sent its Join to a controller that died to give up on it at
    // the RFC's pace (RetransmitInterval 3 s doubling, MaxRetransmit 5: about 66 s), once per
    // controller its last discovery offered that died since (seed 1359: two in a row).
    let end = sim.now + Duration::from_secs(70 * sim.acs.len() as u64 + 30);
    sim.run_until(end);
    sim.check_settled(seed);
}

#[test]
fn controllers_and_aps_under_faults_keep_the_books_and_settle_on_one_adopter() {
    for seed in roost_simnet::seeds(12) {
        let r = std::panic::catch_unwind(|| run_seed(seed, 20, false));
        if let Err(e) = r {
            eprintln!("AP simulation failed for seed {seed}; replay with ROOST_SIM_SEED={seed}");
            std::panic::resume_unwind(e);
        }
    }
}

/// Seeds that broke the books or left APs out while the cluster-wide AP table's rules were
/// written (a restarted member's old rows, a borrower's death, stale grace flags, reserved
/// licenses never coming back): kept so that each stays fixed.
#[test]
fn recorded_seeds_keep_the_books_and_settle() {
    for seed in [22, 82, 308, 412, 807, 1231] {
        run_seed(seed, 20, false);
    }
}

/// A schedule that broke the books while partitions were added to the simulation: a member
/// restarted inside a partition, with no copy of the other side's AP table, counted that
/// member's licenses as unused, and when that member died its APs came over on them twice.
/// (The simulation had let the dead member hear hellos; the rule then took a lost member's
/// hello count over its rows. Since seed 84 with partitions, a lost member's unused licenses
/// count on no side at all, `placement::admission`.)
#[test]
fn a_member_restarted_inside_a_partition_does_not_count_a_lost_members_used_licenses_twice() {
    run_schedule(84, 20, true, 6);
}

/// A partition schedule that over-committed the pool (29 APs on 28 licenses, two members
/// of 14): the side of the election's master counted the lost member's unused licenses as
/// its own while that member, alive across the partition, adopted on them too. A lost
/// member's unused licenses now count on no side (`placement::admission`).
#[test]
fn a_partitioned_members_unused_licenses_are_not_spent_on_both_sides() {
    run_seed(84, 20, true);
}

/// Seed 552, reported to over-commit the pool during a partition (in the partition and the
/// balancing variants). The schedule did not replay: the AC core walked hash maps where the
/// order is observable (which sessions a handback or a balancing round took first, in which
/// order a dead member's APs were told), so which datagrams the network's seeded loss took
/// changed from run to run. The failure could not be reproduced here (none in 800 runs
/// before the fix); the cores now walk those in a fixed order, so this seed replays exactly
/// and is kept to stay fixed. The partition over-commit the simulation did show is seed 84's
/// above (a lost member's unused licenses spent on both sides); it may well be what 552 hit.
#[test]
fn seed_552_keeps_the_books_in_partitions_and_while_balancing() {
    run_seed(552, 20, true);
    run_schedule_with(552, 20, true, 8, true);
}

/// Seed 1027 of the balancing variant: APs balanced from one member to another after a third
/// died stayed reserved on the first for good (the dead member never acknowledged their
/// removal from its table), counted twice, so the last AP found no license and never reached
/// Run. A lost member need not acknowledge a release whose AP a connected member holds and
/// has seen go (`Directory::settle_tombstones`). Like 552 it failed only for some hash-map
/// orders (about half of the runs); [`aps_balanced_away_after_a_member_died_free_their_licenses`]
/// is the same failure, scripted.
#[test]
fn seed_1027_balancing_after_a_member_died_settles() {
    run_schedule_with(1027, 20, true, 8, true);
}

/// Seed 1027's failure, scripted: three members, every license on the second; the first
/// dies (lost for good), the third is down. The second adopts every AP but one (its links
/// are cut); the third starts and balancing moves its share over; then the last AP's links
/// heal. The pool is exactly the APs: it fits only if the balanced APs' licenses are not
/// still reserved on the second, waiting for the dead member's acknowledgement.
#[test]
fn aps_balanced_away_after_a_member_died_free_their_licenses() {
    let seed = (1..).find(|s| Sim::new(*s).k() == 3).unwrap();
    let mut sim = Sim::new(seed);
    sim.balancing = true;
    let k = sim.k();
    let n = sim.wtps.len();
    for a in sim.acs.iter_mut() {
        a.capacity = n as u32;
        a.licenses = 0;
    }
    sim.acs[1].licenses = n as u32;
    let last = n - 1;
    for i in 0..k {
        sim.net.cut(i, k + last);
    }
    sim.kill_ac(0);
    sim.kill_ac(2);
    sim.readmit();
    sim.run_until(Duration::from_secs(10));
    assert_eq!(sim.acs[1].core.as_ref().unwrap().adopted(), n - 1);
    sim.start_ac(2);
    let t = sim.now + Duration::from_secs(40);
    sim.run_until(t);
    let moved = sim.acs[2].core.as_ref().unwrap().adopted();
    assert!(moved >= 2, "balancing moved {moved} APs");
    sim.net.heal_all();
    // Long enough for an AP sulking after its unanswered discoveries.
    let t = sim.now + Duration::from_secs(120);
    sim.run_until(t);
    sim.check_settled(seed);
    let reserved: u32 = sim
        .acs
        .iter()
        .filter_map(|a| a.directory.as_ref())
        .map(|d| d.reserved().total())
        .sum();
    assert_eq!(reserved, 0, "seed {seed}: no license still reserved");
}

/// The same with the member channel partitioned and healed as well: each side elects its
/// own serving controller, licenses a lost member's APs from its copy of the AP table, and
/// spends no lost member's unused licenses; the books hold at every step,
/// and after the heal the duplicate rule leaves one adopter per AP.
/// Balancing seed 1923: a member died, the survivor licensed its APs from its grace share,
/// and the member restarted inside a partition that kept it from the survivor; having
/// forgotten its previous boot, it spent its own licenses again (37 APs on 36). Its store now
/// keeps the APs it held, and the new boot holds their licenses until each is accounted for.
#[test]
fn seed_1923_a_member_restarted_in_a_partition_holds_its_previous_boots_licenses() {
    run_schedule_with(1923, 20, true, 8, true);
}

/// Balancing seed 4154: a member's saved APs left out the ones it had released whose
/// licenses it still reserved; a survivor with a stale copy licensed those from its grace
/// share while the restarted member spent the licenses again. The saved list includes them.
#[test]
fn seed_4154_a_restarted_member_still_holds_its_reserved_releases() {
    run_schedule_with(4154, 20, true, 8, true);
}

/// Balancing seed 1560: an AP a dead member still had a row for, balanced away from another
/// member and held by a third, kept its old member's license reserved for the dead member's
/// acknowledgement, and with three such licenses held back an AP stayed out.
#[test]
fn seed_1560_a_dead_members_row_does_not_hold_back_a_balanced_aps_license() {
    run_schedule_with(1560, 20, true, 8, true);
}

/// Partition seeds that left an AP out at the end: a refusal's AC IPv4 List (a live member
/// still lists a dead one) sent the AP back to the dead AC it had just timed out on (106), and
/// one discovery offered two controllers that died before the AP's Joins reached them, one
/// RFC-paced timeout each (1359, 1765).
#[test]
fn partition_seeds_where_an_ap_joined_dead_controllers_settle() {
    for seed in [106, 1359, 1765] {
        run_seed(seed, 20, true);
    }
}

#[test]
fn member_channel_partitions_keep_the_books_and_settle_on_one_adopter() {
    for seed in roost_simnet::seeds(12) {
        let r = std::panic::catch_unwind(|| run_seed(seed, 20, true));
        if let Err(e) = r {
            eprintln!(
                "AP simulation with partitions failed for seed {seed}; replay with ROOST_SIM_SEED={seed}"
            );
            std::panic::resume_unwind(e);
        }
    }
}

#[test]
fn quiet_cluster_adopts_every_ap_on_the_active() {
    let mut sim = Sim::new(7);
    for a in &mut sim.acs {
        a.licenses = 64;
        a.capacity = 1024;
    }
    sim.readmit();
    sim.run_until(Duration::from_secs(10));
    let on0 = sim.acs[0].core.as_ref().unwrap().adopted();
    assert_eq!(on0, sim.wtps.len(), "all on the active");
    sim.check_settled(7);
    // The active dies: told so by the standby, every AP probes it at once and is in Run on
    // the standby well within its 5 s echo interval.
    sim.kill_ac(0);
    let killed = sim.now;
    sim.run_until(killed + Duration::from_millis(1500));
    let elsewhere: usize = sim.acs[1..]
        .iter()
        .filter_map(|a| a.core.as_ref())
        .map(|c| c.adopted())
        .sum();
    assert_eq!(elsewhere, sim.wtps.len());
    sim.check_settled(7);
    // It returns: the standby hands every AP back (no reboot: no AP goes through Discovery),
    // and none is out of Run longer than its move takes.
    sim.start_ac(0);
    let back = sim.now;
    let mut longest = Duration::ZERO;
    let mut out_since: Vec<Option<Duration>> = vec![None; sim.wtps.len()];
    while sim.now < back + Duration::from_secs(10) {
        let t = sim.now + Duration::from_millis(5);
        sim.run_until(t);
        for (n, w) in sim.wtps.iter().enumerate() {
            match (w.state() == State::Run, out_since[n]) {
                (false, None) => out_since[n] = Some(sim.now),
                (true, Some(since)) => {
                    longest = longest.max(sim.now - since);
                    out_since[n] = None;
                }
                _ => {}
            }
        }
    }
    assert!(out_since.iter().all(|o| o.is_none()), "every AP in Run");
    let on0 = sim.acs[0].core.as_ref().unwrap().adopted();
    assert_eq!(
        on0,
        sim.wtps.len(),
        "every AP back on its configured controller"
    );
    assert!(longest < Duration::from_secs(1), "longest gap {longest:?}");
    let resets: u64 = sim.acs[1..]
        .iter()
        .filter_map(|a| a.core.as_ref())
        .map(|c| c.counters().resets)
        .sum();
    assert_eq!(resets, 0, "no AP reset: each fell back");
    sim.check_settled(7);
}

/// Active/Active with load balancing: members killed, restarted (a member that joins takes
/// its share), partitioned and healed while APs move between them; the books hold at every
/// step (no AP adopted twice, the pool never over-committed) and every AP ends in Run on one
/// member.
#[test]
fn active_active_balancing_under_kills_and_joins_keeps_the_books() {
    for seed in roost_simnet::seeds(12) {
        let r = std::panic::catch_unwind(|| run_schedule_with(seed, 20, true, 8, true));
        if let Err(e) = r {
            eprintln!(
                "balancing simulation failed for seed {seed}; replay with ROOST_SIM_SEED={seed}"
            );
            std::panic::resume_unwind(e);
        }
    }
}

/// A member that joins an Active/Active cluster takes its share: every AP adopts to the one
/// member up, a second starts, and the loads end within the threshold (or less than one AP
/// apart), each AP having moved at most once, none lost.
#[test]
fn a_member_joining_an_active_active_cluster_takes_its_share() {
    for seed in roost_simnet::seeds(8) {
        let mut sim = Sim::new(seed);
        sim.balancing = true;
        let k = sim.k();
        for i in 1..k {
            sim.kill_ac(i);
        }
        let n = sim.wtps.len();
        // Every member of one platform with room for every AP, the first one licensed.
        for a in sim.acs.iter_mut() {
            a.capacity = n as u32;
        }
        sim.acs[0].licenses = 64;
        sim.readmit();
        sim.run_until(Duration::from_secs(5));
        // One member joins (two joining at once can leave the spread above the threshold
        // until the hold-down ends: the first round moves toward the first joiner's share of
        // two, and what arrived there is held down; a known gap).
        sim.start_ac(1);
        let end = sim.now + Duration::from_secs(40);
        sim.run_until(end);
        sim.check_settled(seed);
        let loads: Vec<balance::Load> = (0..2)
            .map(|i| balance::Load {
                member: member(i),
                adopted: sim.acs[i].core.as_ref().unwrap().adopted() as u32,
                capacity: sim.acs[i].capacity,
            })
            .collect();
        assert_eq!(
            loads.iter().map(|l| l.adopted as usize).sum::<usize>(),
            n,
            "seed {seed}: {loads:?}"
        );
        let counters: Vec<String> = (0..2)
            .map(|i| {
                let c = sim.acs[i].core.as_ref().unwrap().counters();
                format!(
                    "rounds {} moved {} released {} handback {}",
                    c.balance_rounds, c.balance_moved, c.released, c.handback_requests
                )
            })
            .collect();
        assert_eq!(
            balance::plan(&loads, 10),
            None,
            "seed {seed}: not balanced: {loads:?} {counters:?}"
        );
        let moved: u64 = (0..2)
            .map(|i| sim.acs[i].core.as_ref().unwrap().counters().balance_moved)
            .sum();
        assert!(moved > 0 || n < 4, "seed {seed}: nothing moved: {loads:?}");
        let first = sim.acs[0].core.as_ref().unwrap().counters().balance_moved;
        assert_eq!(
            moved, first,
            "seed {seed}: a joiner moved APs (back): {loads:?}"
        );
    }
}
