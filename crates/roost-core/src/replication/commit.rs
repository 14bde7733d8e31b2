//! **Commits.** A local commit on the master is applied to a copy of the configuration; if
//! the change does not apply, the commit fails and nothing changes. Otherwise the revision is
//! created and the master emits, in this order: `Persist` (config, revision, lineage), then
//! `CommitDone(Ok(id))` and `ConfigApplied`, then `Revisions { after: parent, [rev] }` to
//! every peer it believes alive (heard in hellos and not reported down). On any other member a
//! local commit is sent to the master as a `CommitRequest` and retransmitted every
//! `retransmit_interval` until the `CommitResult` arrives; after `commit_timeout` it fails
//! with "cluster master X did not answer". With no master known (startup hold, between
//! masters) it waits for one, failing after `commit_timeout` with "no cluster master elected
//! yet". If the master changes while a request is pending, the request
//! goes to the new master (or is applied locally if this member became master). A member that
//! is not master answers a `CommitRequest` with "not the cluster master; master is X"; the
//! requester treats that as "retry" until its timeout.
//!
//! **Exactly once.** Each revision carries its origin member and the origin's request id.
//! The master answers a request whose (origin, request) is already in its log (or in the
//! revisions it knows to be ancestors, or among the request ids snapshots brought it, see
//! below) with the existing id instead of applying it again; this covers retransmits,
//! duplicated datagrams and retries after a master change when the revision had reached the
//! new master, by an update or only by a snapshot. Failed requests are remembered briefly
//! (`2 × commit_timeout`) so retransmits get the identical error. A requester that sees its
//! own (origin, request) arrive in replicated revisions or in a snapshot's request ids
//! completes the commit with that id.

use super::*;

/// A local commit waiting for the master's answer.
#[derive(Clone, Debug)]
pub(super) struct PendingCommit {
    pub(super) user: String,
    pub(super) change: String,
    pub(super) deadline: Instant,
    pub(super) last_sent: Option<Instant>,
    /// A retryable error seen meanwhile ([`CommitError::NotMaster`]), reported on timeout.
    pub(super) last_error: Option<CommitError>,
}

impl<S: ConfigState> Replication<S> {
    /// Local commits past their deadline fail; the others are retransmitted to the master.
    pub(super) fn commit_timeouts(&mut self, now: Instant) {
        let interval = self.settings.retransmit_interval;
        // Commit timeouts and retransmits.
        let requests: Vec<u64> = self.pending.keys().copied().collect();
        for request in requests {
            let p = &self.pending[&request];
            if now >= p.deadline {
                let p = self.pending.remove(&request).expect("pending");
                let msg = match (p.last_error, self.master) {
                    (Some(e), _) => e,
                    (None, Some(m)) if m == self.me => CommitError::Resynchronising,
                    (None, Some(master)) => CommitError::MasterSilent { master },
                    (None, None) => CommitError::NoMaster,
                };
                self.debug(format!("commit request {} failed: {}", request, msg));
                self.push(ReplicationOutput::CommitDone {
                    request,
                    result: Err(msg),
                });
                continue;
            }
            if let Some(m) = self.master.filter(|m| *m != self.me) {
                if p.last_sent.is_none_or(|t| now >= t + interval) {
                    self.send_commit_request(request, m, now);
                }
            }
        }
    }

    /// Restores the request ids persisted by [`ReplicationOutput::PersistRequests`] (after [`new`]):
    /// those of revisions in the lineage are kept, so that a retransmitted request whose
    /// revision arrived here only inside a snapshot is still answered with its id, never
    /// applied twice.
    ///
    /// [`new`]: Replication::new
    pub fn restore_requests(&mut self, requests: Vec<RequestRecord>) {
        let in_lineage: HashSet<RevisionId> = self.lineage.iter().copied().collect();
        let mut known: Vec<RequestRecord> = requests
            .into_iter()
            .filter(|r| in_lineage.contains(&r.revision))
            .collect();
        known.sort_by_key(|r| r.revision.number);
        known.dedup_by_key(|r| r.revision);
        self.requests = known;
        self.trim();
    }

    /// A commit from a local session; the outcome arrives as [`ReplicationOutput::CommitDone`].
    pub fn handle_local_commit(
        &mut self,
        request: u64,
        user: String,
        change: String,
        now: Instant,
    ) {
        if self.master == Some(self.me) && !self.holding() {
            return self.commit_local_as_master(request, user, change, now);
        }
        if self.pending.contains_key(&request) {
            return;
        }
        // Wait for the master's answer, or (right after start, or between masters) for a
        // master to be elected, up to `commit_timeout`.
        let deadline = now + self.settings.commit_timeout;
        self.pending.insert(
            request,
            PendingCommit {
                user,
                change,
                deadline,
                last_sent: None,
                last_error: None,
            },
        );
        match self.master {
            Some(m) if m == self.me => self.debug(format!(
                "commit request {request} waits: this master is resynchronising with its peers"
            )),
            Some(m) => self.send_commit_request(request, m, now),
            None => self.debug(format!(
                "commit request {request} waits for a cluster master"
            )),
        }
    }

    /// The id of the revision that committed `origin`'s `request`, if known: from the
    /// revisions held here, or from the request ids snapshots carried.
    pub(super) fn find_request(&self, origin: MemberId, request: u64) -> Option<RevisionId> {
        self.log
            .iter()
            .rev()
            .chain(self.archive.iter().rev())
            .find(|r| r.origin == origin && r.request == request)
            .map(|r| r.id)
            .or_else(|| {
                self.requests
                    .iter()
                    .rev()
                    .find(|r| r.origin == origin && r.request == request)
                    .map(|r| r.revision)
            })
    }

    /// The request records of the newest lineage revisions whose request is known
    /// here, oldest first, at most [`SNAPSHOT_REQUESTS_MAX`]: carried by snapshots.
    pub(super) fn lineage_requests(&self) -> Vec<RequestRecord> {
        let mut known: HashMap<RevisionId, (MemberId, u64)> = self
            .requests
            .iter()
            .map(|r| (r.revision, (r.origin, r.request)))
            .collect();
        for r in self.archive.iter().chain(self.log.iter()) {
            known.insert(r.id, (r.origin, r.request));
        }
        let mut out: Vec<RequestRecord> = self
            .lineage
            .iter()
            .rev()
            .filter_map(|id| {
                known.get(id).map(|(origin, request)| RequestRecord {
                    revision: *id,
                    origin: *origin,
                    request: *request,
                })
            })
            .take(SNAPSHOT_REQUESTS_MAX)
            .collect();
        out.reverse();
        out
    }

    pub(super) fn commit_local_as_master(
        &mut self,
        request: u64,
        user: String,
        change: String,
        now: Instant,
    ) {
        match self.create_revision(self.me, request, user, change, now) {
            Err(e) => {
                self.debug(format!("commit request {} rejected: {}", request, e));
                self.push(ReplicationOutput::CommitDone {
                    request,
                    result: Err(e),
                });
            }
            Ok(rev) => {
                self.push(ReplicationOutput::CommitDone {
                    request,
                    result: Ok(rev.id),
                });
                self.push(ReplicationOutput::ConfigApplied { head: rev.id });
                self.push_revision(&rev, now);
            }
        }
    }

    pub(super) fn send_commit_request(&mut self, request: u64, to: MemberId, now: Instant) {
        let Some(p) = self.pending.get_mut(&request) else {
            return;
        };
        p.last_sent = Some(now);
        let msg = ReplicationMessage::CommitRequest {
            request,
            user: p.user.clone(),
            change: p.change.clone(),
        };
        self.send(to, msg);
        self.debug(format!(
            "sending commit request {} to cluster master {}",
            request, to
        ));
    }

    pub(super) fn on_commit_result(
        &mut self,
        from: MemberId,
        request: u64,
        result: Result<RevisionId, CommitError>,
    ) {
        let Some(p) = self.pending.get_mut(&request) else {
            self.debug(format!(
                "commit result {} from {} for no pending request",
                request, from
            ));
            return;
        };
        if let Err(e) = &result {
            if e.retryable() {
                p.last_error = Some(e.clone());
                self.debug(format!(
                    "commit request {}: {} answered: {}; retrying",
                    request, from, e
                ));
                return;
            }
        }
        self.pending.remove(&request);
        self.push(ReplicationOutput::CommitDone { request, result });
    }

    /// Master: lets waiting local commits go once nothing holds them.
    pub(super) fn release_if_free(&mut self, now: Instant) {
        if self.is_master() && !self.holding() {
            self.commit_pending_as_master(now);
        }
    }

    /// Master: commits every waiting local commit (or completes it, if it is already in).
    pub(super) fn commit_pending_as_master(&mut self, now: Instant) {
        if self.holding() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        for (request, p) in pending {
            if let Some(id) = self.find_request(self.me, request) {
                self.push(ReplicationOutput::CommitDone {
                    request,
                    result: Ok(id),
                });
            } else {
                self.commit_local_as_master(request, p.user, p.change, now);
            }
        }
    }
}
