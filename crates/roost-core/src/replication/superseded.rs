//! **Divergence, never lost.** After a partition heals, the configuration of whoever the
//! election made master is authoritative: it wins, even if the other side committed more.
//! But nothing committed is silently lost. A member receiving a snapshot whose lineage does
//! not contain its own (non-empty) head has diverged: before loading, it keeps a
//! [`SupersededConfig`] (its head, itself as holder, the revisions it knows that are not in
//! the winner's lineage, oldest first, and its complete configuration text), persists it
//! (`PersistSuperseded`), records `config-superseded` and reports it to the master: the
//! encoded [`SupersededConfig`] in `SupersededChunk`s of ≤ [`SUPERSEDED_CHUNK`] bytes, all
//! chunks at once, all again every `retransmit_interval` (to the current master, also after a
//! master change and after a restart) until `SupersededAck`; one whose encoding exceeds
//! [`MAX_SUPERSEDED_LEN`] is not reported and stays on the loser only. The master reassembles
//! one report per (sender, head) (more than [`MAX_SUPERSEDED_LEN`] bytes refused; at most
//! [`SUPERSEDED_ASSEMBLIES_PER_SENDER`] per sender, the least recently extended dropped; one
//! without a chunk for [`SUPERSEDED_IDLE_INTERVALS`] retransmit intervals dropped; all dropped
//! when the sender goes down or mastership changes; a payload that does not decode, or names
//! another head, is ignored), then archives every reported configuration (de-duplicated by
//! head: a report of a head already held adds only the revisions the held copy does not
//! list, so two members that lost the same head with different stretches of its history
//! keep their union), persists it and acknowledges; a
//! member that is not master ignores reports, so that they reach a real master. So every
//! revision the losing side committed survives in a superseded configuration on the loser
//! and on the master of the time, from which an operator can restore it: as its head or as an
//! ancestor of its head, whose change the kept configuration text includes. The listed revisions are
//! only those the loser still holds in full: revisions it knows only by lineage id (a
//! snapshot clears the persisted log, so after a restart the revisions behind a snapshot's
//! head are gone, and the log is bounded) are in the text but not listed. (A loser head that
//! is an ancestor older than the snapshot's bounded lineage is conservatively treated as
//! diverged: kept, not lost.)

use super::*;

impl<S: ConfigState> Replication<S> {
    /// Reports not acknowledged are sent again; partial reports gone idle are dropped.
    pub(super) fn superseded_timeouts(&mut self, now: Instant) {
        let interval = self.settings.retransmit_interval;
        // Superseded reports.
        if let Some(m) = self.master.filter(|m| *m != self.me) {
            let due: Vec<RevisionId> = self
                .unacked_superseded
                .iter()
                .filter(|(_, t)| t.is_none_or(|t| now >= t + interval))
                .map(|(h, _)| *h)
                .collect();
            for head in due {
                self.send_superseded(head, m, now);
            }
        }
        let idle = self.superseded_idle();
        self.superseded_assemblies
            .retain(|_, (_, touched)| now < *touched + idle);
    }

    pub(super) fn superseded_idle(&self) -> Duration {
        self.settings.retransmit_interval * SUPERSEDED_IDLE_INTERVALS
    }

    /// Keeps the current (diverged) configuration before a snapshot from `master` replaces it.
    pub(super) fn supersede(
        &mut self,
        master: MemberId,
        new_head: RevisionId,
        winner: &HashSet<RevisionId>,
        now: Instant,
    ) {
        let mut seen = BTreeSet::new();
        let mut revisions: Vec<Revision> = self
            .archive
            .iter()
            .chain(self.log.iter())
            .filter(|r| !winner.contains(&r.id) && seen.insert(r.id))
            .cloned()
            .collect();
        revisions.sort_by_key(|r| r.id.number);
        let sc = SupersededConfig {
            head: self.head,
            holder: self.me,
            revisions,
            config: self.config.text(),
            superseded_wall_ms: self.wall_ms(now),
        };
        let reason = format!(
            "revision {} superseded by master {} revision {}",
            self.head, master, new_head
        );
        self.debug(format!(
            "{}; keeping it ({} revisions not in the master's lineage)",
            reason,
            sc.revisions.len()
        ));
        // Kept already: the snapshot was tried before and could not be saved (a full disk).
        let again = self
            .superseded
            .iter()
            .any(|s| s.head == self.head && s.holder == self.me);
        self.keep_superseded(sc);
        if !again {
            self.push(ReplicationOutput::Record {
                event: ClusterEvent::ConfigSuperseded,
                reason,
            });
        }
        self.unacked_superseded.insert(self.head, None);
        self.send_superseded(self.head, master, now);
    }

    /// Keeps (and persists) a superseded config. One already held with the same head (the
    /// same configuration, by the hash chain) gains the revisions it did not list: two members
    /// can hold one head while knowing different stretches of its history (one had only a
    /// snapshot), and the union is what an operator restores from. Returns whether anything
    /// new was kept.
    pub(super) fn keep_superseded(&mut self, sc: SupersededConfig) -> bool {
        let Some(held) = self.superseded.iter_mut().find(|s| s.head == sc.head) else {
            self.push(ReplicationOutput::PersistSuperseded(sc.clone()));
            self.superseded.push(sc);
            return true;
        };
        let known: HashSet<RevisionId> = held.revisions.iter().map(|r| r.id).collect();
        let before = held.revisions.len();
        held.revisions
            .extend(sc.revisions.into_iter().filter(|r| !known.contains(&r.id)));
        if held.revisions.len() == before {
            return false;
        }
        held.revisions.sort_by_key(|r| r.id.number);
        let merged = held.clone();
        self.push(ReplicationOutput::PersistSuperseded(merged));
        true
    }

    /// Sends every chunk of the superseded config at `head` to `to` (the master).
    pub(super) fn send_superseded(&mut self, head: RevisionId, to: MemberId, now: Instant) {
        let Some(sc) = self.superseded.iter().find(|s| s.head == head) else {
            self.unacked_superseded.remove(&head);
            return;
        };
        let msgs = superseded_chunks(sc);
        if msgs.is_empty() {
            self.unacked_superseded.remove(&head);
            self.debug(format!(
                "superseded config {} is too large to report to {} (over {} bytes); kept on this member",
                head, to, MAX_SUPERSEDED_LEN
            ));
            return;
        }
        self.unacked_superseded.insert(head, Some(now));
        let n = msgs.len();
        for msg in msgs {
            self.send(to, msg);
        }
        self.debug(format!(
            "reporting superseded config {} to cluster master {} ({} chunks)",
            head, to, n
        ));
    }

    /// Master: one chunk of a superseded report; archives the config once all chunks are in.
    pub(super) fn on_superseded_chunk(&mut self, from: MemberId, chunk: Chunk, now: Instant) {
        let head = chunk.head;
        if self.master != Some(self.me) {
            // Not acknowledged: the holder keeps reporting until the real master archives it.
            self.debug(format!(
                "ignoring superseded config {} from {}: not the cluster master",
                head, from
            ));
            return;
        }
        if chunk.total_len > MAX_SUPERSEDED_LEN {
            self.debug(format!(
                "refusing superseded config {} from {}: {} bytes exceed {}",
                head, from, chunk.total_len, MAX_SUPERSEDED_LEN
            ));
            return;
        }
        let key = (from, head);
        let fresh = !matches!(
            self.superseded_assemblies.get(&key),
            Some((a, _)) if a.total_len == chunk.total_len
        );
        if fresh {
            // Bounded: a few partial reports per sender, the least recently extended dropped.
            let mine: Vec<((MemberId, RevisionId), Instant)> = self
                .superseded_assemblies
                .iter()
                .filter(|(k, _)| k.0 == from && **k != key)
                .map(|(k, (_, t))| (*k, *t))
                .collect();
            if mine.len() >= SUPERSEDED_ASSEMBLIES_PER_SENDER {
                if let Some((oldest, _)) = mine.iter().min_by_key(|(_, t)| *t) {
                    self.superseded_assemblies.remove(oldest);
                }
            }
            self.superseded_assemblies.insert(
                key,
                (
                    Assembly::new(head, Vec::new(), Vec::new(), chunk.total_len),
                    now,
                ),
            );
        }
        let (asm, touched) = self.superseded_assemblies.get_mut(&key).expect("present");
        *touched = now;
        if let Err(e) = asm.insert(chunk.offset, chunk.data) {
            self.superseded_assemblies.remove(&key);
            self.debug(format!(
                "bad superseded config chunk {} from {}: {}",
                head, from, e
            ));
            return;
        }
        if !asm.is_complete() {
            return;
        }
        let (asm, _) = self.superseded_assemblies.remove(&key).expect("present");
        let config = match SupersededConfig::decode(&asm.into_bytes()) {
            Ok(c) if c.head == head => c,
            Ok(c) => {
                self.debug(format!(
                    "superseded config {} from {} names head {}; ignored",
                    head, from, c.head
                ));
                return;
            }
            Err(e) => {
                self.debug(format!(
                    "superseded config {} from {} does not decode: {}",
                    head, from, e
                ));
                return;
            }
        };
        let (holder, listed) = (config.holder, config.revisions.len());
        if self.keep_superseded(config) {
            self.debug(format!(
                "archiving superseded config {} from {} ({} revisions)",
                head, holder, listed
            ));
        }
        // Also for a head archived before (a retransmit whose ack was lost).
        self.send(from, ReplicationMessage::SupersededAck { head });
    }
}

/// The `SupersededChunk` messages that report `config` to a master: its encoding in pieces of
/// at most [`SUPERSEDED_CHUNK`] bytes, in order. Empty if the encoding exceeds
/// [`MAX_SUPERSEDED_LEN`] (it cannot be reported).
pub fn superseded_chunks(config: &SupersededConfig) -> Vec<ReplicationMessage> {
    let bytes = config.encode();
    if bytes.len() > MAX_SUPERSEDED_LEN as usize {
        return Vec::new();
    }
    let total_len = bytes.len() as u32;
    assembly::chunks(&bytes, SUPERSEDED_CHUNK)
        .map(|(offset, data)| ReplicationMessage::SupersededChunk {
            head: config.head,
            total_len,
            offset,
            data: data.to_vec(),
        })
        .collect()
}
