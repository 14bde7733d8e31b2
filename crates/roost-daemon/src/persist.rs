//! The store port: every write the member task asks for, carried out in order on a thread of
//! its own (`roost-store`), so that an fsync never delays a hello or a dead timer.
//!
//! The member task hands each `Persist` here and goes on serving the election; the node holds
//! everything that depends on that save (replies, acknowledgements, pushes, the next `Persist`)
//! until the outcome comes back on [`Persister::saved`] (see `roost_core::Node`, "Durability,
//! two ways"). Writes that nothing waits for (history, superseded configurations, snapshot
//! request ids) go through the same queue, so the disk sees every write in the order the node
//! made them.

use roost_store::{Store, StoreError};
use roost_wire::{HistoryEvent, RequestRecord, Revision, RevisionId, SupersededConfig};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One write, in the node's order.
pub enum StoreJob {
    /// A revision (or a snapshot's head) that the node waits for: its outcome is reported.
    Config {
        head: RevisionId,
        config: String,
        revision: Option<Revision>,
        lineage: Vec<RevisionId>,
    },
    Requests(Vec<RequestRecord>),
    Superseded(SupersededConfig),
    History(HistoryEvent),
    /// The whole list of lost members (replaces the stored one).
    Lost(Vec<roost_wire::LostMemberRecord>),
}

/// The outcome of a [`StoreJob::Config`].
pub type Saved = (RevisionId, Result<(), StoreError>);

/// The member task's end of the store thread.
pub struct Persister {
    jobs: std::sync::mpsc::Sender<StoreJob>,
    /// Outcomes of `Config` jobs, in order.
    pub saved: mpsc::UnboundedReceiver<Saved>,
}

impl Persister {
    /// Starts the store thread. It ends when the `Persister` is dropped (after the jobs queued
    /// until then).
    pub fn start(store: Arc<Store>) -> std::io::Result<Persister> {
        let (jobs, rx) = std::sync::mpsc::channel::<StoreJob>();
        let (done, saved) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("roost-store".into())
            .spawn(move || {
                // As raised as the member thread: a commit waits for this thread.
                crate::priority::raise("store");
                while let Ok(job) = rx.recv() {
                    run(&store, job, &done);
                }
            })?;
        Ok(Persister { jobs, saved })
    }

    pub fn submit(&self, job: StoreJob) {
        // The thread only ends when `jobs` is dropped, so this cannot fail while we hold it.
        let _ = self.jobs.send(job);
    }
}

fn run(store: &Store, job: StoreJob, done: &mpsc::UnboundedSender<Saved>) {
    match job {
        StoreJob::Config {
            head,
            config,
            revision,
            lineage,
        } => {
            let r = store.save_config(head, &config, revision.as_ref(), &lineage);
            let _ = done.send((head, r));
        }
        StoreJob::Requests(requests) => {
            // Not fail-stop: losing these only weakens de-duplication after a restart (to the
            // revisions held in full), as before snapshots carried them.
            if let Err(e) = store.save_snapshot_requests(&requests) {
                tracing::error!("cannot persist snapshot request ids: {e}");
            }
        }
        StoreJob::Superseded(s) => {
            if let Err(e) = store.save_superseded(&s) {
                tracing::error!("cannot persist superseded configuration {}: {e}", s.head);
            }
        }
        StoreJob::History(ev) => {
            if let Err(e) = store.save_history(std::slice::from_ref(&ev)) {
                tracing::warn!("cannot persist history: {e}");
            }
        }
        StoreJob::Lost(lost) => {
            if let Err(e) = store.save_lost_members(&lost) {
                tracing::warn!("cannot persist the lost members' license grace periods: {e}");
            }
        }
    }
}
