//! **A revision that cannot be saved.** Every step is persisted before anything that depends
//! on it leaves the member, and the driver reports a `Persist` it could not carry out (a full
//! disk) with [`Replication::handle_persist_failed`] before it polls another command. The
//! member then returns to the state before that step (head, configuration, log, lineage,
//! pending commits; the steps of the same message before it were saved and stay applied):
//! the master answers the commit with "cannot save revision: <reason>" (`CommitDone` or
//! `CommitResult`), a follower does not acknowledge, and `config-update-failed` "cannot save
//! revision N: <reason>" is recorded once until a save succeeds again. The master's pushes
//! and hellos retry a follower; a refused commit is simply not there, so nothing
//! acknowledged depends on it. Outputs already queued behind the failed `Persist` are the
//! node's to drop ([`crate::Node::handle_persist_failed`]).

use super::*;

/// The state a `Persist` not yet known to be on disk returns to if it fails.
#[derive(Clone, Debug)]
pub(super) struct Checkpoint<S> {
    pub(super) head: RevisionId,
    pub(super) config: S,
    pub(super) log: Vec<Revision>,
    pub(super) archive: Vec<Revision>,
    pub(super) lineage: Vec<RevisionId>,
    pub(super) requests: Vec<RequestRecord>,
    pub(super) pending: BTreeMap<u64, PendingCommit>,
}

/// Who waits for the outcome of a revision the master created.
#[derive(Clone, Copy, Debug)]
pub(super) enum Waiter {
    Local(u64),
    Remote(MemberId, u64),
}

/// One input's `Persist`s (a commit, a `Revisions` message, a snapshot) until the driver has
/// carried them out: what to undo and whom to answer if one fails.
#[derive(Debug)]
pub(super) struct Unsaved<S> {
    /// The heads the `Persist`s save, in order.
    pub(super) heads: Vec<RevisionId>,
    /// The revisions of incremental steps (re-applied up to a failed one); empty for a snapshot.
    pub(super) steps: Vec<Revision>,
    pub(super) waiting: Vec<Option<Waiter>>,
    pub(super) before: Checkpoint<S>,
}

/// `Persist` batches kept for undo; the driver confirms them long before (see
/// [`Replication::persist_confirmed`]), so this only bounds a driver that never does.
pub(super) const UNSAVED_MAX: usize = 64;

impl<S: ConfigState> Replication<S> {
    /// The driver carried out the `Persist` of `head` (and every one before it): their undo
    /// state is dropped. [`crate::Node`] calls this when the driver polls the next command.
    pub fn persist_confirmed(&mut self, head: RevisionId) {
        self.save_failing = false;
        let Some(b) = self.unsaved.iter().position(|u| u.heads.contains(&head)) else {
            return;
        };
        let last = self.unsaved[b].heads.last() == Some(&head);
        self.unsaved.drain(..if last { b + 1 } else { b });
    }

    /// The driver could not carry out the `Persist` of `head` (`reason`, e.g. "no space left
    /// on device"), and has carried out none after it. Returns to the state before that step
    /// and answers whoever waits for it or for any later unsaved step (see "A revision that
    /// cannot be saved" above); returns the heads whose `Persist`s are void (that one and every
    /// later one), or None if `head` is not an unsaved step (then nothing changed and the
    /// driver cannot go on safely).
    pub fn handle_persist_failed(
        &mut self,
        head: RevisionId,
        reason: &str,
        now: Instant,
    ) -> Option<Vec<RevisionId>> {
        let _ = now;
        let (b, j) = self
            .unsaved
            .iter()
            .enumerate()
            .find_map(|(b, u)| u.heads.iter().position(|h| *h == head).map(|j| (b, j)))?;
        let mut later: Vec<Unsaved<S>> = self.unsaved.drain(b..).collect();
        // Batches before `b` were carried out before this one.
        self.unsaved.clear();
        let batch = later.remove(0);
        let mut void: Vec<RevisionId> = batch.heads[j..].to_vec();
        let mut waiting: Vec<Waiter> = batch.waiting[j..].iter().flatten().copied().collect();
        for u in &later {
            void.extend(&u.heads);
            waiting.extend(u.waiting.iter().flatten().copied());
        }
        let Checkpoint {
            head: prev_head,
            config,
            log,
            archive,
            lineage,
            requests,
            pending,
        } = batch.before;
        self.head = prev_head;
        self.config = config;
        self.log = log;
        self.archive = archive;
        self.lineage = lineage;
        self.requests = requests;
        self.pending = pending;
        // The steps of the same message before `head` were saved: they stay applied.
        for rev in &batch.steps[..j] {
            if let Err(e) = self.config.apply(&rev.change) {
                self.debug(format!(
                    "revision {} no longer applies while rolling back: {}",
                    rev.id, e
                ));
                break;
            }
            self.head = rev.id;
            self.lineage.push(rev.id);
            self.log.push(rev.clone());
            self.trim();
            if rev.origin == self.me {
                self.pending.remove(&rev.request);
            }
        }
        if batch.steps.is_empty() {
            // A snapshot's request ids were saved just before it: put back the ones held now.
            self.push(ReplicationOutput::PersistRequests(self.requests.clone()));
        }
        self.debug(format!(
            "cannot save revision {}: {}; back to revision {} ({} unsaved revisions undone)",
            head,
            reason,
            self.head,
            void.len()
        ));
        let refusal = CommitError::CannotSave {
            reason: reason.to_string(),
        };
        for w in waiting {
            match w {
                Waiter::Local(request) => self.push(ReplicationOutput::CommitDone {
                    request,
                    result: Err(refusal.clone()),
                }),
                Waiter::Remote(from, request) => self.send(
                    from,
                    ReplicationMessage::CommitResult {
                        request,
                        result: Err(refusal.clone()),
                    },
                ),
            }
        }
        if !self.save_failing {
            self.save_failing = true;
            self.push(ReplicationOutput::Record {
                event: ClusterEvent::ConfigUpdateFailed,
                reason: format!("cannot save revision {}: {}", head.number, reason),
            });
        }
        Some(void)
    }

    /// The current state, with `config` (the configuration before the step) in place of ours.
    pub(super) fn checkpoint(&self, config: S) -> Checkpoint<S> {
        Checkpoint {
            head: self.head,
            config,
            log: self.log.clone(),
            archive: self.archive.clone(),
            lineage: self.lineage.clone(),
            requests: self.requests.clone(),
            pending: self.pending.clone(),
        }
    }

    pub(super) fn unsaved_batch(
        &mut self,
        steps: Vec<Revision>,
        waiting: Vec<Option<Waiter>>,
        before: Checkpoint<S>,
    ) {
        self.unsaved.push_back(Unsaved {
            heads: steps.iter().map(|r| r.id).collect(),
            steps,
            waiting,
            before,
        });
        self.bound_unsaved();
    }

    pub(super) fn bound_unsaved(&mut self) {
        while self.unsaved.len() > UNSAVED_MAX {
            self.unsaved.pop_front();
        }
    }
}
