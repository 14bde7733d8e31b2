//! What the daemon counts for `/metrics`, beyond the member channel's `TrafficCounters`: plain
//! atomics shared by the member task, the `AuthGate`, join-cluster and the faces. Counting
//! here decides nothing; every number comes from an outcome some other part already decided
//! (a notification of the node, a commit's reply, a login check, a join's answer).
//!
//! [`metrics_input`] reads them, with one view of the node, into the API's plain
//! [`MetricsInput`], so the renderer never sees where the numbers come from.

use roost_api::metrics::{
    ChannelMetrics, CommitMetrics, HistogramData, JoinMetrics, LoginFailures, MemberMetrics,
    MetricsInput,
};
use roost_config::Face;
use roost_config::MemberSnapshot;
use roost_wire::OperState;
use roost_wire::{ClusterEvent, HistoryEvent, MemberId};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the commit latency histogram's buckets: a commit on the master is
/// a few ms (one fsync), through a master on another member a few more; seconds mean a
/// retransmission or a held commit (a resume hold, a master change).
pub const COMMIT_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How a join-cluster attempt on this controller ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum JoinResult {
    Accepted,
    Refused,
    /// The connection failed or timed out.
    Error,
}

/// The daemon's counters (see the module doc). One per controller, never global.
#[derive(Debug, Default)]
pub struct Counters {
    master_changes: AtomicU64,
    commits_ok: AtomicU64,
    commits_error: AtomicU64,
    /// Per bucket of [`COMMIT_BUCKETS`], then one for slower commits.
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    commit_nanos: AtomicU64,
    hello_misses: Mutex<BTreeMap<MemberId, u64>>,
    joins: [AtomicU64; 3],
    login_failures: [AtomicU64; 3],
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn read(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl Counters {
    /// The node announced a different master (`Notification::MasterChanged`).
    pub fn master_changed(&self) {
        bump(&self.master_changes);
    }

    /// A commit requested at this controller ended (`ok`), `took` after the request.
    pub fn commit_done(&self, ok: bool, took: Duration) {
        bump(if ok {
            &self.commits_ok
        } else {
            &self.commits_error
        });
        let secs = took.as_secs_f64();
        let bucket = COMMIT_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(COMMIT_BUCKETS.len());
        bump(&self.commit_buckets[bucket]);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.commit_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// A history event the node emitted: counts a peer this member declared lost.
    pub fn history(&self, me: MemberId, ev: &HistoryEvent) {
        if let Some(peer) = missed_peer(me, ev) {
            let mut misses = self.hello_misses.lock().unwrap_or_else(|e| e.into_inner());
            *misses.entry(peer).or_default() += 1;
        }
    }

    pub fn join(&self, result: JoinResult) {
        bump(&self.joins[result as usize]);
    }

    /// A password (or join-cluster proof) was checked and found wrong.
    pub fn login_failed(&self, face: Face) {
        let i = match face {
            Face::Ssh => 0,
            Face::Api => 1,
            Face::Join => 2,
        };
        bump(&self.login_failures[i]);
    }

    fn commit_metrics(&self) -> CommitMetrics {
        CommitMetrics {
            ok: read(&self.commits_ok),
            error: read(&self.commits_error),
            duration: HistogramData {
                bounds: COMMIT_BUCKETS.to_vec(),
                counts: self.commit_buckets.iter().map(read).collect(),
                sum: read(&self.commit_nanos) as f64 / 1e9,
            },
        }
    }
}

/// The peer a `member-down` event of this member names, if it was lost to silence (its dead
/// interval expired). The election records "member <id> lost (no hello for N ms)"; a peer
/// dropped as incompatible (another release, model or cluster name) missed no hello.
/// Events of other members (merged from their hellos) are theirs to count.
pub fn missed_peer(me: MemberId, ev: &HistoryEvent) -> Option<MemberId> {
    if ev.member != me || ev.event != ClusterEvent::MemberDown {
        return None;
    }
    let rest = ev.reason.strip_prefix("member ")?;
    let (id, why) = rest.split_once(' ')?;
    why.starts_with("lost (no hello")
        .then(|| id.parse().ok())
        .flatten()
}

/// Everything `/metrics` shows, from the counters, the channel's stats and the published
/// snapshot (its member rows: connected members, then the lost ones, shown as down).
pub fn metrics_input(
    counters: &Counters,
    channel: &TrafficCounters,
    snapshot: &MemberSnapshot,
    version: String,
) -> MetricsInput {
    let members = snapshot
        .members
        .iter()
        .filter_map(|row| {
            let up = row.oper_state != "down";
            Some(MemberMetrics {
                member: row.member_id.parse().ok()?,
                up,
                master: row.master,
                oper_state: match row.oper_state.as_str() {
                    "active" => Some(OperState::Active),
                    "standby" => Some(OperState::Standby),
                    _ => None,
                },
            })
        })
        .collect();
    let head = snapshot.revisions.head;
    let c = channel;
    MetricsInput {
        version,
        protocol_version: roost_wire::PROTOCOL_VERSION,
        members,
        master_changes: read(&counters.master_changes),
        config_revision: head.number,
        commits: counters.commit_metrics(),
        channel: ChannelMetrics {
            accepted: read(&c.accepted),
            dropped_authentication: read(&c.dropped_auth),
            dropped_replay: read(&c.dropped_replay),
            dropped_malformed: read(&c.dropped_malformed),
            dropped_protocol_version: read(&c.dropped_version),
            sent: read(&c.sent),
            send_errors: read(&c.send_errors),
        },
        hello_misses: counters
            .hello_misses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(p, n)| (*p, *n))
            .collect(),
        joins: JoinMetrics {
            accepted: read(&counters.joins[JoinResult::Accepted as usize]),
            refused: read(&counters.joins[JoinResult::Refused as usize]),
            error: read(&counters.joins[JoinResult::Error as usize]),
        },
        login_failures: LoginFailures {
            ssh: read(&counters.login_failures[0]),
            api: read(&counters.login_failures[1]),
            join: read(&counters.login_failures[2]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::election_settings;
    use roost_core::{Election, ElectionOutput};
    use roost_wire::Hello;

    /// Drives two real elections until `a` has heard `b`, then silences `b`: the history event
    /// `a` emits when `b`'s dead interval expires must count as a miss of `b` (this pins the
    /// election's wording that [`missed_peer`] reads).
    #[test]
    fn a_peer_lost_to_silence_counts_one_hello_miss() {
        let (sa, sb) = (
            election_settings("52-54-00-E1-EE-16", "a"),
            election_settings("52-54-00-3A-A1-17", "b"),
        );
        let (me, peer) = (sa.member, sb.member);
        let mut a = Election::new(sa, Duration::ZERO, 0);
        let mut b = Election::new(sb, Duration::ZERO, 0);
        let counters = Counters::default();
        let mut events = Vec::new();
        let drain = |e: &mut Election, events: &mut Vec<HistoryEvent>| {
            let mut hellos = Vec::new();
            while e.poll_debug().is_some() {}
            while let Some(o) = e.poll_output() {
                match o {
                    ElectionOutput::History(ev) => events.push(ev),
                    ElectionOutput::Hello(h) => hellos.push(h),
                    _ => {}
                }
            }
            hellos
        };
        let mut now = Duration::ZERO;
        // Both talk for a second.
        while now < Duration::from_secs(1) {
            now += Duration::from_millis(50);
            a.handle_timeout(now);
            b.handle_timeout(now);
            let from_b: Vec<Hello> = drain(&mut b, &mut Vec::new());
            for h in from_b {
                a.handle_hello(h, now);
            }
            let from_a = drain(&mut a, &mut events);
            for h in from_a {
                b.handle_hello(h, now);
            }
        }
        assert!(a.view(now).members.iter().any(|m| m.member == peer));
        // b goes silent.
        while now < Duration::from_secs(2) {
            now += Duration::from_millis(50);
            a.handle_timeout(now);
            drain(&mut a, &mut events);
        }
        for ev in &events {
            counters.history(me, ev);
        }
        let misses = counters.hello_misses.lock().unwrap().clone();
        assert_eq!(misses, BTreeMap::from([(peer, 1)]), "{events:#?}");
        // The same event merged into another member's history is not ours to count.
        let down = events
            .iter()
            .find(|e| e.event == ClusterEvent::MemberDown)
            .unwrap();
        assert_eq!(missed_peer(peer, down), None);
    }

    #[test]
    fn commits_land_in_their_latency_bucket() {
        let c = Counters::default();
        c.commit_done(true, Duration::from_micros(800));
        c.commit_done(true, Duration::from_millis(30));
        c.commit_done(false, Duration::from_secs(9));
        let m = c.commit_metrics();
        assert_eq!((m.ok, m.error), (2, 1));
        assert_eq!(m.duration.count(), 3);
        assert_eq!(m.duration.counts[0], 1); // ≤ 1 ms
        assert_eq!(m.duration.counts[5], 1); // ≤ 50 ms
        assert_eq!(m.duration.counts[COMMIT_BUCKETS.len()], 1); // > 5 s
        assert!((m.duration.sum - 9.0308).abs() < 1e-9, "{}", m.duration.sum);
    }
}

/// Counters of what the member channel refused (never acted on).
#[derive(Debug, Default)]
pub struct TrafficCounters {
    pub received: AtomicU64,
    pub accepted: AtomicU64,
    pub dropped_auth: AtomicU64,
    pub dropped_replay: AtomicU64,
    pub dropped_malformed: AtomicU64,
    pub dropped_version: AtomicU64,
    pub sent: AtomicU64,
    pub send_errors: AtomicU64,
}

impl TrafficCounters {
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("Datagrams received", self.received.load(Ordering::Relaxed)),
            ("Datagrams accepted", self.accepted.load(Ordering::Relaxed)),
            (
                "Dropped, authentication",
                self.dropped_auth.load(Ordering::Relaxed),
            ),
            (
                "Dropped, replay",
                self.dropped_replay.load(Ordering::Relaxed),
            ),
            (
                "Dropped, malformed",
                self.dropped_malformed.load(Ordering::Relaxed),
            ),
            (
                "Dropped, protocol version",
                self.dropped_version.load(Ordering::Relaxed),
            ),
            ("Datagrams sent", self.sent.load(Ordering::Relaxed)),
            ("Send errors", self.send_errors.load(Ordering::Relaxed)),
        ]
    }
}
