//! The license grace period: a lost member's licenses stay in the pool for
//! `license grace-period` (WiNG: up to 100 days), counted on the wall clock from its loss, so
//! that the list of lost members and their licenses survives every member's restart (the
//! driver stores it on [`ElectionOutput::PersistLost`] and hands it back to
//! [`Election::restore_lost`]).

use super::{Election, ElectionOutput, LostMember, MemberView, LOST_CAPACITY};
use crate::Instant;
use roost_wire::LostMemberRecord;
use std::time::Duration;

impl Election {
    /// The wall clock (ms since the Unix epoch) at `now`.
    pub(super) fn wall_at(&self, now: Instant) -> u64 {
        if now >= self.origin {
            self.wall_origin
                .saturating_add((now - self.origin).as_millis() as u64)
        } else {
            self.wall_origin
                .saturating_sub((self.origin - now).as_millis() as u64)
        }
    }

    fn grace_end_wall(&self, l: &LostMember) -> u64 {
        let grace = self.settings.license_grace_period.as_millis() as u64;
        l.lost_wall_ms.saturating_add(grace)
    }

    /// When the next lost member's grace period ends, if one is still running.
    pub(super) fn next_grace_end(&self) -> Option<Instant> {
        let end = self
            .lost
            .iter()
            .filter(|l| l.in_grace)
            .map(|l| self.grace_end_wall(l))
            .min()?;
        // The wall clock runs with the monotonic one from the origin.
        Some(self.origin + Duration::from_millis(end.saturating_sub(self.wall_origin)))
    }

    /// Lost members whose grace period is over leave the license pool (they stay listed as
    /// down in `show cluster members`).
    pub(super) fn expire_grace(&mut self, now: Instant) {
        let wall_now = self.wall_at(now);
        let mut ended = Vec::new();
        for i in 0..self.lost.len() {
            let l = &self.lost[i];
            if l.in_grace && wall_now >= self.grace_end_wall(l) {
                ended.push((i, l.last.member, l.last.licenses));
            }
        }
        for (i, member, lic) in ended {
            self.lost[i].in_grace = false;
            self.lost_dirty = true;
            self.changes += 1;
            self.debug(format!(
                "member {member} license grace period ended: its {} AP and {} AAP licenses leave the pool",
                lic.ap_licenses, lic.aap_licenses
            ));
        }
    }

    /// Emits the lost members for persisting if they changed.
    pub(super) fn emit_lost(&mut self) {
        if std::mem::take(&mut self.lost_dirty) {
            let records = self.lost.iter().map(record_of).collect();
            self.notify(ElectionOutput::PersistLost(records));
        }
    }

    /// Seeds the lost members with those stored before a restart (oldest first), so that a
    /// lost member's licenses stay in the pool for the rest of its grace period. A record of
    /// this member itself, or of a member already heard from, is skipped. Not emitted again
    /// unless something changes (they are already stored).
    pub fn restore_lost(&mut self, records: Vec<LostMemberRecord>, now: Instant) {
        for r in records {
            if r.member == self.settings.member
                || self.peers.contains_key(&r.member)
                || self.lost.iter().any(|l| l.last.member == r.member)
            {
                continue;
            }
            self.lost.push_back(LostMember {
                last: MemberView {
                    member: r.member,
                    mac: r.mac,
                    hostname: r.hostname,
                    model: r.model,
                    is_master: false,
                    oper_state: roost_wire::OperState::Standby,
                    configured_mode: r.configured_mode,
                    master_priority: r.master_priority,
                    config_head: r.config_head,
                    licenses: r.licenses,
                    boot: r.boot,
                    last_seen: None,
                },
                lost_wall_ms: r.lost_wall_ms,
                in_grace: r.in_grace,
            });
        }
        while self.lost.len() > LOST_CAPACITY {
            self.lost.pop_front();
        }
        self.changes += 1;
        self.expire_grace(now);
        self.step(now);
    }
}

fn record_of(l: &LostMember) -> LostMemberRecord {
    let v = &l.last;
    LostMemberRecord {
        member: v.member,
        mac: v.mac,
        hostname: v.hostname.clone(),
        model: v.model,
        configured_mode: v.configured_mode,
        master_priority: v.master_priority,
        config_head: v.config_head,
        licenses: v.licenses,
        boot: v.boot,
        lost_wall_ms: l.lost_wall_ms,
        in_grace: l.in_grace,
    }
}
