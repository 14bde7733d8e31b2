//! **Applying updates.** A member accepts `Revisions` and `Snapshot` only from the member it
//! currently follows as master (others are ignored with a debug line). `Revisions` that start
//! at its head (or overlap it) are verified link by link (parent and hash) and applied in
//! order to a copy of the configuration; a broken chain or an apply error rejects the whole
//! message (the next hello then makes the master send a snapshot). Each applied revision is
//! persisted, then `ConfigApplied` is emitted and the new head acknowledged with `Ack`.
//! Updates that are already applied are answered with an `Ack` of the current head.
//!
//! **Snapshots** (WiNG's `CS_ACT_CFG_FULL`). The master sends the whole configuration text
//! in chunks of ≤ [`SNAPSHOT_CHUNK`] bytes with the newest [`SNAPSHOT_LINEAGE_MAX`] lineage
//! ids and the (revision, origin, request) of the newest [`SNAPSHOT_REQUESTS_MAX`] lineage
//! revisions whose request it knows (from its log, its archive, or its own earlier
//! snapshots), all chunks at once, again on the rate limit while the peer's hello still shows
//! another head. The member reassembles one snapshot at a time (chunks of another head
//! replace a partial assembly; more than [`MAX_SNAPSHOT_LEN`] bytes are refused), loads the
//! text ([`ConfigState::load`]; an error is a debug line and the snapshot is ignored),
//! replaces configuration, head and lineage, clears its log, keeps the snapshot's request ids
//! (with any it knew before) for revisions in the new lineage, bounded like it, persisted
//! (`PersistRequests`, restored by [`Replication::restore_requests`]), persists
//! (`revision: None`), records `config-update-success` "successfully applied config" and
//! acknowledges. The master records `config-update-success` "config sync succeeded" when the
//! snapshot is acknowledged.

use super::*;

impl<S: ConfigState> Replication<S> {
    pub(super) fn accept_from_master(&mut self, from: MemberId, what: &str) -> bool {
        if self.master == Some(from) && from != self.me {
            return true;
        }
        let master = self.master.map_or("none".to_string(), |m| m.to_string());
        self.debug(format!(
            "ignoring {} from {}: not the cluster master (master is {})",
            what, from, master
        ));
        false
    }

    /// Applies revisions from our master (then acknowledged), or, on the master, from the
    /// peer it pulls from (a fast-forward: then pushed on to the other peers).
    pub(super) fn on_revisions(
        &mut self,
        from: MemberId,
        after: RevisionId,
        revisions: Vec<Revision>,
        now: Instant,
    ) {
        let start = if after == self.head {
            0
        } else if let Some(i) = revisions.iter().position(|r| r.id == self.head) {
            i + 1
        } else {
            if revisions
                .last()
                .is_some_and(|r| self.lineage.contains(&r.id))
            {
                // Already applied (duplicate or reordered delivery).
                self.send(from, ReplicationMessage::Ack { head: self.head });
            } else {
                self.debug(format!(
                    "ignoring UPDATE after revision {} from {}: current revision is {}",
                    after, from, self.head
                ));
            }
            return;
        };
        if start == revisions.len() {
            self.send(from, ReplicationMessage::Ack { head: self.head });
            return;
        }
        // Verify the whole chain and apply to a copy: all or nothing.
        let mut next = self.config.clone();
        let mut prev = self.head;
        let mut texts = Vec::with_capacity(revisions.len() - start);
        for rev in &revisions[start..] {
            if let Err(e) = chain::check_link(&prev, rev) {
                self.debug(format!("rejecting UPDATE from {}: {}", from, e));
                return;
            }
            if let Err(e) = next.apply(&rev.change) {
                self.debug(format!(
                    "rejecting UPDATE from {}: revision {} does not apply: {}",
                    from, rev.id, e
                ));
                return;
            }
            prev = rev.id;
            texts.push(next.text());
        }
        // Commit, persisting each step.
        let old = self.head;
        let prev = std::mem::replace(&mut self.config, next);
        let before = self.checkpoint(prev);
        let steps: Vec<Revision> = revisions[start..].to_vec();
        for (rev, text) in revisions.into_iter().skip(start).zip(texts) {
            self.head = rev.id;
            self.lineage.push(rev.id);
            self.log.push(rev.clone());
            self.trim();
            let (origin, request, id) = (rev.origin, rev.request, rev.id);
            self.push(ReplicationOutput::Persist {
                head: id,
                config: text,
                revision: Some(rev),
                lineage: self.lineage.clone(),
            });
            if origin == self.me && self.pending.remove(&request).is_some() {
                self.push(ReplicationOutput::CommitDone {
                    request,
                    result: Ok(id),
                });
            }
        }
        let waiting = vec![None; steps.len()];
        self.unsaved_batch(steps, waiting, before);
        self.debug(format!(
            "cluster config update OK, current revision: {}, expected revision: {}",
            self.head.number, self.head.number
        ));
        self.debug(format!(
            "configuration revision updated to {} from {}",
            self.head.number, old.number
        ));
        self.push(ReplicationOutput::ConfigApplied { head: self.head });
        if self.is_master() {
            self.finish_pull(now);
        } else {
            self.send(from, ReplicationMessage::Ack { head: self.head });
        }
    }

    pub(super) fn on_snapshot(
        &mut self,
        from: MemberId,
        chunk: Chunk,
        lineage: Vec<RevisionId>,
        requests: Vec<RequestRecord>,
        now: Instant,
    ) {
        let Chunk {
            head,
            total_len,
            offset,
            data,
        } = chunk;
        if total_len > MAX_SNAPSHOT_LEN {
            self.debug(format!(
                "refusing CS_ACT_CFG_FULL revision {} from {}: {} bytes exceed {}",
                head, from, total_len, MAX_SNAPSHOT_LEN
            ));
            return;
        }
        if head == self.head {
            self.assembly = None;
            self.send(from, ReplicationMessage::Ack { head });
            return;
        }
        let fresh =
            !matches!(&self.assembly, Some(a) if a.head == head && a.total_len == total_len);
        if fresh {
            self.assembly = Some(Assembly::new(head, lineage, requests, total_len));
        }
        let asm = self.assembly.as_mut().expect("assembly present");
        if let Err(e) = asm.insert(offset, data) {
            self.debug(format!("bad CS_ACT_CFG_FULL chunk from {}: {}", from, e));
            return;
        }
        if !asm.is_complete() {
            return;
        }
        let mut asm = self.assembly.take().expect("assembly present");
        let head = asm.head;
        let lineage = std::mem::take(&mut asm.lineage);
        let requests = std::mem::take(&mut asm.requests);
        let text = match String::from_utf8(asm.into_bytes()) {
            Ok(t) => t,
            Err(_) => {
                self.debug(format!(
                    "CS_ACT_CFG_FULL revision {} from {} is not UTF-8",
                    head, from
                ));
                return;
            }
        };
        self.install_snapshot(from, head, lineage, requests, text, now);
    }

    pub(super) fn install_snapshot(
        &mut self,
        from: MemberId,
        head: RevisionId,
        lineage: Vec<RevisionId>,
        requests: Vec<RequestRecord>,
        text: String,
        now: Instant,
    ) {
        self.debug(format!(
            "received CS_ACT_CFG_FULL revision {} from {}, {} bytes",
            head.number,
            from,
            text.len()
        ));
        let loaded = match S::load(&text) {
            Ok(c) => c,
            Err(e) => {
                self.debug(format!(
                    "cluster config update failed, revision {} from {}: {}",
                    head, from, e
                ));
                return;
            }
        };
        let old = self.head;
        let mut lineage = lineage;
        if head != RevisionId::ZERO && lineage.last() != Some(&head) {
            lineage.push(head);
        }
        let winner: HashSet<RevisionId> = lineage.iter().copied().collect();
        if !self.is_master() && head != RevisionId::ZERO && self.lineage.contains(&head) {
            // The snapshot is an ancestor of our head: the master sent it on an old report of
            // our head. Ours extends it, so it is not applied (nothing is superseded); our
            // head, acknowledged, makes the master fast-forward instead.
            self.debug(format!(
                "ignoring CS_ACT_CFG_FULL revision {} from {}: our revision {} extends it",
                head, from, old
            ));
            self.send(from, ReplicationMessage::Ack { head: old });
            return;
        }
        let extends = old == RevisionId::ZERO || old == head || winner.contains(&old);
        if self.is_master() && !extends {
            // A pulled snapshot that does not descend from our head: the master's lineage is
            // authoritative; the peer gets a snapshot instead (and keeps its configuration as
            // superseded).
            self.debug(format!(
                "pulled revision {} from {} does not extend ours ({}); not applied",
                head, from, old
            ));
            if let Some(p) = self.pull.take() {
                self.diverged.insert(p.from, p.target);
            }
            self.release_if_free(now);
            return;
        }
        if !extends {
            self.supersede(from, head, &winner, now);
        }
        let before = self.checkpoint(self.config.clone());
        // Keep known revisions that stay ancestors (for later supersession and de-duplication).
        let mut seen = BTreeSet::new();
        let mut archive: Vec<Revision> = std::mem::take(&mut self.archive)
            .into_iter()
            .chain(std::mem::take(&mut self.log))
            .filter(|r| winner.contains(&r.id) && seen.insert(r.id))
            .collect();
        archive.sort_by_key(|r| r.id.number);
        self.archive = archive;
        // Request ids of lineage revisions: those known before that stay ancestors, then the
        // snapshot's (which replace any other entry for the same revision).
        let fresh: HashSet<RevisionId> = requests.iter().map(|r| r.revision).collect();
        let mut known: Vec<RequestRecord> = std::mem::take(&mut self.requests)
            .into_iter()
            .filter(|r| winner.contains(&r.revision) && !fresh.contains(&r.revision))
            .chain(
                requests
                    .into_iter()
                    .filter(|r| winner.contains(&r.revision)),
            )
            .collect();
        known.sort_by_key(|r| r.revision.number);
        self.requests = known;
        self.config = loaded;
        self.head = head;
        self.lineage = lineage;
        self.trim();
        self.push(ReplicationOutput::PersistRequests(self.requests.clone()));
        self.push(ReplicationOutput::Persist {
            head,
            config: text,
            revision: None,
            lineage: self.lineage.clone(),
        });
        self.unsaved.push_back(Unsaved {
            heads: vec![head],
            steps: Vec::new(),
            waiting: vec![None],
            before,
        });
        self.bound_unsaved();
        self.debug(format!(
            "cluster config update OK, current revision: {}, expected revision: {}",
            head.number, head.number
        ));
        self.debug(format!(
            "configuration revision updated to {} from {}",
            head.number, old.number
        ));
        self.push(ReplicationOutput::Record {
            event: ClusterEvent::ConfigUpdateSuccess,
            reason: "successfully applied config".to_string(),
        });
        self.push(ReplicationOutput::ConfigApplied { head });
        // A local commit the snapshot shows committed is done (its result was lost).
        let done: Vec<(u64, RevisionId)> = self
            .requests
            .iter()
            .filter(|r| r.origin == self.me && self.pending.contains_key(&r.request))
            .map(|r| (r.request, r.revision))
            .collect();
        for (request, id) in done {
            self.pending.remove(&request);
            self.push(ReplicationOutput::CommitDone {
                request,
                result: Ok(id),
            });
        }
        if self.is_master() {
            self.finish_pull(now);
        } else {
            self.send(from, ReplicationMessage::Ack { head });
        }
    }

    /// Member: our master asks for what follows its head `after`.
    pub(super) fn on_pull(&mut self, from: MemberId, after: RevisionId) {
        if after == self.head {
            self.send(from, ReplicationMessage::Ack { head: self.head });
            return;
        }
        let descends = after == RevisionId::ZERO || self.lineage.contains(&after);
        if !descends {
            self.debug(format!(
                "master {} asks for revisions after {}, which is not an ancestor of ours ({})",
                from, after, self.head
            ));
            self.send(from, ReplicationMessage::PullRefused { after });
            return;
        }
        self.debug(format!(
            "master {} is behind at revision {}; sending it revisions up to {}",
            from, after, self.head
        ));
        for msg in self.transfer_messages(after) {
            self.send(from, msg);
        }
    }
}
