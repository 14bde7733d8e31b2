//! The master rule: the best-ranked claimant is the master; with none, the best-ranked member
//! claims once its holds are over (see "Master election" in the docs of [`Election`]).

use super::{rank, Election, ElectionOutput};
use crate::Instant;
use roost_wire::{ClusterEvent, MemberId};

impl Election {
    pub(super) fn set_master(&mut self, master: Option<MemberId>) {
        if self.master == master {
            return;
        }
        self.master = master;
        self.changes += 1;
        match master {
            Some(m) if m != self.settings.member => {
                self.debug(format!("completed election master is {m}"))
            }
            Some(_) => {}
            None => self.debug("no member claims mastership; no master".into()),
        }
        self.notify(ElectionOutput::MasterChanged { master });
        self.hello_due = true;
    }

    pub(super) fn elect(&mut self, now: Instant) {
        let me = self.settings.member;
        let my_rank = rank(self.settings.master_priority, me);
        let best_claimant = self
            .peers
            .values()
            .filter(|p| p.hello.is_master)
            .map(|p| {
                (
                    rank(p.hello.master_priority, p.hello.member),
                    p.hello.member,
                )
            })
            .chain(self.is_master.then_some((my_rank, me)))
            .max();
        if let Some((r, claimant)) = best_claimant {
            self.best_logged = None;
            if self.is_master && claimant != me {
                self.is_master = false;
                self.changes += 1;
                self.hello_due = true;
                let line = format!(
                    "member {claimant} (prio {}) also claims master and ranks higher; stepping down",
                    r.0
                );
                self.debug(line.clone());
                self.record(ClusterEvent::StartElection, line, now);
            }
            if self.master == Some(claimant) && self.members_changed {
                self.debug("no change in master, member list changed".into());
            }
            self.members_changed = false;
            self.set_master(Some(claimant));
            return;
        }
        let (r, best) = self
            .peers
            .values()
            .map(|p| {
                (
                    rank(p.hello.master_priority, p.hello.member),
                    p.hello.member,
                )
            })
            .chain(std::iter::once((my_rank, me)))
            .max()
            .expect("self is always a candidate");
        self.members_changed = false;
        if self.best_logged != Some(best) {
            self.best_logged = Some(best);
            self.debug(format!("election: best candidate {best} (prio {})", r.0));
        }
        if best == me && !self.in_startup_hold && !self.resuming() {
            self.is_master = true;
            self.changes += 1;
            self.hello_due = true;
            self.debug("Announcing self as master".into());
            self.record(
                ClusterEvent::StartConfigSync,
                format!("{me} won election and is the cluster master"),
                now,
            );
            self.set_master(Some(me));
        } else {
            self.set_master(None);
        }
    }
}
