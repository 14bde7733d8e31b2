//! The member's published state: after each input it handled, the member task publishes an
//! `Arc<MemberSnapshot>` on a `watch` ([`Publisher`]), and every face (CLI `show`, API JSON,
//! `/metrics`) renders from the latest one, without a round trip to the member task. A status,
//! its member list and the running configuration therefore always belong to one moment, and a
//! face can never slow the member task down.
//!
//! Publishing costs what changed, not the size of the state: the snapshot is rebuilt only when
//! the election's view moved ([`Election::changes`](roost_core::Election::changes)), the
//! applied revision, the revisions or the running configuration moved, or, for what moves all
//! the time (peers' last-seen ages, the channel counters), at most every [`REFRESH_INTERVAL`].
//! The history rows and the revisions are rebuilt only when they changed; otherwise the new
//! snapshot shares them with the previous one.

use crate::counters::TrafficCounters;
use roost_config::{
    ClusterConfig, ClusterStatus, HistoryRow, MemberLicenses, MemberRow, MemberSnapshot, PoolEntry,
    RevisionsView, RowState,
};
use roost_core::{ClusterView, Instant, MemberConfig, Node};
use roost_wire::{RevisionId, SupersededConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How stale last-seen ages and channel counters may get in a published snapshot.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(200);

/// What a published snapshot was built from: when none of it moved, nothing is rebuilt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sources {
    election: u64,
    history: u64,
    revisions: RevisionsKey,
    /// The running configuration's address: a new configuration is a new `Arc` (the previous
    /// snapshot still holds the old one, so its address cannot be reused meanwhile).
    running: usize,
}

/// Moves whenever the revisions view would change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RevisionsKey {
    applied: RevisionId,
    log_len: usize,
    log_last: Option<RevisionId>,
    lineage_len: usize,
    superseded_len: usize,
    superseded_revisions: usize,
}

fn revisions_key<S: MemberConfig>(node: &Node<S>) -> RevisionsKey {
    let r = &node.replication;
    let superseded = r.superseded();
    RevisionsKey {
        applied: node.applied_head(),
        log_len: r.log().len(),
        log_last: r.log().last().map(|rev| rev.id),
        lineage_len: r.lineage().len(),
        superseded_len: superseded.len(),
        superseded_revisions: superseded
            .iter()
            .map(|s: &SupersededConfig| s.revisions.len())
            .sum(),
    }
}

/// The member task's end of the snapshot `watch`.
pub struct Publisher {
    tx: watch::Sender<Arc<MemberSnapshot>>,
    built: Option<(Sources, Instant)>,
    max_aps: u32,
}

impl Publisher {
    /// A publisher and the receiver the faces read; it holds [`MemberSnapshot::empty`] until
    /// the first publish.
    pub fn new(max_aps: u32) -> (Publisher, watch::Receiver<Arc<MemberSnapshot>>) {
        let (tx, rx) = watch::channel(Arc::new(MemberSnapshot::empty(max_aps)));
        (
            Publisher {
                tx,
                built: None,
                max_aps,
            },
            rx,
        )
    }

    /// Publishes the node's state at `now` if it changed (see the module docs). `running` is
    /// the running configuration and the revision it is at, `traffic` the channel counters.
    pub fn publish(
        &mut self,
        node: &Node<ClusterConfig>,
        running: &(RevisionId, Arc<ClusterConfig>),
        traffic: &TrafficCounters,
        now: Instant,
    ) {
        let sources = Sources {
            election: node.election.changes(),
            history: node.election.history_changes(),
            revisions: revisions_key(node),
            running: Arc::as_ptr(&running.1) as usize,
        };
        let (history, revisions) = match self.built {
            Some((built, at)) if built == sources && now < at + REFRESH_INTERVAL => return,
            Some((built, _)) => {
                let previous = self.tx.borrow();
                (
                    (built.history == sources.history).then(|| previous.history.clone()),
                    (built.revisions == sources.revisions).then(|| previous.revisions.clone()),
                )
            }
            None => (None, None),
        };
        let view = node.election.view_without_history(now);
        let history =
            history.unwrap_or_else(|| Arc::new(node.election.history().map(history_row).collect()));
        let revisions = revisions.unwrap_or_else(|| {
            let r = &node.replication;
            Arc::new(RevisionsView {
                head: node.applied_head(),
                revisions: r.log().to_vec(),
                superseded: r.superseded().to_vec(),
                lineage: r.lineage().to_vec(),
            })
        });
        let snapshot = MemberSnapshot {
            status: status(&view, self.max_aps, node.applied_head()),
            members: member_rows(&view, now),
            history,
            revisions,
            running: running.1.clone(),
            running_head: running.0,
            licenses: licenses(&view),
            aps: Arc::default(),
            pool: pool(&view),
            traffic: traffic
                .snapshot()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        self.tx.send_replace(Arc::new(snapshot));
        self.built = Some((sources, now));
    }
}

/// `show cluster status`: pooled licenses and counts over the connected members (ADSEC is per
/// member, not pooled).
pub fn status(v: &ClusterView, max_aps: u32, head: RevisionId) -> ClusterStatus {
    let sum = |f: fn(&roost_wire::LicenseCounts) -> u32| {
        v.members.iter().map(|m| f(&m.licenses)).sum::<u32>()
    };
    ClusterStatus {
        protocol_version: roost_wire::PROTOCOL_VERSION,
        oper_state: v.oper_state.to_string(),
        ap_license: sum(|l| l.ap_licenses),
        aap_license: sum(|l| l.aap_licenses),
        ap_count: sum(|l| l.ap_count),
        aap_count: sum(|l| l.aap_count),
        max_ap_adoption_capacity: max_aps,
        // As in the seed: the number of *other* members this one is connected to.
        connected_members: v.members.len().saturating_sub(1) as u32,
        master: v.master.map(|m| m.to_string()),
        config_revision: head.number,
    }
}

/// `show cluster members`: the master first (as in the seed), then the other connected
/// members by member id, then the members lost since this one started, shown as down.
pub fn member_rows(v: &ClusterView, now: Instant) -> Vec<MemberRow> {
    let row = |m: &roost_core::MemberView, down: bool| MemberRow {
        hostname: m.hostname.clone(),
        member_id: m.member,
        mac: m.mac,
        master: m.is_master && !down,
        oper_state: if down {
            RowState::Down
        } else {
            m.oper_state.into()
        },
        last_seen_secs: m.last_seen.map(|t| now.saturating_sub(t).as_secs()),
    };
    let mut connected: Vec<&roost_core::MemberView> = v.members.iter().collect();
    connected.sort_by_key(|m| (Some(m.member) != v.master, m.member));
    let mut lost: Vec<&roost_core::LostMember> = v.lost.iter().collect();
    lost.sort_by_key(|l| l.last.member);
    connected
        .into_iter()
        .map(|m| row(m, false))
        .chain(lost.into_iter().map(|l| row(&l.last, true)))
        .collect()
}

/// One `show cluster history` row, stamped in the controller's local time.
pub fn history_row(e: &roost_wire::HistoryEvent) -> HistoryRow {
    HistoryRow {
        hostname: e.hostname.clone(),
        member_id: e.member.to_string(),
        event: e.event.to_string(),
        timestamp: chrono::DateTime::from_timestamp_millis(e.wall_ms as i64)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default(),
        reason: e.reason.clone(),
    }
}

/// The license pool's members: the connected ones (self first), then the lost ones whose
/// license grace period runs (also those lost before a restart), as their last hello
/// described them.
fn pool(v: &ClusterView) -> Vec<PoolEntry> {
    let connected = v.members.iter().map(|m| (m, true));
    let lost = v
        .lost
        .iter()
        .filter(|l| l.in_grace && !v.members.iter().any(|m| m.member == l.last.member))
        .map(|l| (&l.last, false));
    connected
        .chain(lost)
        .map(|(m, connected)| PoolEntry {
            member: m.member,
            hostname: m.hostname.clone(),
            is_self: m.last_seen.is_none() && connected,
            connected,
            active: connected && m.oper_state == roost_wire::OperState::Active,
            is_master: connected && m.is_master,
            master_priority: m.master_priority,
            licenses: m.licenses,
            boot: m.boot,
        })
        .collect()
}

/// `show licenses`: what each connected member brings (self first), then the lost members
/// whose license grace period runs.
fn licenses(v: &ClusterView) -> Vec<MemberLicenses> {
    let local = |ms: u64| {
        chrono::DateTime::from_timestamp_millis(ms.min(i64::MAX as u64) as i64)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let grace_ms = v.license_grace_period.as_millis() as u64;
    let row = |m: &roost_core::MemberView, lost: Option<u64>| MemberLicenses {
        connected: lost.is_none(),
        lost_since: lost.map(local),
        grace_until: lost.map(|at| local(at.saturating_add(grace_ms))),
        hostname: m.hostname.clone(),
        member_id: m.member.to_string(),
        ap: m.licenses.ap_licenses,
        aap: m.licenses.aap_licenses,
        ap_used: m.licenses.ap_count,
        aap_used: m.licenses.aap_count,
        adsec: m.licenses.adsec,
    };
    let lost = v
        .lost
        .iter()
        .filter(|l| l.in_grace && !v.members.iter().any(|m| m.member == l.last.member))
        .map(|l| row(&l.last, Some(l.lost_wall_ms)));
    v.members.iter().map(|m| row(m, None)).chain(lost).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_core::{Election, Replication, ReplicationSettings};
    use roost_wire::ClusterEvent;

    fn node() -> Node<ClusterConfig> {
        let settings = crate::test_support::election_settings("52-54-00-E1-EE-16", "vx9000-1");
        let member = settings.member;
        let election = Election::new(settings, Duration::ZERO, 1_700_000_000_000);
        let replication = Replication::new(
            member,
            ReplicationSettings::default(),
            ClusterConfig::default(),
            RevisionId::ZERO,
            vec![],
            vec![],
            vec![],
        );
        let mut n = Node::new(election, replication, Duration::ZERO);
        while n.poll_command().is_some() {}
        n
    }

    fn ms(n: u64) -> Instant {
        Duration::from_millis(n)
    }

    /// A publish rebuilds only what moved: nothing within the refresh interval when nothing
    /// changed; after it, a fresh snapshot that shares the history and revisions; a new
    /// history event, at once, with new history rows and the same revisions.
    #[test]
    fn publishing_costs_what_changed() {
        let mut n = node();
        let running = (RevisionId::ZERO, Arc::new(ClusterConfig::default()));
        let stats = TrafficCounters::default();
        let (mut p, rx) = Publisher::new(1024);
        let empty = rx.borrow().clone();
        p.publish(&n, &running, &stats, ms(1));
        let first = rx.borrow().clone();
        assert!(!Arc::ptr_eq(&empty, &first));
        assert_eq!(first.members.len(), 1);
        assert_eq!(first.status.max_ap_adoption_capacity, 1024);
        let rows = first.history.len();
        assert!(rows > 0, "the start of the election is in the history");

        p.publish(&n, &running, &stats, ms(50));
        assert!(
            Arc::ptr_eq(&first, &rx.borrow()),
            "nothing changed: nothing published"
        );

        p.publish(&n, &running, &stats, ms(1) + REFRESH_INTERVAL);
        let refreshed = rx.borrow().clone();
        assert!(
            !Arc::ptr_eq(&first, &refreshed),
            "refreshed after the interval"
        );
        assert!(Arc::ptr_eq(&first.history, &refreshed.history));
        assert!(Arc::ptr_eq(&first.revisions, &refreshed.revisions));

        n.election
            .record(ClusterEvent::ConfigUpdateSuccess, "test".into(), ms(260));
        p.publish(&n, &running, &stats, ms(261));
        let recorded = rx.borrow().clone();
        assert!(
            !Arc::ptr_eq(&refreshed, &recorded),
            "a change is published at once"
        );
        assert_eq!(recorded.history.len(), rows + 1);
        assert_eq!(recorded.history[0].reason, "test");
        assert!(Arc::ptr_eq(&refreshed.revisions, &recorded.revisions));

        let newer = (RevisionId::ZERO, Arc::new(ClusterConfig::default()));
        p.publish(&n, &newer, &stats, ms(262));
        assert!(
            Arc::ptr_eq(&rx.borrow().running, &newer.1),
            "a new running config at once"
        );
    }
}
