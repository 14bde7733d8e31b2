//! **Incremental catch-up.** Every hello reports a peer's head to the master
//! ([`Replication::handle_peer_head`]). If it differs from the master's head and the master's
//! log holds the revisions that follow it, the master sends them as `Revisions` messages
//! (chunked to at most [`REVISIONS_CHUNK_BUDGET`] encoded bytes each, all at once);
//! otherwise (the peer's head is unknown, diverged, too old for the log, or a revision is too
//! large for one message) it sends a full snapshot. Pushes to one peer are rate-limited to one
//! per `retransmit_interval`; hellos drive retransmission, so lost updates are re-sent on the
//! next hello after the interval.
//!
//! **Fast-forward, never supersede an extension.** A master that hears a peer advertise a head
//! newer than its own and unknown to it asks for it (`Pull { after: its head }`) before
//! anything else, and creates no revision meanwhile (one pull at a time, retransmitted every
//! `retransmit_interval`, given up after `commit_timeout`: the peer then gets a snapshot, and
//! the pull is tried again one `commit_timeout` later if it still advertises that head (a peer
//! that extends our head ignores our snapshots, so giving up for good would leave it behind).
//! The peer answers with what follows (or a snapshot) if its lineage contains the master's
//! head, and the master applies it as its own and pushes it on; a `PullRefused` (both sides
//! committed after they split) gets the peer a snapshot, and its configuration is superseded.
//! The master answers acknowledgements (`Ack`), and records `config-update-success` "config
//! sync succeeded" when a snapshot is acknowledged.

use super::*;

/// What the master knows about one alive peer.
#[derive(Clone, Debug)]
pub(super) struct Peer {
    /// Last head it advertised (hello) or acknowledged.
    pub(super) head: RevisionId,
    /// When we last pushed revisions or a snapshot to it (rate limit).
    pub(super) last_push: Option<Instant>,
    /// Head of the snapshot last sent to it, until acknowledged.
    pub(super) snapshot_sent: Option<RevisionId>,
}

/// Master: a fast-forward under way (see [`ReplicationMessage::Pull`]).
#[derive(Clone, Debug)]
pub(super) struct Pull {
    /// The peer whose newer head we asked for.
    pub(super) from: MemberId,
    /// The head it advertised.
    pub(super) target: RevisionId,
    /// Our head when we asked.
    pub(super) after: RevisionId,
    pub(super) last_sent: Instant,
    /// Given up (and the peer treated as diverged) after this.
    pub(super) deadline: Instant,
}

/// Failed commit results remembered for identical answers to retransmits.
pub(super) const FAILED_CACHE_MAX: usize = 256;

impl<S: ConfigState> Replication<S> {
    /// The fast-forward under way: retransmit, or give up for a while (see the module docs).
    pub(super) fn pull_timeout(&mut self, now: Instant) {
        let interval = self.settings.retransmit_interval;
        // The fast-forward under way: retransmit, or give up.
        if let Some(p) = self.pull.clone() {
            if now >= p.deadline {
                self.pull = None;
                self.unanswered.insert(p.from, (p.target, now));
                self.debug(format!(
                    "member {} did not send revision {} in time; sending it a snapshot, \
                     asking again in {} ms",
                    p.from,
                    p.target,
                    self.settings.commit_timeout.as_millis()
                ));
                self.release_if_free(now);
            } else if now >= p.last_sent + interval {
                self.send_pull(now);
            }
        }
    }

    /// A peer's advertised head (from its hello): the master uses it to push catch-up.
    pub fn handle_peer_head(&mut self, peer: MemberId, head: RevisionId, now: Instant) {
        if peer == self.me {
            return;
        }
        let entry = self.peers.entry(peer).or_insert(Peer {
            head,
            last_push: None,
            snapshot_sent: None,
        });
        entry.head = head;
        if self.master != Some(self.me) {
            return;
        }
        if entry.snapshot_sent == Some(head) {
            // The snapshot's acks were lost, but the hello shows it applied.
            self.on_ack(peer, head);
            return;
        }
        if self.diverged.get(&peer).is_some_and(|h| *h != head) {
            self.diverged.remove(&peer);
        }
        let timeout = self.settings.commit_timeout;
        if self
            .unanswered
            .get(&peer)
            .is_some_and(|(h, at)| *h != head || now >= *at + timeout)
        {
            self.unanswered.remove(&peer);
        }
        if head == self.head {
            if self.pull.as_ref().is_some_and(|p| p.from == peer) {
                self.finish_pull(now);
            }
            return;
        }
        if head.number > self.head.number
            && self.diverged.get(&peer) != Some(&head)
            && !self.unanswered.contains_key(&peer)
        {
            // Newer than ours and unknown here: it may extend our lineage (it committed while
            // this member was cut off or paused). Ask before overwriting it with a snapshot.
            self.start_pull(peer, head, now);
            return;
        }
        if self.pull.is_some() {
            // Catch-up waits until we know which head the cluster goes on from.
            return;
        }
        if let Some(t) = entry.last_push {
            if now < t + self.settings.retransmit_interval {
                return;
            }
        }
        self.catch_up(peer, now);
    }

    /// A peer is gone (dead interval): stop pushing to it.
    pub fn handle_peer_down(&mut self, peer: MemberId, now: Instant) {
        self.peers.remove(&peer);
        self.diverged.remove(&peer);
        self.unanswered.remove(&peer);
        self.superseded_assemblies
            .retain(|(from, _), _| *from != peer);
        if self.pull.as_ref().is_some_and(|p| p.from == peer) {
            self.pull = None;
            self.debug(format!("member {peer} lost while pulling its revisions"));
            self.release_if_free(now);
        }
    }

    /// The commit hold (a stall's resume hold, from the election through `Node`): while it is
    /// on, the master creates no revision; local commits wait (up to their commit timeout) and
    /// commit requests from peers are not answered (they retransmit).
    pub fn handle_hold(&mut self, held: bool, now: Instant) {
        if held == self.held {
            return;
        }
        self.held = held;
        if held {
            self.debug("commits held until this member has heard its peers".to_string());
        } else {
            self.debug("commit hold released".to_string());
            self.release_if_free(now);
        }
    }

    /// Whether the master must not create revisions now (commit hold, or a fast-forward
    /// under way).
    pub fn holding(&self) -> bool {
        self.held || self.pull.is_some()
    }

    /// Master only: applies `change` and makes it the new head; emits `Persist`.
    pub(super) fn create_revision(
        &mut self,
        origin: MemberId,
        request: u64,
        user: String,
        change: String,
        now: Instant,
    ) -> Result<Revision, CommitError> {
        let mut next = self.config.clone();
        next.apply(&change)
            .map_err(|e| CommitError::Rejected(e.to_string()))?;
        let id = revision_id(&self.head, origin, request, &change);
        let rev = Revision {
            id,
            parent: self.head,
            origin,
            request,
            user,
            wall_ms: self.wall_ms(now),
            change,
        };
        let prev = std::mem::replace(&mut self.config, next);
        let before = self.checkpoint(prev);
        self.head = id;
        self.lineage.push(id);
        self.log.push(rev.clone());
        self.trim();
        self.debug(format!(
            "configuration revision updated to {} from {} (commit by '{}' on {})",
            id.number, rev.parent.number, rev.user, origin
        ));
        self.push(ReplicationOutput::Persist {
            head: id,
            config: self.config.text(),
            revision: Some(rev.clone()),
            lineage: self.lineage.clone(),
        });
        let waiter = if origin == self.me {
            Waiter::Local(request)
        } else {
            Waiter::Remote(origin, request)
        };
        self.unsaved_batch(vec![rev.clone()], vec![Some(waiter)], before);
        Ok(rev)
    }

    /// Master: sends a just-created revision to every alive peer.
    pub(super) fn push_revision(&mut self, rev: &Revision, now: Instant) {
        self.debug(format!(
            "tx_update CS_ACT_CFG_UPDATE revision {} originator {}",
            rev.id.number, rev.origin
        ));
        if chain::encoded_len_bound(rev) > REVISIONS_CHUNK_BUDGET {
            self.debug(format!(
                "revision {} too large for an update; peers get a snapshot",
                rev.id
            ));
            return;
        }
        let peers: Vec<MemberId> = self.peers.keys().copied().collect();
        for peer in peers {
            self.send(
                peer,
                ReplicationMessage::Revisions {
                    after: rev.parent,
                    revisions: vec![rev.clone()],
                },
            );
            self.debug(format!(
                "sending UPDATE revision {} to {}",
                rev.id.number, peer
            ));
            if let Some(p) = self.peers.get_mut(&peer) {
                p.last_push = Some(now);
            }
        }
    }

    pub(super) fn on_commit_request(
        &mut self,
        from: MemberId,
        request: u64,
        user: String,
        change: String,
        now: Instant,
    ) {
        if self.master != Some(self.me) {
            let result = Err(CommitError::NotMaster {
                master: self.master,
            });
            self.send(from, ReplicationMessage::CommitResult { request, result });
            return;
        }
        if self.holding() {
            // Not answered: the requester retransmits until the hold is over.
            self.debug(format!(
                "commit request {} from {} waits: this master is resynchronising with its peers",
                request, from
            ));
            return;
        }
        if let Some(id) = self.find_request(from, request) {
            self.debug(format!(
                "commit request {} from {} already committed as revision {}",
                request, from, id
            ));
            self.send(
                from,
                ReplicationMessage::CommitResult {
                    request,
                    result: Ok(id),
                },
            );
            return;
        }
        if let Some((e, _)) = self
            .failed
            .get(&(from, request))
            .filter(|(_, exp)| *exp > now)
        {
            let result = Err(e.clone());
            self.send(from, ReplicationMessage::CommitResult { request, result });
            return;
        }
        match self.create_revision(from, request, user, change, now) {
            Err(e) => {
                self.debug(format!(
                    "commit request {} from {} rejected: {}",
                    request, from, e
                ));
                if self.failed.len() >= FAILED_CACHE_MAX {
                    self.failed.retain(|_, (_, exp)| *exp > now);
                    if self.failed.len() >= FAILED_CACHE_MAX {
                        let oldest = *self
                            .failed
                            .iter()
                            .min_by_key(|(_, (_, exp))| *exp)
                            .expect("non-empty")
                            .0;
                        self.failed.remove(&oldest);
                    }
                }
                self.failed.insert(
                    (from, request),
                    (e.clone(), now + 2 * self.settings.commit_timeout),
                );
                self.send(
                    from,
                    ReplicationMessage::CommitResult {
                        request,
                        result: Err(e),
                    },
                );
            }
            Ok(rev) => {
                self.push(ReplicationOutput::ConfigApplied { head: rev.id });
                self.send(
                    from,
                    ReplicationMessage::CommitResult {
                        request,
                        result: Ok(rev.id),
                    },
                );
                self.push_revision(&rev, now);
            }
        }
    }

    pub(super) fn pulling_from(&self, from: MemberId) -> bool {
        self.is_master() && self.pull.as_ref().is_some_and(|p| p.from == from)
    }

    /// Master: asks `peer` for what follows our head, since it advertised the newer, unknown
    /// `head`. One pull at a time; others wait for it.
    pub(super) fn start_pull(&mut self, peer: MemberId, head: RevisionId, now: Instant) {
        if let Some(p) = &self.pull {
            if p.from == peer && p.target != head && p.after == self.head {
                // It moved on meanwhile: pull the newer head from it.
                self.pull.as_mut().expect("pull").target = head;
            }
            return;
        }
        self.debug(format!(
            "member {} is at revision {}, newer than ours ({}); pulling its revisions",
            peer, head, self.head
        ));
        self.pull = Some(Pull {
            from: peer,
            target: head,
            after: self.head,
            last_sent: now,
            deadline: now + self.settings.commit_timeout,
        });
        self.send_pull(now);
    }

    pub(super) fn send_pull(&mut self, now: Instant) {
        let Some(p) = self.pull.as_mut() else { return };
        p.last_sent = now;
        let (to, after) = (p.from, p.after);
        self.send(to, ReplicationMessage::Pull { after });
    }

    /// The fast-forward reached the peer's head (or the peer turned out to be at ours): push
    /// the new head on to the other peers, and let waiting commits go.
    pub(super) fn finish_pull(&mut self, now: Instant) {
        let Some(p) = self.pull.take() else { return };
        if self.head != p.after {
            self.debug(format!(
                "fast-forwarded from revision {} to {} (revisions from member {})",
                p.after, self.head, p.from
            ));
            self.push(ReplicationOutput::Record {
                event: ClusterEvent::ConfigUpdateSuccess,
                reason: format!(
                    "fast-forwarded to revision {} from member {}",
                    self.head.number, p.from
                ),
            });
        }
        let behind: Vec<MemberId> = self
            .peers
            .iter()
            .filter(|(_, peer)| peer.head != self.head)
            .map(|(m, _)| *m)
            .collect();
        for peer in behind {
            self.catch_up(peer, now);
        }
        self.release_if_free(now);
    }

    pub(super) fn on_pull_refused(&mut self, from: MemberId, after: RevisionId, now: Instant) {
        if !self.pulling_from(from) || self.pull.as_ref().is_some_and(|p| p.after != after) {
            return;
        }
        let p = self.pull.take().expect("pulling");
        self.debug(format!(
            "member {}'s revision {} does not extend ours ({}); it gets a snapshot and keeps \
             its configuration as superseded",
            from, p.target, after
        ));
        self.diverged.insert(from, p.target);
        self.release_if_free(now);
        self.catch_up(from, now);
    }

    pub(super) fn on_ack(&mut self, from: MemberId, head: RevisionId) {
        if self.master != Some(self.me) {
            return;
        }
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        peer.head = head;
        let synced = peer.snapshot_sent == Some(head);
        if synced {
            peer.snapshot_sent = None;
        }
        self.debug(format!(
            "cluster config update OK, current revision: {}, expected revision: {}",
            head.number, self.head.number
        ));
        if synced {
            self.debug(format!(
                "tx_update CS_ACT_CFG_FULL - revision {} host {} is OK",
                head.number, from
            ));
            self.push(ReplicationOutput::Record {
                event: ClusterEvent::ConfigUpdateSuccess,
                reason: "config sync succeeded".to_string(),
            });
        }
    }

    /// Master: brings `peer` from its advertised head to ours (incremental or snapshot).
    pub(super) fn catch_up(&mut self, peer: MemberId, now: Instant) {
        let Some(peer_head) = self.peers.get(&peer).map(|p| p.head) else {
            return;
        };
        let transfer = self.transfer(peer_head);
        match &transfer {
            Transfer::Revisions(chunks) => {
                self.debug(format!(
                    "tx_update CS_ACT_CFG_UPDATE revisions {}..{} to {}, member rev is {}",
                    peer_head.number + 1,
                    self.head.number,
                    peer,
                    peer_head.number
                ));
                for revisions in chunks {
                    let last = revisions.last().expect("non-empty").id.number;
                    self.debug(format!("sending UPDATE revision {} to {}", last, peer));
                }
            }
            Transfer::Snapshot { lineage, bytes, .. } => {
                self.debug(format!(
                    "tx_update CS_ACT_CFG_FULL - revision {} to {}",
                    self.head.number, peer
                ));
                self.debug(format!("tx_update member rev is {}", peer_head.number));
                self.debug(format!(
                    "sending UPDATE revision: {} lineage: {}, data size: {}",
                    self.head.number,
                    lineage.len(),
                    bytes.len()
                ));
            }
            Transfer::TooLarge(len) => {
                self.debug(format!(
                    "configuration too large for CS_ACT_CFG_FULL ({} bytes)",
                    len
                ));
                return;
            }
        }
        let snapshot = matches!(transfer, Transfer::Snapshot { .. });
        for msg in transfer.into_messages() {
            self.send(peer, msg);
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            if snapshot {
                p.snapshot_sent = Some(self.head);
            }
            p.last_push = Some(now);
        }
    }

    /// What brings a member at `after` to our head: the revisions that follow it, if the log
    /// holds them all and each fits a message, else the whole configuration.
    pub(super) fn transfer(&self, after: RevisionId) -> Transfer {
        let start = self.log.iter().position(|r| r.parent == after);
        let incremental = start.filter(|&i| {
            self.log[i..]
                .iter()
                .all(|r| chain::encoded_len_bound(r) <= REVISIONS_CHUNK_BUDGET)
        });
        if let Some(i) = incremental {
            let mut chunks: Vec<Vec<Revision>> = Vec::new();
            let mut size = 0;
            for rev in &self.log[i..] {
                let len = chain::encoded_len_bound(rev);
                if chunks.is_empty() || size + len > REVISIONS_CHUNK_BUDGET {
                    chunks.push(Vec::new());
                    size = 0;
                }
                size += len;
                chunks.last_mut().expect("pushed").push(rev.clone());
            }
            return Transfer::Revisions(chunks);
        }
        let bytes = self.config.text().into_bytes();
        if bytes.len() > MAX_SNAPSHOT_LEN as usize {
            return Transfer::TooLarge(bytes.len());
        }
        let skip = self.lineage.len().saturating_sub(SNAPSHOT_LINEAGE_MAX);
        Transfer::Snapshot {
            head: self.head,
            lineage: self.lineage[skip..].to_vec(),
            requests: self.lineage_requests(),
            bytes,
        }
    }

    /// [`Replication::transfer`] as messages (nothing if the configuration is too large).
    pub(super) fn transfer_messages(&self, after: RevisionId) -> Vec<ReplicationMessage> {
        self.transfer(after).into_messages()
    }
}

/// A catch-up transfer (see [`Replication::transfer`]).
pub(super) enum Transfer {
    Revisions(Vec<Vec<Revision>>),
    Snapshot {
        head: RevisionId,
        lineage: Vec<RevisionId>,
        requests: Vec<RequestRecord>,
        bytes: Vec<u8>,
    },
    TooLarge(usize),
}

impl Transfer {
    fn into_messages(self) -> Vec<ReplicationMessage> {
        match self {
            Transfer::Revisions(chunks) => chunks
                .into_iter()
                .map(|revisions| ReplicationMessage::Revisions {
                    after: revisions[0].parent,
                    revisions,
                })
                .collect(),
            Transfer::Snapshot {
                head,
                lineage,
                requests,
                bytes,
            } => {
                let total_len = bytes.len() as u32;
                assembly::chunks(&bytes, SNAPSHOT_CHUNK)
                    .map(|(offset, data)| ReplicationMessage::Snapshot {
                        head,
                        lineage: lineage.clone(),
                        requests: requests.clone(),
                        total_len,
                        offset,
                        data: data.to_vec(),
                    })
                    .collect()
            }
            Transfer::TooLarge(_) => Vec::new(),
        }
    }
}
