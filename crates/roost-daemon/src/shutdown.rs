//! How a controller stops: on request (the shutdown watch that `roost` main flips on SIGTERM or
//! Ctrl-C), or on its own when it can no longer vouch for its data dir (fail-stop, [`Fatal`]),
//! which `roost` main turns into exit status 70.

use std::sync::Arc;
use tokio::sync::watch;

/// Resolves when the watch flips to true (or its sender is gone).
pub async fn wait_shutdown(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// The exit status of a controller that stopped itself (BSD's `EX_SOFTWARE`).
pub const FATAL_EXIT_CODE: i32 = 70;

/// Why a controller stopped on its own. `Display` is the one line `roost` prints before it
/// exits with [`FATAL_EXIT_CODE`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Fatal {
    /// A revision could not be saved for a reason other than a full disk: the member cannot
    /// vouch for its data dir, so it neither acknowledges nor serves what it cannot keep.
    #[error("cannot persist revision {head}: {reason}; stopping")]
    Persist {
        head: roost_wire::RevisionId,
        reason: String,
    },
}

/// Where the member task reports a [`Fatal`] error, and where the binary waits for one.
/// Cheap to clone; every clone reports to the same watchers.
#[derive(Clone)]
pub struct FailStop {
    tx: Arc<watch::Sender<Option<Arc<Fatal>>>>,
}

impl Default for FailStop {
    fn default() -> Self {
        FailStop::new()
    }
}

impl FailStop {
    pub fn new() -> FailStop {
        FailStop {
            tx: Arc::new(watch::channel(None).0),
        }
    }

    /// Records `e` for [`FailStop::wait`] without stopping the caller (the first error wins).
    pub fn report(&self, e: Fatal) {
        tracing::error!("{e}");
        self.tx.send_if_modified(|slot| {
            if slot.is_none() {
                *slot = Some(Arc::new(e));
                true
            } else {
                false
            }
        });
    }

    /// Reports `e` and stops the calling thread for good: nothing after the failure is carried
    /// out by it (no acknowledgement, no hello), exactly as if the process had exited here.
    /// Only for a thread of its own, such as the member thread; `roost` main exits 70 on the
    /// report.
    pub fn stop_thread(&self, e: Fatal) -> ! {
        self.report(e);
        loop {
            std::thread::park();
        }
    }

    /// The fatal error, once there is one (pending forever otherwise).
    pub async fn wait(&self) -> Arc<Fatal> {
        let mut rx = self.tx.subscribe();
        loop {
            if let Some(e) = rx.borrow_and_update().clone() {
                return e;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The fatal error so far, if any.
    pub fn get(&self) -> Option<Arc<Fatal>> {
        self.tx.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stopped_thread_reports_its_error_and_stays_stopped() {
        let fail = FailStop::new();
        assert!(fail.get().is_none());
        let f = fail.clone();
        let member = std::thread::spawn(move || {
            f.stop_thread(Fatal::Persist {
                head: roost_wire::RevisionId::ZERO,
                reason: "I/O error".into(),
            })
        });
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), fail.wait())
            .await
            .expect("the error reaches the waiter");
        assert_eq!(
            e.to_string(),
            format!(
                "cannot persist revision {}: I/O error; stopping",
                roost_wire::RevisionId::ZERO
            )
        );
        // The thread stays stopped where it failed: it carries out nothing more.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!member.is_finished());
        // A second error does not replace the first.
        fail.report(Fatal::Persist {
            head: roost_wire::RevisionId::ZERO,
            reason: "other".into(),
        });
        assert!(fail.get().unwrap().to_string().contains("I/O error"));
    }
}
