//! What the daemon counts for `/metrics`, beyond the member channel's `TrafficCounters`: plain
//! atomics shared by the member task, the `AuthGate`, join-cluster and the faces. Counting
//! here decides nothing; every number comes from an outcome some other part already decided
//! (a notification of the node, a commit's reply, a login check, a join's answer).
//!
//! [`metrics_input`] reads them, with the published snapshot, into the API's plain
//! [`MetricsInput`], so the renderer never sees where the numbers come from.

use roost_api::metrics::{
    ApMetrics, ChannelMetrics, CommitMetrics, HistogramData, JoinMetrics, LoginFailures,
    MemberMetrics, MetricsInput,
};
use roost_config::{Face, MemberSnapshot};
use roost_core::LossCause;
use roost_wire::MemberId;
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

    /// This member declared `peer` lost: a hello miss if it was lost to silence (a peer
    /// dropped as incompatible missed no hello).
    pub fn peer_lost(&self, peer: MemberId, cause: LossCause) {
        if cause == LossCause::Silence {
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
        .map(|row| MemberMetrics {
            member: row.member_id,
            up: row.oper_state.oper_state().is_some(),
            master: row.master,
            oper_state: row.oper_state.oper_state(),
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
        aps: ap_metrics(snapshot),
    }
}

/// The AP part of `/metrics`: the AP table and the connected members' license books.
fn ap_metrics(snapshot: &MemberSnapshot) -> ApMetrics {
    let t = &snapshot.aps;
    let connected = || snapshot.pool.iter().filter(|m| m.connected);
    let sum = |f: fn(&roost_wire::LicenseCounts) -> u32| -> u64 {
        connected().map(|m| u64::from(f(&m.licenses))).sum()
    };
    ApMetrics {
        adopted: t.adopted,
        joining: t.joining,
        ap_licenses: sum(|l| l.ap_licenses),
        aap_licenses: sum(|l| l.aap_licenses),
        ap_used: sum(|l| l.ap_count),
        aap_used: sum(|l| l.aap_count),
        joins_accepted: t.stats.joins_accepted,
        joins_refused: t.stats.joins_refused,
        dropped_malformed: t.stats.malformed,
        dropped_unknown_session: t.stats.unknown_session,
        dropped_rate_limited: t.stats.rate_limited,
        fallbacks_confirmed: t.stats.fallback_confirmed,
        fallback_resets: t.stats.fallback_resets,
        lost_notices: t.stats.lost_notices,
        timer_updates: t.stats.timer_updates,
        wlan_confirmed: t.stats.wlan_confirmed,
        wlan_refused: t.stats.wlan_refused,
        wlan_pending: t.stats.wlan_pending,
        fallback_pending: t.stats.fallback_pending,
        dropped_stale: t.stats.stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_peers_lost_to_silence_count_as_hello_misses() {
        let (a, b) = (MemberId(0x12E1_EE16), MemberId(0x123A_A117));
        let c = Counters::default();
        c.peer_lost(a, LossCause::Silence);
        c.peer_lost(a, LossCause::Silence);
        c.peer_lost(b, LossCause::Incompatible);
        let misses = c.hello_misses.lock().unwrap().clone();
        assert_eq!(misses, BTreeMap::from([(a, 2)]));
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
