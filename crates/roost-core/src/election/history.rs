//! `show cluster history`: this member's events, stamped and gossiped in hellos, and the
//! events merged from its peers' hellos (see "History" in the docs of [`Election`]).

use super::{Election, ElectionOutput, HELLO_HISTORY, HISTORY_CAPACITY};
use crate::Instant;
use roost_wire::HistoryEvent;

impl Election {
    /// Record a history event of this member (stamped now; goes out in hellos).
    pub fn record(&mut self, event: roost_wire::ClusterEvent, reason: String, now: Instant) {
        let wall_ms = self.wall_at(now);
        let ev = HistoryEvent {
            member: self.settings.member,
            hostname: self.settings.hostname.clone(),
            seq: self.next_seq,
            event,
            wall_ms,
            reason,
        };
        self.next_seq += 1;
        self.own_recent.push_back(ev.clone());
        while self.own_recent.len() > HELLO_HISTORY {
            self.own_recent.pop_front();
        }
        self.merge_event(ev);
    }

    /// Seeds the history with events persisted before a restart (or kept across a rejoin), so
    /// `show cluster history` survives restarts. Not emitted again: they are already stored.
    pub fn restore_history(&mut self, events: Vec<HistoryEvent>) {
        self.changes += 1;
        self.history_changes += 1;
        for ev in events {
            // Our own events from before a rebuild with the same boot (join-cluster): continue
            // after them so new events are not mistaken for known ones.
            if ev.member == self.settings.member && ev.seq >= self.next_seq {
                self.next_seq = ev.seq + 1;
            }
            if self.history_ids.insert((ev.member, ev.seq)) {
                self.history.insert((ev.wall_ms, ev.member, ev.seq), ev);
            }
        }
        while self.history.len() > HISTORY_CAPACITY {
            self.history.pop_first();
        }
    }

    /// Adds an event to the history unless known (or older than everything kept when full);
    /// emits it when added.
    pub(super) fn merge_event(&mut self, ev: HistoryEvent) {
        if !self.history_ids.insert((ev.member, ev.seq)) {
            return;
        }
        let key = (ev.wall_ms, ev.member, ev.seq);
        self.changes += 1;
        self.history_changes += 1;
        self.history.insert(key, ev.clone());
        if self.history.len() > HISTORY_CAPACITY {
            if let Some((oldest, _)) = self.history.pop_first() {
                // Keep the id known so an evicted event is not merged and emitted again.
                if oldest == key {
                    return;
                }
            }
        }
        self.notify(ElectionOutput::History(ev));
    }
}
