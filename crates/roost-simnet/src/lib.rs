//! The one in-memory, fault-injecting network that Roost's tests run on: the election's unit
//! tests, the replication property test and the whole-cluster simulation all move their
//! messages through a [`Net`]. It knows nothing of what it carries (`M` is any message type)
//! nor of time beyond the instants it is given, so it works for any sans-IO core.
//!
//! What it models:
//! * **links**, symmetric, between numbered nodes: cut one, partition into groups, heal;
//!   a datagram is dropped if its link is down when it is *delivered* (a cut while it is in
//!   flight loses it);
//! * **faults** decided when a datagram is sent ([`Faults`]): loss, duplication, and a delay
//!   per copy, which also reorders;
//! * **delivery** in (due time, send order): one at a time ([`Net::poll_due`], so that what a
//!   delivery causes at the same instant is delivered too), or all that were due at once
//!   ([`Net::take_due`], what a harness that steps in ticks wants).
//!
//! The random draws come from the caller's generator, in a fixed order (loss, then
//! duplication if not lost, then one delay per copy), and only for the faults that are on: a
//! recorded seed replays the same run.

#![forbid(unsafe_code)]

use rand::Rng;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Duration;

/// How likely something is. Both forms draw one number; they are kept apart because they
/// draw differently, and a harness's recorded seeds replay only with the form it recorded them
/// with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Chance {
    /// Never happens, and draws nothing.
    Never,
    /// With this probability (`Rng::gen_bool`).
    Probability(f64),
    /// In this many cases out of 100 (`gen_range(0..100) < n`).
    Percent(u32),
}

impl Chance {
    /// Whether it happens this time.
    pub fn happens(self, rng: &mut impl Rng) -> bool {
        match self {
            Chance::Never => false,
            Chance::Probability(p) => rng.gen_bool(p),
            Chance::Percent(n) => rng.gen_range(0..100) < n,
        }
    }

    /// Whether it can happen at all (the network is not fault-free).
    pub fn possible(self) -> bool {
        match self {
            Chance::Never => false,
            Chance::Probability(p) => p > 0.0,
            Chance::Percent(n) => n > 0,
        }
    }
}

/// How late a datagram arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delay {
    /// At once, and draws nothing.
    None,
    /// A whole number of `step`s between 0 and `max`, drawn per copy.
    UpTo { max: Duration, step: Duration },
}

impl Delay {
    /// Up to `max_ms` milliseconds, in microseconds.
    pub fn up_to_ms(max_ms: u64) -> Delay {
        Delay::UpTo {
            max: Duration::from_millis(max_ms),
            step: Duration::from_micros(1),
        }
    }

    /// The longest delay.
    pub fn max(self) -> Duration {
        match self {
            Delay::None => Duration::ZERO,
            Delay::UpTo { max, .. } => max,
        }
    }

    fn draw(self, rng: &mut impl Rng) -> Duration {
        match self {
            Delay::None => Duration::ZERO,
            Delay::UpTo { max, step } => {
                let steps = (max.as_nanos() / step.as_nanos().max(1)) as u64;
                step * rng.gen_range(0..=steps) as u32
            }
        }
    }
}

/// What happens to each datagram sent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    pub loss: Chance,
    /// Delivered twice (each copy with its own delay).
    pub duplication: Chance,
    pub delay: Delay,
}

impl Faults {
    /// A perfect network: nothing lost, doubled or late, and no draws.
    pub const NONE: Faults = Faults {
        loss: Chance::Never,
        duplication: Chance::Never,
        delay: Delay::None,
    };
}

/// A datagram on its way, or delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram<M> {
    /// When it arrives.
    pub at: Duration,
    pub from: usize,
    pub to: usize,
    pub msg: M,
}

/// Ordered by (arrival, send order) only: the message need not be comparable.
struct InFlight<M> {
    seq: u64,
    datagram: Datagram<M>,
}

impl<M> InFlight<M> {
    fn key(&self) -> (Duration, u64) {
        (self.datagram.at, self.seq)
    }
}

impl<M> PartialEq for InFlight<M> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<M> Eq for InFlight<M> {}
impl<M> PartialOrd for InFlight<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for InFlight<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// Links between `n` nodes, and the datagrams in flight. See the crate docs.
pub struct Net<M> {
    link: Vec<Vec<bool>>,
    queue: BinaryHeap<Reverse<InFlight<M>>>,
    seq: u64,
    /// Applied to every datagram sent from now on (those in flight keep their fate).
    pub faults: Faults,
}

impl<M: Clone> Net<M> {
    /// `n` nodes, all linked, no faults.
    pub fn new(n: usize) -> Net<M> {
        Net {
            link: vec![vec![true; n]; n],
            queue: BinaryHeap::new(),
            seq: 0,
            faults: Faults::NONE,
        }
    }

    pub fn nodes(&self) -> usize {
        self.link.len()
    }

    /// Whether `a` and `b` can talk now (a node always reaches itself).
    pub fn linked(&self, a: usize, b: usize) -> bool {
        a == b || self.link[a][b]
    }

    pub fn set_link(&mut self, a: usize, b: usize, up: bool) {
        self.link[a][b] = up;
        self.link[b][a] = up;
    }

    pub fn cut(&mut self, a: usize, b: usize) {
        self.set_link(a, b, false);
    }

    pub fn heal(&mut self, a: usize, b: usize) {
        self.set_link(a, b, true);
    }

    /// Every link up (faults stay as they are).
    pub fn heal_all(&mut self) {
        for row in &mut self.link {
            row.iter_mut().for_each(|l| *l = true);
        }
    }

    /// Node `i` is in group `groups[i]`: nodes talk only within their group.
    pub fn set_groups(&mut self, groups: &[u8]) {
        for a in 0..self.nodes() {
            for b in 0..self.nodes() {
                self.link[a][b] = groups[a] == groups[b];
            }
        }
    }

    /// Splits into the listed groups; the nodes listed in none form one more group.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        let group = |i: usize| groups.iter().position(|g| g.contains(&i));
        for a in 0..self.nodes() {
            for b in 0..self.nodes() {
                self.link[a][b] = group(a) == group(b);
            }
        }
    }

    /// The connected components among `nodes` (over links between them), each sorted, in the
    /// order of their smallest node.
    pub fn components(&self, nodes: &[usize]) -> Vec<Vec<usize>> {
        let mut seen = vec![false; self.nodes()];
        let mut out = Vec::new();
        for &start in nodes {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            let mut comp = vec![start];
            let mut next = 0;
            while next < comp.len() {
                let a = comp[next];
                next += 1;
                for &b in nodes {
                    if !seen[b] && self.link[a][b] {
                        seen[b] = true;
                        comp.push(b);
                    }
                }
            }
            comp.sort_unstable();
            out.push(comp);
        }
        out.sort();
        out
    }

    /// Sends `msg` from `from` to `to` at `now`, under the current [`Faults`] (drawn from
    /// `rng`). The link is judged at delivery.
    pub fn send(&mut self, rng: &mut impl Rng, now: Duration, from: usize, to: usize, msg: M) {
        if self.faults.loss.happens(rng) {
            return;
        }
        let copies = if self.faults.duplication.happens(rng) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = now + self.faults.delay.draw(rng);
            self.seq += 1;
            self.queue.push(Reverse(InFlight {
                seq: self.seq,
                datagram: Datagram {
                    at,
                    from,
                    to,
                    msg: msg.clone(),
                },
            }));
        }
    }

    /// When the next datagram in flight arrives.
    pub fn next_due(&self) -> Option<Duration> {
        self.queue.peek().map(|Reverse(f)| f.datagram.at)
    }

    /// The next datagram due by `now` whose link is up; those whose link is down are dropped.
    pub fn poll_due(&mut self, now: Duration) -> Option<Datagram<M>> {
        while self.next_due().is_some_and(|at| at <= now) {
            let Reverse(f) = self.queue.pop()?;
            let d = f.datagram;
            if self.linked(d.from, d.to) {
                return Some(d);
            }
        }
        None
    }

    /// Every datagram due by `now` whose link is up, in order (what they cause is delivered
    /// later, even if due at `now`).
    pub fn take_due(&mut self, now: Duration) -> Vec<Datagram<M>> {
        let mut due = Vec::new();
        while let Some(d) = self.poll_due(now) {
            due.push(d);
        }
        due
    }

    /// Drops every datagram in flight to or from `node` (its process is gone).
    pub fn forget(&mut self, node: usize) {
        let kept: Vec<_> = std::mem::take(&mut self.queue)
            .into_iter()
            .filter(|Reverse(f)| f.datagram.from != node && f.datagram.to != node)
            .collect();
        self.queue = kept.into();
    }

    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }
}

/// The seeds a seeded simulation runs: `ROOST_SIM_SEED=<s>` replays one, `ROOST_SIM_SEEDS=<n>`
/// runs seeds 1..=n, and otherwise 1..=`default` (what CI runs). A malformed variable is a
/// test failure, not a silent default.
pub fn seeds(default: u64) -> Vec<u64> {
    if let Ok(s) = std::env::var("ROOST_SIM_SEED") {
        return vec![s.parse().expect("ROOST_SIM_SEED must be a number")];
    }
    let n = match std::env::var("ROOST_SIM_SEEDS") {
        Ok(s) => s.parse().expect("ROOST_SIM_SEEDS must be a number"),
        Err(_) => default,
    };
    (1..=n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn delivers_in_due_order_then_send_order() {
        let mut net: Net<&str> = Net::new(3);
        let mut rng = StdRng::seed_from_u64(1);
        net.send(&mut rng, ms(5), 0, 1, "late");
        net.send(&mut rng, ms(1), 0, 1, "first");
        net.send(&mut rng, ms(1), 2, 1, "second");
        assert_eq!(net.poll_due(ms(0)), None);
        let got: Vec<_> = net.take_due(ms(10)).into_iter().map(|d| d.msg).collect();
        assert_eq!(got, ["first", "second", "late"]);
    }

    #[test]
    fn a_link_cut_in_flight_loses_the_datagram() {
        let mut net: Net<u8> = Net::new(3);
        let mut rng = StdRng::seed_from_u64(1);
        net.send(&mut rng, ms(0), 0, 1, 1);
        net.send(&mut rng, ms(0), 0, 2, 2);
        net.partition(&[&[0, 2], &[1]]);
        assert_eq!(net.take_due(ms(0)).len(), 1);
        assert!(!net.linked(0, 1) && net.linked(0, 2) && net.linked(1, 1));
        assert_eq!(net.components(&[0, 1, 2]), vec![vec![0, 2], vec![1]]);
        net.heal_all();
        assert_eq!(net.components(&[0, 1, 2]), vec![vec![0, 1, 2]]);
    }

    #[test]
    fn a_perfect_network_draws_nothing() {
        let mut a = StdRng::seed_from_u64(9);
        let mut b = StdRng::seed_from_u64(9);
        let mut net: Net<u8> = Net::new(2);
        for _ in 0..10 {
            net.send(&mut a, ms(0), 0, 1, 0);
        }
        assert_eq!(a.gen::<u64>(), b.gen::<u64>());
        assert_eq!(net.in_flight(), 10);
    }

    #[test]
    fn faults_lose_double_and_delay() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut net: Net<u32> = Net::new(2);
        net.faults = Faults {
            loss: Chance::Percent(30),
            duplication: Chance::Probability(0.2),
            delay: Delay::up_to_ms(20),
        };
        for i in 0..1000 {
            net.send(&mut rng, ms(0), 0, 1, i);
        }
        let got = net.take_due(ms(20));
        // About 700 kept, about 140 of them doubled.
        assert!((780..900).contains(&got.len()), "{}", got.len());
        assert!(got.iter().all(|d| d.at <= ms(20)));
        assert!(got.windows(2).any(|w| w[0].msg > w[1].msg), "reordered");
    }
}
