//! Who is a member: accepting hellos (identity, compatibility, restarts), expiring peers whose
//! dead interval ran out, and noticing this member's own stalls (see "Membership" and "Stalls"
//! in the docs of [`Election`]).

use super::{
    Election, ElectionOutput, LossCause, LostMember, Peer, IGNORED_PEER_LOG_INTERVAL, LOST_CAPACITY,
};
use crate::Instant;
use roost_wire::{ClusterEvent, Hello, MemberId};

impl Election {
    /// When `p` is lost unless it is heard from: one dead interval after its last hello, or
    /// after the last resume from a stall, whichever is later.
    pub(super) fn expiry(&self, p: &Peer) -> Instant {
        let since = match self.resumed_at {
            Some(r) => p.last_seen.max(r),
            None => p.last_seen,
        };
        since + self.dead_interval()
    }

    /// Detects a stall (see the type's docs): `now` is later than the deadline the driver was
    /// given by more than one hello interval.
    pub(super) fn check_stall(&mut self, now: Instant) {
        let late = now.saturating_sub(self.wake_by);
        if late <= self.hello_interval() {
            return;
        }
        self.resumed_at = Some(now);
        self.resume_hold_until = Some(now + self.dead_interval());
        self.hello_due = true;
        self.wake_by = now;
        let n = self.peers.len();
        self.debug(format!(
            "timers ran {} ms late (this member was paused or starved): not counting that as \
             silence of {n} member(s); holding elections and commits for {} ms",
            late.as_millis(),
            self.dead_interval().as_millis()
        ));
        let yielded = self.is_master;
        self.notify(ElectionOutput::Stalled { late, yielded });
        if yielded {
            self.is_master = false;
            self.changes += 1;
            let line = format!(
                "paused for {} ms: another master may have been elected meanwhile; giving up \
                 mastership until the cluster is heard",
                late.as_millis()
            );
            self.debug(line.clone());
            self.record(ClusterEvent::StartElection, line, now);
            self.set_master(None);
        }
    }

    /// Why a hello's sender cannot be a member of our cluster, if it cannot.
    pub(super) fn incompatibility(&self, h: &Hello) -> Option<String> {
        let s = &self.settings;
        if h.software_version != s.software_version {
            Some(format!(
                "software version {} differs from ours {}",
                h.software_version, s.software_version
            ))
        } else if h.model != s.model {
            Some(format!("model {} differs from ours {}", h.model, s.model))
        } else if !h.cluster_name.is_empty()
            && !s.cluster_name.is_empty()
            && h.cluster_name != s.cluster_name
        {
            Some(format!(
                "cluster name {:?} differs from ours {:?}",
                h.cluster_name, s.cluster_name
            ))
        } else {
            None
        }
    }

    pub(super) fn log_ignored(&mut self, peer: MemberId, why: &str, now: Instant) {
        self.ignored_logged
            .retain(|_, t| now < *t + IGNORED_PEER_LOG_INTERVAL);
        if let std::collections::btree_map::Entry::Vacant(slot) = self.ignored_logged.entry(peer) {
            slot.insert(now);
            self.debug(format!("ignoring hello from {peer}: {why}"));
        }
    }

    pub(super) fn drop_peer(
        &mut self,
        peer: MemberId,
        cause: LossCause,
        reason: String,
        now: Instant,
    ) {
        if let Some(p) = self.peers.remove(&peer) {
            self.changes += 1;
            self.debug(format!("member {peer} lost"));
            self.record(ClusterEvent::MemberDown, reason, now);
            self.notify(ElectionOutput::PeerLost { peer, cause });
            self.lost.retain(|l| l.last.member != peer);
            self.lost.push_back(LostMember {
                last: p.view(),
                lost_wall_ms: self.wall_at(now),
                in_grace: true,
            });
            while self.lost.len() > LOST_CAPACITY {
                self.lost.pop_front();
            }
            self.lost_dirty = true;
        }
    }

    pub(super) fn expire_peers(&mut self, now: Instant) {
        let expired: Vec<(MemberId, Instant)> = self
            .peers
            .iter()
            .filter(|(_, p)| now >= self.expiry(p))
            .map(|(id, p)| (*id, p.last_seen))
            .collect();
        for (id, last) in expired {
            let ms = now.saturating_sub(last).as_millis();
            let reason = format!("member {id} lost (no hello for {ms} ms)");
            self.drop_peer(id, LossCause::Silence, reason, now);
        }
        let incompatible: Vec<(MemberId, String)> = self
            .peers
            .iter()
            .filter_map(|(id, p)| self.incompatibility(&p.hello).map(|why| (*id, why)))
            .collect();
        for (id, why) in incompatible {
            self.drop_peer(
                id,
                LossCause::Incompatible,
                format!("member {id} lost ({why})"),
                now,
            );
        }
    }

    pub(super) fn accept_hello(&mut self, hello: Hello, now: Instant) {
        let id = hello.member;
        if id == self.settings.member {
            self.log_ignored(id, "it carries our own member id", now);
            return;
        }
        if let Some(why) = self.incompatibility(&hello) {
            self.log_ignored(id, &why, now);
            self.drop_peer(
                id,
                LossCause::Incompatible,
                format!("member {id} lost ({why})"),
                now,
            );
            return;
        }
        let known_boot = self.boots.get(&id).copied();
        if known_boot.is_some_and(|b| hello.boot < b) {
            return; // a stale hello of an earlier incarnation
        }
        self.boots.insert(id, hello.boot);
        let history = hello.history.clone();
        match self.peers.get_mut(&id) {
            Some(p) if p.hello.boot == hello.boot => {
                let was_master = p.hello.is_master;
                let now_master = hello.is_master;
                let prio = hello.master_priority;
                let differs = p.hello != hello;
                p.hello = hello;
                p.last_seen = now;
                self.changes += u64::from(differs);
                if was_master != now_master {
                    let line = if now_master {
                        format!("member {id} claims master (prio {prio})")
                    } else {
                        format!("member {id} no longer claims master")
                    };
                    self.debug(line);
                }
            }
            existing => {
                if existing.is_some() {
                    self.debug(format!("member {id} restarted (boot {})", hello.boot));
                }
                let prio = hello.master_priority;
                let master = if hello.is_master {
                    " (claims master)"
                } else {
                    ""
                };
                self.peers.insert(
                    id,
                    Peer {
                        hello,
                        last_seen: now,
                    },
                );
                let before = self.lost.len();
                self.lost.retain(|l| l.last.member != id);
                self.lost_dirty |= self.lost.len() != before;
                self.changes += 1;
                // Answer at once, so the newcomer learns about us (and our claim) right away.
                self.hello_due = true;
                self.members_changed = true;
                self.debug(format!("new member {id} prio {prio}{master}"));
                self.record(
                    ClusterEvent::StartElection,
                    format!("new member {id} joined"),
                    now,
                );
            }
        }
        for ev in history {
            if ev.member == id {
                self.merge_event(ev);
            }
        }
    }
}
