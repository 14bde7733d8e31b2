//! Layer 2: deterministic whole-cluster simulation.
//!
//! 2–5 members (`roost_core::Node` over a small key/value config) on a simulated network with
//! seeded faults: kill, restart (from what the member persisted), stall (SIGSTOP/SIGCONT: the
//! member runs nothing for a while, then handles its overdue timers first and its queued
//! datagrams after), partition, heal, loss, duplication, delay and reordering. Invariants are checked at every step:
//!
//! * one master per side: within a group of members that can all talk to each other and whose
//!   membership has been stable for longer than the dead interval plus a few hellos, at most
//!   one member claims mastership;
//! * every member converges after the final heal: one master, same head, same config text;
//! * no committed revision is lost: every commit acknowledged with `CommitDone(Ok(id))` is, at
//!   the end, the winner's head or an ancestor of it, or the head of a superseded
//!   configuration kept by the cluster or an ancestor of that head (its text includes the
//!   change), or one of the revisions a superseded configuration lists. Ancestry is judged
//!   from the parent of every revision any member persisted (the harness sees them all).
//!
//! * a configuration is superseded only if it truly diverged: when a member replaces its head
//!   H by a snapshot of S and keeps H as superseded, S is not an ancestor of H (a lineage that
//!   extends the winner's is fast-forwarded, never superseded);
//! * with stalls alone (a member stops, then resumes with its timers overdue and its inbox
//!   full; no partition, loss or kill), every acknowledged commit ends in the winner's lineage
//!   and nothing is superseded at all.
//!
//! Any failing run prints its seed; replay it with `ROOST_SIM_SEED=<seed> cargo test -p
//! roost-core --test sim -- --nocapture`. `ROOST_SIM_SEEDS=<n>` runs more seeds.

mod support;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roost_core::{
    Command, ConfigState, Election, ElectionSettings, Instant, MemberConfig, Node, Notification,
    Replication, ReplicationSettings,
};
use roost_simnet::{Chance, Delay, Faults, Net};
use roost_wire::{
    ClusterMode, LicenseCounts, Mac, MemberId, MemberMessage, Model, Revision, RevisionId,
    SupersededConfig,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;
use support::Kv;

const HELLO: Duration = Duration::from_millis(100);
const DEAD: Duration = Duration::from_millis(300);

/// What a member has on disk.
#[derive(Clone, Default)]
struct Disk {
    config: String,
    head: Option<RevisionId>,
    log: Vec<Revision>,
    lineage: Vec<RevisionId>,
    superseded: Vec<SupersededConfig>,
    requests: Vec<roost_core::RequestRecord>,
    boot: u32,
}

struct Member {
    id: MemberId,
    mac: Mac,
    priority: u8,
    mode: ClusterMode,
    node: Option<Node<Kv>>,
    disk: Disk,
    next_request: u64,
    /// Head of the last `Persist` handed to the disk (written or still queued).
    queued_head: Option<RevisionId>,
}

/// A write on a member's store thread (deferred saves), done at `at`.
struct Save {
    at: Instant,
    cmd: Command,
}

struct Sim {
    rng: StdRng,
    now: Instant,
    members: Vec<Member>,
    /// When each member's view of reachability last changed (kill/restart/partition).
    stable_since: Instant,
    /// Datagrams between members (encoded, as on the wire), partitions and faults.
    net: Net<Vec<u8>>,
    /// Every commit acknowledged as done: (member index, revision id).
    acked: Vec<(usize, RevisionId)>,
    /// The parent of every revision any member persisted (the harness sees them all; every
    /// revision is persisted by the master that created it), to tell which revisions a
    /// configuration descends from.
    parents: BTreeMap<RevisionId, RevisionId>,
    /// (origin, request) of every revision created, by id.
    origins: BTreeMap<RevisionId, (MemberId, u64)>,
    steps: u64,
    /// Members stopped until the given instant (a stall fault).
    stalled_until: Vec<Option<Instant>>,
    /// Datagrams that reached a stalled member, in arrival order: (from, bytes).
    inbox: Vec<Vec<(usize, Vec<u8>)>>,
    /// Configurations superseded in the run, as (holder index, superseded head, new head).
    supersessions: Vec<(usize, RevisionId, RevisionId)>,
    /// Longest disk write (deferred saves, as the daemon's store thread does them); 0: every
    /// `Persist` is written in line, before the next command is polled.
    max_disk_ms: u64,
    /// Writes queued on each member's store thread, oldest first.
    saving: Vec<VecDeque<Save>>,
}

fn settings(m: &Member) -> ElectionSettings {
    ElectionSettings {
        member: m.id,
        mac: m.mac,
        hostname: format!("sim-{}", m.id),
        model: Model::Vx9000,
        software_version: "sim".into(),
        boot: m.disk.boot,
        cluster_name: "SIM".into(),
        master_priority: m.priority,
        configured_mode: m.mode,
        force_configured_state: false,
        force_configured_state_delay: Duration::from_secs(5),
        hello_interval: HELLO,
        dead_interval: DEAD,
        licenses: LicenseCounts::default(),
        license_grace_period: std::time::Duration::from_secs(100 * 86_400),
    }
}

impl Sim {
    fn new(seed: u64, n: usize) -> Sim {
        Sim::with_disk(seed, n, 0)
    }

    /// `max_disk_ms` > 0: saves are deferred, as the daemon's store thread does them, and each
    /// takes up to that long (FIFO).
    fn with_disk(seed: u64, n: usize, max_disk_ms: u64) -> Sim {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut members = Vec::new();
        for i in 0..n {
            let mac = Mac([0x52, 0x54, 0, 0, rng.gen(), i as u8]);
            members.push(Member {
                id: mac.member_id(),
                mac,
                priority: rng.gen_range(1..=3) * 50,
                mode: if i == 0 || rng.gen_bool(0.5) {
                    ClusterMode::Active
                } else {
                    ClusterMode::Standby
                },
                node: None,
                disk: Disk::default(),
                next_request: 0,
                queued_head: None,
            });
        }
        let mut net = Net::new(n);
        net.faults = faults(0.0, 0.0, 5);
        let mut sim = Sim {
            rng,
            now: Duration::ZERO,
            members,
            stable_since: Duration::ZERO,
            net,
            acked: Vec::new(),
            parents: BTreeMap::new(),
            origins: BTreeMap::new(),
            steps: 0,
            stalled_until: vec![None; n],
            inbox: vec![Vec::new(); n],
            supersessions: Vec::new(),
            max_disk_ms,
            saving: (0..n).map(|_| VecDeque::new()).collect(),
        };
        for i in 0..n {
            sim.start(i);
        }
        sim
    }

    fn start(&mut self, i: usize) {
        let now = self.now;
        if trace() {
            eprintln!("{now:?} m{i}: START (head {:?})", self.members[i].disk.head);
        }
        let m = &mut self.members[i];
        m.disk.boot += 1;
        let config = if m.disk.head.is_some() {
            Kv::load(&m.disk.config).unwrap()
        } else {
            Kv::default()
        };
        let wall = 1_700_000_000_000 + now.as_millis() as u64;
        // As the daemon starts: the election settings its section (if any) gives it.
        let base = settings(m);
        let election = Election::new(config.election_settings(&base).unwrap_or(base), now, wall);
        let mut replication = Replication::new(
            m.id,
            ReplicationSettings::default(),
            config,
            m.disk.head.unwrap_or(RevisionId::ZERO),
            m.disk.log.clone(),
            m.disk.lineage.clone(),
            m.disk.superseded.clone(),
        );
        replication.restore_requests(m.disk.requests.clone());
        replication.set_wall_clock(wall, now);
        let mut node = Node::new(election, replication, now);
        if self.max_disk_ms > 0 {
            node.defer_persist_confirmations();
        }
        m.queued_head = m.disk.head;
        m.node = Some(node);
        self.stable_since = now;
        self.drain(i);
    }

    fn kill(&mut self, i: usize) {
        if trace() {
            eprintln!("{:?} m{i}: KILL", self.now);
        }
        self.members[i].node = None;
        self.stalled_until[i] = None;
        self.inbox[i].clear();
        // Writes not done yet are lost with the process.
        self.saving[i].clear();
        self.stable_since = self.now;
    }

    /// Stops member `i` for `len` (SIGSTOP): it handles nothing until then; datagrams for it
    /// queue up. At the end it resumes as a paused process does: overdue timers first, then
    /// the queued datagrams.
    fn stall(&mut self, i: usize, len: Duration) {
        if self.members[i].node.is_none() || self.stalled_until[i].is_some() {
            return;
        }
        if trace() {
            eprintln!("{:?} m{i}: STALL for {len:?}", self.now);
        }
        self.stalled_until[i] = Some(self.now + len);
        self.stable_since = self.now;
    }

    fn is_stalled(&self, i: usize) -> bool {
        self.stalled_until[i].is_some()
    }

    fn resume(&mut self, i: usize) {
        self.stalled_until[i] = None;
        self.stable_since = self.now;
        let now = self.now;
        if trace() {
            eprintln!(
                "{now:?} m{i}: RESUME ({} datagrams queued)",
                self.inbox[i].len()
            );
        }
        if let Some(node) = self.members[i].node.as_mut() {
            node.handle_timeout(now);
        }
        self.drain(i);
        for (from, bytes) in std::mem::take(&mut self.inbox[i]) {
            let msg = MemberMessage::decode(&bytes).expect("decode own encoding");
            let from = self.members[from].id;
            if let Some(node) = self.members[i].node.as_mut() {
                node.handle_message(from, msg, now);
            }
            self.drain(i);
        }
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        self.net.linked(a, b) && self.members[a].node.is_some() && self.members[b].node.is_some()
    }

    fn send(&mut self, from: usize, to: usize, msg: &MemberMessage) {
        if from == to || !self.reachable(from, to) {
            return;
        }
        self.net
            .send(&mut self.rng, self.now, from, to, msg.encode());
    }

    fn drain(&mut self, i: usize) {
        let mut out = Vec::new();
        if let Some(node) = self.members[i].node.as_mut() {
            while let Some(c) = node.poll_command() {
                out.push(c);
            }
        }
        let own = self.members[i].id;
        let superseded: Vec<RevisionId> = out
            .iter()
            .filter_map(|c| match c {
                Command::PersistSuperseded(s)
                    if s.holder == own && Some(s.head) == self.members[i].queued_head =>
                {
                    Some(s.head)
                }
                _ => None,
            })
            .collect();
        for c in out {
            match c {
                Command::Send { to, msg } => {
                    if let Some(j) = self.members.iter().position(|m| m.id == to) {
                        self.send(i, j, &msg);
                    }
                }
                Command::Broadcast { msg } => {
                    for j in 0..self.members.len() {
                        self.send(i, j, &msg);
                    }
                }
                c @ (Command::Persist { .. }
                | Command::PersistSuperseded(_)
                | Command::PersistRequests(_)) => {
                    if let Command::Persist { head, revision, .. } = &c {
                        self.members[i].queued_head = Some(*head);
                        if let Some(r) = revision {
                            self.parents.insert(r.id, r.parent);
                            self.origins.insert(r.id, (r.origin, r.request));
                        }
                    }
                    if self.max_disk_ms == 0 {
                        self.write(i, c);
                    } else {
                        // FIFO on the store thread: never done before the write ahead of it.
                        let earliest = self.saving[i].back().map_or(self.now, |s| s.at);
                        let took =
                            Duration::from_micros(self.rng.gen_range(0..=self.max_disk_ms * 1000));
                        let at = earliest.max(self.now + took);
                        self.saving[i].push_back(Save { at, cmd: c });
                    }
                }
                Command::Notify(Notification::CommitDone { result: Ok(id), .. }) => {
                    if trace() {
                        eprintln!("{:?} m{i}: commit acknowledged {id}", self.now);
                    }
                    self.acked.push((i, id))
                }
                Command::Notify(n) => {
                    if trace() {
                        eprintln!("{:?} m{i}: {n:?}", self.now);
                    }
                }
                // The license grace period's store: not what this simulation checks.
                Command::PersistLost(_) => {}
            }
        }
        for old in superseded {
            let new = self.members[i]
                .node
                .as_ref()
                .map(|n| n.replication.head())
                .unwrap_or(RevisionId::ZERO);
            assert!(
                !self.ancestry(old).contains(&new),
                "m{i} superseded revision {old} by revision {new}, an ancestor of it: a lineage \
                 that extends the winner's must be fast-forwarded"
            );
            self.supersessions.push((i, old, new));
        }
    }

    /// Carries out a write on member `i`'s disk, as roost-store does.
    fn write(&mut self, i: usize, c: Command) {
        match c {
            Command::Persist {
                head,
                config,
                revision,
                lineage,
            } => {
                let d = &mut self.members[i].disk;
                d.head = Some(head);
                d.config = config;
                d.lineage = lineage;
                // As roost-store keeps it: a contiguous chain ending at the head, cleared
                // by a snapshot, the newest 1024 revisions.
                match revision {
                    Some(r) => {
                        d.log.retain(|x| x.id.number < r.id.number);
                        if d.log.last().is_some_and(|p| p.id != r.parent) {
                            d.log.clear();
                        }
                        d.log.push(r);
                    }
                    None => d.log.clear(),
                }
                if d.log.len() > 1024 {
                    d.log.remove(0);
                }
            }
            Command::PersistSuperseded(s) => {
                // As roost-store keeps them: saving a head again replaces it.
                let d = &mut self.members[i].disk;
                match d.superseded.iter_mut().find(|x| x.head == s.head) {
                    Some(x) => *x = s,
                    None => d.superseded.push(s),
                }
            }
            Command::PersistRequests(requests) => {
                self.members[i].disk.requests = requests;
            }
            _ => unreachable!("not a write: {c:?}"),
        }
    }

    /// Writes due on store threads are done, and their members told.
    fn finish_saves(&mut self) {
        for i in 0..self.members.len() {
            if self.is_stalled(i) {
                continue; // the whole process is stopped
            }
            while self.saving[i].front().is_some_and(|s| s.at <= self.now) {
                let save = self.saving[i].pop_front().unwrap();
                let head = match &save.cmd {
                    Command::Persist { head, .. } => Some(*head),
                    _ => None,
                };
                self.write(i, save.cmd);
                if let Some(head) = head {
                    let now = self.now;
                    if let Some(node) = self.members[i].node.as_mut() {
                        node.handle_persisted(head, now);
                    }
                    self.drain(i);
                }
            }
        }
    }

    /// Advances to the next event (delivery or timer), at most until `until`.
    fn step(&mut self, until: Instant) {
        let next_msg = self.net.next_due();
        let next_timer = self
            .members
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.is_stalled(*i))
            .filter_map(|(_, m)| m.node.as_ref()?.poll_timeout())
            .min();
        let next_resume = self.stalled_until.iter().flatten().min().copied();
        let next_save = self
            .saving
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.is_stalled(*i))
            .filter_map(|(_, q)| q.front().map(|s| s.at))
            .min();
        let next = [next_msg, next_timer, next_resume, next_save]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(until)
            .min(until)
            .max(self.now);
        self.now = next;
        self.steps += 1;
        self.finish_saves();
        while let Some(f) = self.net.poll_due(self.now) {
            // A partition (the net dropped it) or kill that happened while it was in flight.
            if !self.reachable(f.from, f.to) {
                continue;
            }
            if self.is_stalled(f.to) {
                self.inbox[f.to].push((f.from, f.msg));
                continue;
            }
            let msg = MemberMessage::decode(&f.msg).expect("decode own encoding");
            let from = self.members[f.from].id;
            let now = self.now;
            if let Some(node) = self.members[f.to].node.as_mut() {
                node.handle_message(from, msg, now);
            }
            self.drain(f.to);
        }
        for i in 0..self.members.len() {
            if self.stalled_until[i].is_some_and(|t| t <= self.now) {
                self.resume(i);
            }
        }
        for i in 0..self.members.len() {
            if self.is_stalled(i) {
                continue;
            }
            let due = self.members[i]
                .node
                .as_ref()
                .and_then(|n| n.poll_timeout())
                .is_some_and(|t| t <= self.now);
            if due {
                let now = self.now;
                self.members[i].node.as_mut().unwrap().handle_timeout(now);
                self.drain(i);
            }
        }
        self.check_one_master_per_side();
    }

    fn run_until(&mut self, until: Instant) {
        let mut guard = 0u64;
        while self.now < until {
            self.step(until);
            guard += 1;
            assert!(
                guard < 5_000_000,
                "simulation stopped making progress at {:?}",
                self.now
            );
        }
    }

    fn commit(&mut self, i: usize) {
        let request = (self.members[i].disk.boot as u64) << 32 | (self.members[i].next_request + 1);
        self.commit_change(i, format!("set k{} v{}", request % 7, request));
    }

    /// A session on member `i` commits `change` (nothing if `i` is down or stopped).
    fn commit_change(&mut self, i: usize, change: String) {
        let now = self.now;
        if self.is_stalled(i) {
            return;
        }
        let m = &mut self.members[i];
        let Some(node) = m.node.as_mut() else { return };
        m.next_request += 1;
        let request = (m.disk.boot as u64) << 32 | m.next_request;
        if trace() {
            eprintln!("{now:?} m{i}: COMMIT request {request:#x} {change:?}");
        }
        node.handle_local_commit(request, "sim".into(), change, now);
        self.drain(i);
    }

    /// Groups of alive members that can all reach each other (partitions here are groups, so
    /// connected components are cliques).
    fn sides(&self) -> Vec<Vec<usize>> {
        let up: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].node.is_some() && !self.is_stalled(i))
            .collect();
        self.net.components(&up)
    }

    fn check_one_master_per_side(&self) {
        // Allow the dead interval plus a few hellos and the worst delivery delay to settle.
        let settle = DEAD + HELLO * 3 + self.net.faults.delay.max() * 2;
        if self.now < self.stable_since + settle || self.net.faults.loss.possible() {
            return;
        }
        for (g, side) in self.sides().into_iter().enumerate() {
            let claimants: Vec<MemberId> = side
                .iter()
                .filter(|&&i| self.members[i].node.as_ref().unwrap().election.is_master())
                .map(|&i| self.members[i].id)
                .collect();
            assert!(
                claimants.len() <= 1,
                "side {g} has {} masters {:?} at {:?} (stable since {:?})",
                claimants.len(),
                claimants,
                self.now,
                self.stable_since
            );
        }
    }

    fn heal_all(&mut self) {
        self.net.heal_all();
        self.set_faults(0.0, 0.0, self.net.faults.delay.max().as_millis() as u64);
        for i in 0..self.members.len() {
            if self.is_stalled(i) {
                self.resume(i);
            }
        }
        for i in 0..self.members.len() {
            if self.members[i].node.is_none() {
                self.start(i);
            }
        }
        self.stable_since = self.now;
    }

    /// Loss and duplication probabilities, and the longest delay (ms), from now on.
    fn set_faults(&mut self, loss: f64, dup: f64, max_delay_ms: u64) {
        self.net.faults = faults(loss, dup, max_delay_ms);
    }

    fn check_converged(&self, seed: u64) {
        let nodes: Vec<&Node<Kv>> = self
            .members
            .iter()
            .map(|m| m.node.as_ref().unwrap())
            .collect();
        let masters: BTreeSet<Option<MemberId>> =
            nodes.iter().map(|n| n.election.master()).collect();
        assert_eq!(
            masters.len(),
            1,
            "seed {seed}: members disagree on the master: {masters:?}"
        );
        let claim: Vec<_> = nodes.iter().filter(|n| n.election.is_master()).collect();
        assert_eq!(
            claim.len(),
            1,
            "seed {seed}: {} members claim mastership",
            claim.len()
        );
        let heads: BTreeSet<RevisionId> = nodes.iter().map(|n| n.replication.head()).collect();
        assert_eq!(
            heads.len(),
            1,
            "seed {seed}: heads differ after heal: {heads:?}"
        );
        let texts: BTreeSet<String> = nodes
            .iter()
            .map(|n| n.replication.config().text())
            .collect();
        assert_eq!(texts.len(), 1, "seed {seed}: configs differ after heal");
        // No acknowledged commit lost: a revision is kept if a kept configuration descends
        // from it, that is, if it is the winner's head or an ancestor of it, or the head of a
        // superseded configuration (whose full text is kept) or an ancestor of that head, or
        // one of the revisions a superseded configuration lists.
        let master = claim[0];
        let winner = self.ancestry(master.replication.head());
        for id in master.replication.lineage() {
            assert!(
                winner.contains(id),
                "seed {seed}: the master's lineage names {id}, which its head does not descend from"
            );
        }
        // Exactly once: no request was applied twice in the winning lineage.
        let mut applied: BTreeMap<(MemberId, u64), RevisionId> = BTreeMap::new();
        for id in &winner {
            if let Some(o) = self.origins.get(id) {
                if let Some(other) = applied.insert(*o, *id) {
                    panic!("seed {seed}: request {o:?} applied twice, as {other} and {id}");
                }
            }
        }
        let mut kept: BTreeSet<RevisionId> = BTreeSet::new();
        for n in &nodes {
            for s in n.replication.superseded() {
                kept.extend(self.ancestry(s.head));
                kept.extend(s.revisions.iter().map(|r| r.id));
            }
        }
        for (i, id) in &self.acked {
            assert!(
                winner.contains(id) || kept.contains(id),
                "seed {seed}: revision {id} acknowledged on member {i} was lost (not in the lineage, not superseded)"
            );
        }
    }

    /// `head` and every revision it descends from.
    fn ancestry(&self, head: RevisionId) -> BTreeSet<RevisionId> {
        let mut out = BTreeSet::new();
        let mut id = head;
        while id != RevisionId::ZERO && out.insert(id) {
            match self.parents.get(&id) {
                Some(p) => id = *p,
                None => panic!("revision {id} was never persisted by the member that created it"),
            }
        }
        out
    }
}

/// One seeded run: `faults` random fault events, then heal everything and check convergence.
fn run_seed(seed: u64, faults: usize) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let n = rng.gen_range(2..=5);
    // Half the seeds save on a store thread with a slow disk (a separate stream, so that the
    // faults each seed runs stay as they were).
    let disk = seeded_disk(seed, &[0, 0, 5, 40]);
    let mut sim = Sim::with_disk(seed, n, disk);
    sim.run_until(Duration::from_secs(1));
    for _ in 0..faults {
        let at = sim.now + Duration::from_millis(rng.gen_range(50..1500));
        sim.run_until(at);
        match rng.gen_range(0..11) {
            0 => {
                let i = rng.gen_range(0..n);
                sim.kill(i);
            }
            10 => {
                let i = rng.gen_range(0..n);
                let len = Duration::from_millis(rng.gen_range(50..2500));
                sim.stall(i, len);
            }
            1 => {
                let i = rng.gen_range(0..n);
                if sim.members[i].node.is_none() {
                    sim.start(i);
                }
            }
            2 | 3 => {
                // Partition into two sides at random.
                let groups: Vec<u8> = (0..n).map(|_| rng.gen_range(0..2)).collect();
                sim.net.set_groups(&groups);
                sim.stable_since = sim.now;
                if trace() {
                    eprintln!("{:?} PARTITION {groups:?}", sim.now);
                }
            }
            4 => {
                if trace() {
                    eprintln!("{:?} HEAL", sim.now);
                }
                sim.net.heal_all();
                sim.stable_since = sim.now;
            }
            5 => {
                let loss = [0.0, 0.05, 0.3][rng.gen_range(0..3)];
                let dup = [0.0, 0.05][rng.gen_range(0..2)];
                let delay = [1, 5, 20][rng.gen_range(0..3)];
                sim.set_faults(loss, dup, delay);
                // Lost hellos make members declare each other dead: the side is not settled.
                sim.stable_since = sim.now;
                if trace() {
                    eprintln!("{:?} NET {:?}", sim.now, sim.net.faults);
                }
            }
            _ => {
                let i = rng.gen_range(0..n);
                sim.commit(i);
            }
        }
    }
    if trace() {
        eprintln!("{:?} HEAL ALL", sim.now);
    }
    sim.heal_all();
    sim.set_faults(0.0, 0.0, 5);
    let end = sim.now + Duration::from_secs(5);
    sim.run_until(end);
    sim.check_converged(seed);
}

/// Members with sections of their own (`member-<id>` keys in [`Kv`], whose value is the master
/// priority the member runs): among the seed's faults, members commit their sections (with a
/// new priority), also on the losing side of a partition. A configuration without some
/// member's section may then win; every member that is not the master and has seen its section
/// must register it again, and every member must run the priority its section says. Checked
/// after the final heal, besides everything [`Sim::check_converged`] checks.
fn run_sections_seed(seed: u64, faults: usize) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5ec7);
    let n = rng.gen_range(2..=5);
    let mut sim = Sim::with_disk(seed, n, seeded_disk(seed, &[0, 5]));
    sim.run_until(Duration::from_secs(1));
    for _ in 0..faults {
        let at = sim.now + Duration::from_millis(rng.gen_range(50..1500));
        sim.run_until(at);
        match rng.gen_range(0..8) {
            0 => sim.kill(rng.gen_range(0..n)),
            1 => {
                let i = rng.gen_range(0..n);
                if sim.members[i].node.is_none() {
                    sim.start(i);
                }
            }
            2 | 3 => {
                let groups: Vec<u8> = (0..n).map(|_| rng.gen_range(0..2)).collect();
                sim.net.set_groups(&groups);
                sim.stable_since = sim.now;
            }
            4 => {
                sim.net.heal_all();
                sim.stable_since = sim.now;
            }
            5 | 6 => {
                let i = rng.gen_range(0..n);
                let priority = [50u8, 100, 150, 200][rng.gen_range(0..4)];
                let change = format!("set {} {priority}", support::section_key(sim.members[i].id));
                sim.commit_change(i, change);
            }
            _ => sim.commit(rng.gen_range(0..n)),
        }
    }
    sim.heal_all();
    let end = sim.now + Duration::from_secs(5);
    sim.run_until(end);
    sim.check_converged(seed);
    let config = sim.members[0]
        .node
        .as_ref()
        .unwrap()
        .replication
        .config()
        .clone();
    for (i, m) in sim.members.iter().enumerate() {
        let node = m.node.as_ref().unwrap();
        let own = config.own_section(node.election.settings());
        if !node.election.is_master() && node.own_section().is_some() {
            assert!(
                own.is_some(),
                "seed {seed}: m{i}'s section is missing from the cluster's configuration"
            );
        }
        if let Some(s) = config.election_settings(node.election.settings()) {
            assert_eq!(
                node.election.settings().master_priority,
                s.master_priority,
                "seed {seed}: m{i} does not run the priority its section says"
            );
        }
    }
}

#[test]
fn members_keep_their_sections_and_run_what_they_say() {
    for seed in roost_simnet::seeds(40) {
        let r = std::panic::catch_unwind(|| run_sections_seed(seed, 30));
        if let Err(e) = r {
            eprintln!(
                "section simulation failed for seed {seed}; replay with ROOST_SIM_SEED={seed}"
            );
            std::panic::resume_unwind(e);
        }
    }
}

/// The simulation's network faults: loss and duplication probabilities (drawn even when 0,
/// as the seeds were recorded), delays up to `max_delay_ms` in microsecond steps.
fn faults(loss: f64, dup: f64, max_delay_ms: u64) -> Faults {
    Faults {
        loss: Chance::Probability(loss),
        duplication: Chance::Probability(dup),
        delay: Delay::up_to_ms(max_delay_ms),
    }
}

/// `ROOST_SIM_TRACE=1` prints every member's notifications and the fault events.
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("ROOST_SIM_TRACE").is_some())
}

/// The longest save (ms; 0: saves in line) a seeded run uses, drawn from `choices` by its own
/// generator, so that the disk does not shift the seed's fault sequence.
fn seeded_disk(seed: u64, choices: &[u64]) -> u64 {
    choices[StdRng::seed_from_u64(seed ^ 0xd15c).gen_range(0..choices.len())]
}

#[test]
fn seeded_faults_converge_without_losing_commits() {
    for seed in roost_simnet::seeds(40) {
        let r = std::panic::catch_unwind(|| run_seed(seed, 60));
        if let Err(e) = r {
            eprintln!("simulation failed for seed {seed}; replay with ROOST_SIM_SEED={seed}");
            std::panic::resume_unwind(e);
        }
    }
}

#[test]
fn quiet_cluster_elects_highest_priority_and_replicates() {
    let mut sim = Sim::new(7, 3);
    sim.members[1].priority = 250;
    for i in 0..3 {
        sim.kill(i);
        sim.start(i);
    }
    sim.run_until(Duration::from_secs(2));
    let masters: Vec<usize> = (0..3)
        .filter(|&i| sim.members[i].node.as_ref().unwrap().election.is_master())
        .collect();
    assert_eq!(masters, vec![1]);
    sim.commit(2);
    let end = sim.now + Duration::from_millis(500);
    sim.run_until(end);
    assert_eq!(sim.acked.len(), 1);
    let heads: BTreeSet<RevisionId> = sim
        .members
        .iter()
        .map(|m| m.node.as_ref().unwrap().replication.head())
        .collect();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads.into_iter().next().unwrap().number, 1);
}

/// Many partitions in one long run: 5 members, 2,000 partition/heal events.
#[test]
fn five_members_through_many_partitions() {
    let rounds: usize = std::env::var("ROOST_SIM_PARTITIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let seed = 4242;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sim = Sim::new(seed, 5);
    sim.run_until(Duration::from_secs(1));
    for r in 0..rounds {
        let groups: Vec<u8> = (0..5).map(|_| rng.gen_range(0..3)).collect();
        sim.net.set_groups(&groups);
        sim.stable_since = sim.now;
        if r % 3 == 0 {
            let i = rng.gen_range(0..5);
            sim.commit(i);
        }
        let at = sim.now + Duration::from_millis(rng.gen_range(100..900));
        sim.run_until(at);
    }
    sim.heal_all();
    let end = sim.now + Duration::from_secs(5);
    sim.run_until(end);
    sim.check_converged(seed);
}

/// Seed 160, scripted: an acknowledged revision that every holder ends up knowing only as an
/// ancestor. A snapshot clears the persisted log (the store keeps a contiguous chain ending at
/// the head), so after a restart a member knows the revisions behind its head only by their
/// lineage ids; when a stale member then wins with an older configuration, the superseded
/// configuration's text still holds those revisions, but its `revisions` list cannot name
/// them. The check must count them as kept (they are ancestors of a kept configuration).
/// (m0's stale head is a commit of its own, so that its lineage truly diverges: a stale head
/// that is merely an ancestor is fast-forwarded, not a winner.)
#[test]
fn revisions_known_only_as_ancestors_are_kept_by_a_superseded_config() {
    let mut sim = Sim::new(160, 3);
    // m0 will come back stale and win; m2 outranks m1.
    for (i, prio) in [(0, 250), (1, 50), (2, 150)] {
        sim.members[i].priority = prio;
        sim.members[i].mode = ClusterMode::Active;
        sim.kill(i);
        sim.start(i);
    }
    let split = |sim: &mut Sim, groups: [u8; 3]| {
        sim.net.set_groups(&groups);
        sim.stable_since = sim.now;
    };
    let run = |sim: &mut Sim, ms: u64| {
        let end = sim.now + Duration::from_millis(ms);
        sim.run_until(end);
    };
    let master = |sim: &Sim, i: usize| sim.members[i].node.as_ref().unwrap().election.is_master();
    let head = |sim: &Sim, i: usize| sim.members[i].node.as_ref().unwrap().replication.head();
    let commit = |sim: &mut Sim, i: usize| {
        let before = sim.acked.len();
        sim.commit(i);
        run(sim, 200);
        assert_eq!(
            sim.acked.len(),
            before + 1,
            "commit on m{i} not acknowledged"
        );
        sim.acked[before].1
    };
    run(&mut sim, 1000);
    assert!(master(&sim, 0));
    split(&mut sim, [1, 0, 0]);
    let x1 = commit(&mut sim, 0);
    sim.kill(0);
    split(&mut sim, [0, 0, 0]);
    run(&mut sim, 1000);
    assert!(master(&sim, 2));
    // r1 is created by m2 and replicated to m1 incrementally.
    let r1 = commit(&mut sim, 2);
    assert_eq!(head(&sim, 1), r1);
    // Split m1 | m2: both commit; on heal m2 wins and m1 gets a snapshot (its log is cleared).
    split(&mut sim, [0, 0, 1]);
    run(&mut sim, 1000);
    assert!(master(&sim, 1) && master(&sim, 2));
    let a2 = commit(&mut sim, 1);
    let b2 = commit(&mut sim, 2);
    split(&mut sim, [0, 0, 0]);
    run(&mut sim, 1000);
    assert_eq!(head(&sim, 1), b2);
    // Split again; m1 commits on top of b2, m2 dies and comes back following m1, which sends
    // it a snapshot (so m2's log is cleared too).
    split(&mut sim, [0, 0, 1]);
    run(&mut sim, 1000);
    let a3 = commit(&mut sim, 1);
    commit(&mut sim, 2);
    sim.kill(2);
    split(&mut sim, [0, 0, 0]);
    sim.start(2);
    run(&mut sim, 1000);
    assert!(master(&sim, 1));
    assert_eq!(head(&sim, 2), a3);
    // Everyone restarts at once (losing what was only in memory); stale m0 wins.
    sim.kill(1);
    sim.kill(2);
    sim.heal_all();
    run(&mut sim, 3000);
    assert!(master(&sim, 0));
    assert_eq!(head(&sim, 0), x1);
    let superseded: Vec<SupersededConfig> = sim
        .members
        .iter()
        .flat_map(|m| m.node.as_ref().unwrap().replication.superseded().to_vec())
        .collect();
    assert!(
        superseded
            .iter()
            .all(|s| s.revisions.iter().all(|r| r.id != r1)),
        "r1 is listed after all"
    );
    assert!(superseded.iter().any(|s| s.head == a3));
    assert!(superseded.iter().any(|s| s.head == a2));
    sim.check_converged(160);
}

/// Stalls alone (no partition, loss or kill), one member at a time and at least a second
/// apart: whatever the others do while one member is stopped, no acknowledged commit leaves
/// the winning lineage and nothing is superseded. (Overlapping stalls are a split like any
/// other: a member that resumes and then hears nothing from a peer for a dead interval may
/// rightly go on alone, and the seeded fault mix covers them.)
///
/// `disk`: the longest save, in ms (0: saves in line). A stall that lands while a master's own
/// save is in flight is the hard case: it must give up its claim and not acknowledge what the
/// cluster went on without.
fn run_stall_seed(seed: u64, faults: usize, disk: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x57a1);
    let n = rng.gen_range(2..=5);
    let mut sim = Sim::with_disk(seed, n, disk);
    sim.set_faults(0.0, 0.0, [1, 5, 20][rng.gen_range(0..3)]);
    sim.run_until(Duration::from_secs(1));
    for _ in 0..faults {
        let at = sim.now + Duration::from_millis(rng.gen_range(20..1200));
        sim.run_until(at);
        let quiet = sim.stalled_until.iter().all(|s| s.is_none())
            && sim.now >= sim.stable_since + Duration::from_secs(1);
        if quiet && rng.gen_bool(0.35) {
            let i = rng.gen_range(0..n);
            let len = Duration::from_millis(rng.gen_range(50..2500));
            sim.stall(i, len);
        } else {
            let i = rng.gen_range(0..n);
            sim.commit(i);
        }
    }
    sim.heal_all();
    sim.set_faults(0.0, 0.0, 5);
    let end = sim.now + Duration::from_secs(5);
    sim.run_until(end);
    sim.check_converged(seed);
    let master = sim
        .members
        .iter()
        .map(|m| m.node.as_ref().unwrap())
        .find(|n| n.election.is_master())
        .unwrap();
    let winner = sim.ancestry(master.replication.head());
    for (i, id) in &sim.acked {
        assert!(
            winner.contains(id),
            "seed {seed}: revision {id} acknowledged on m{i} is not in the running lineage after stalls alone"
        );
    }
    // With saves in line no revision is ever in doubt at a stall: nothing is superseded. With
    // a slow disk, a master stopped mid-save may be replaced; what it had not confirmed is
    // superseded (and was never acknowledged: checked above).
    if disk == 0 {
        assert!(
            sim.supersessions.is_empty(),
            "seed {seed}: stalls alone superseded configurations: {:?}",
            sim.supersessions
        );
    }
}

#[test]
fn stalls_never_lose_an_acknowledged_commit() {
    for seed in roost_simnet::seeds(40) {
        let disk = seeded_disk(seed, &[0, 5, 40]);
        let r = std::panic::catch_unwind(|| run_stall_seed(seed, 60, disk));
        if let Err(e) = r {
            eprintln!(
                "stall simulation failed for seed {seed} (disk {disk} ms); replay with \
                 ROOST_SIM_SEED={seed}"
            );
            std::panic::resume_unwind(e);
        }
    }
}

/// Found by the stall simulation with a slow disk: the master (m0) is stopped while its save
/// of a fresh revision is in flight; the others elect a new master and acknowledge a commit on
/// the last revision they had; m0 resumes still outranking it. m0 must give up its claim before
/// it sends a hello, and must not acknowledge the revision the cluster went on without.
#[test]
fn regression_stall_while_the_master_saves_seed_332() {
    run_stall_seed(332, 60, 40);
}

/// The hostile test's item 1, scripted: three members, m0 master (priority 250). m0 is
/// stopped; 0.6 s later a standby commits (a new master is elected and acknowledges); 1.4 s
/// later m0 resumes with its timers overdue and its inbox full, and a session on it commits
/// at once. Both commits must be in every member's running configuration, in order, and
/// nothing superseded: m0 may keep mastership, but it fast-forwards to the lineage that
/// extends its own before it creates a revision.
#[test]
fn regression_master_stall_then_commit_on_standby_is_kept() {
    for stall_ms in [900u64, 2000] {
        let mut sim = Sim::new(11, 3);
        for (i, prio, mode) in [
            (0, 250, ClusterMode::Active),
            (1, 128, ClusterMode::Standby),
            (2, 100, ClusterMode::Standby),
        ] {
            sim.members[i].priority = prio;
            sim.members[i].mode = mode;
            sim.kill(i);
            sim.start(i);
        }
        let run = |sim: &mut Sim, ms: u64| {
            let end = sim.now + Duration::from_millis(ms);
            sim.run_until(end);
        };
        fn node(sim: &Sim, i: usize) -> &Node<Kv> {
            sim.members[i].node.as_ref().unwrap()
        }
        run(&mut sim, 1000);
        assert!(node(&sim, 0).election.is_master());
        sim.commit(1);
        run(&mut sim, 200);
        assert_eq!(sim.acked.len(), 1);
        sim.stall(0, Duration::from_millis(stall_ms));
        run(&mut sim, 600);
        sim.commit(2);
        run(&mut sim, 300);
        assert_eq!(
            sim.acked.len(),
            2,
            "the commit during the stall is acknowledged"
        );
        let during = sim.acked[1].1;
        run(&mut sim, stall_ms - 900);
        // Resumed just now (the sim resumed m0 at its instant); a local commit right away.
        run(&mut sim, 27);
        sim.commit(0);
        run(&mut sim, 2000);
        assert_eq!(
            sim.acked.len(),
            3,
            "the commit right after the resume completes"
        );
        let after = sim.acked[2].1;
        assert_eq!(
            after.number,
            during.number + 1,
            "ordered after the pulled one"
        );
        for i in 0..3 {
            let n = node(&sim, i);
            assert_eq!(n.replication.head(), after, "m{i}");
            assert!(n.replication.lineage().contains(&during), "m{i}");
            assert!(n.replication.superseded().is_empty(), "m{i}");
        }
        assert!(sim.supersessions.is_empty());
        sim.check_converged(11);
    }
}
