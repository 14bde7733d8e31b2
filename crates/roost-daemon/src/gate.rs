//! `AuthGate`: the one place password checks (argon2, ~20 ms and 19 MiB each) run, shared by
//! the SSH and API faces (and usable by join-cluster).
//!
//! * **Bounded work.** A fixed number of checks run at a time, on dedicated threads started at a
//!   lowered OS priority (`setpriority`, nice +10 on Linux), so a flood of logins can take
//!   neither the cores the member task needs nor more than `workers × 19 MiB` of memory. Further
//!   checks wait in a bounded queue for at most `queue_wait`; beyond that they are refused at
//!   once with [`LoginError::Busy`]. Sources without recent failures have a queue of their own
//!   that the workers serve first, so a legitimate user is not queued behind an attacker.
//! * **Backoff per (face, source address).** After `free_failures` failures in a row, a source
//!   must wait `base × 2^k` (capped at `max_delay`) before its next check runs; until then its
//!   attempts are refused without any work ([`LoginError::Backoff`]). A success clears it. One
//!   source never delays another. IPv6 sources are grouped by /64 (one host's addresses).
//! * **Bounded tables.** At most `max_sources` sources are tracked; when full, idle entries
//!   (no failure for `forget_after`) go first, then the one whose last failure is oldest.
//!   Each source may have at most `max_in_flight_per_source` checks queued or running.
//!
//! [`Backoff`] is the sans-IO part (fed `now`), tested with simulated time; [`AuthGate`] adds
//! the threads and queues.

use roost_config::{Face, LoginError};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Tunables of the gate. [`GateConfig::default`] suits a small (2-core) controller.
#[derive(Clone, Debug)]
pub struct GateConfig {
    /// Password checks running at once (each its own thread).
    pub workers: usize,
    /// Checks waiting, per queue (sources with and without recent failures).
    pub queue: usize,
    /// Longest a check waits in the queue before it is refused as busy.
    pub queue_wait: Duration,
    /// Failures in a row a source may have before backoff starts.
    pub free_failures: u32,
    /// First backoff delay; doubles with every further failure.
    pub base_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// A source whose last failure is this old starts afresh.
    pub forget_after: Duration,
    /// Sources tracked at most.
    pub max_sources: usize,
    /// Checks one source may have queued or running at once.
    pub max_in_flight_per_source: u32,
    /// Nice value the worker threads run at (Linux; 0 keeps the process's).
    pub nice: i32,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            workers: 2,
            queue: 16,
            queue_wait: Duration::from_secs(1),
            free_failures: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            forget_after: Duration::from_secs(15 * 60),
            max_sources: 4096,
            max_in_flight_per_source: 2,
            nice: 10,
        }
    }
}

/// The key backoff is tracked under: the face and the source address (IPv6 by /64).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceKey {
    pub face: Face,
    pub addr: IpAddr,
}

impl SourceKey {
    pub fn new(face: Face, addr: IpAddr) -> SourceKey {
        let addr = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut o = v6.octets();
                    o[8..].fill(0);
                    IpAddr::V6(o.into())
                }
            },
            v4 => v4,
        };
        SourceKey { face, addr }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    failures: u32,
    last_failure: Option<Instant>,
    next_allowed: Option<Instant>,
    in_flight: u32,
}

/// Which queue an admitted check goes to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// No failure on record for the source.
    Clean,
    /// The source failed recently.
    Suspect,
}

/// Outcome of one admitted check.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Not checked (queue full, waited too long): counts neither way.
    NotChecked,
}

/// Per-source failure tracking (sans-IO: every call takes `now`).
#[derive(Debug)]
pub struct Backoff {
    cfg: GateConfig,
    entries: HashMap<SourceKey, Entry>,
}

impl Backoff {
    pub fn new(cfg: GateConfig) -> Backoff {
        Backoff {
            cfg,
            entries: HashMap::new(),
        }
    }

    /// Sources tracked now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The delay after `failures` failures in a row.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures <= self.cfg.free_failures {
            return Duration::ZERO;
        }
        let k = (failures - self.cfg.free_failures - 1).min(20);
        (self.cfg.base_delay * 2u32.pow(k)).min(self.cfg.max_delay)
    }

    /// May `key` run a check now? On success the check is in flight until [`Backoff::finish`].
    pub fn admit(&mut self, key: SourceKey, now: Instant) -> Result<Class, LoginError> {
        self.forget_if_stale(key, now);
        if !self.entries.contains_key(&key) {
            self.make_room(now);
            self.entries.insert(
                key,
                Entry {
                    failures: 0,
                    last_failure: None,
                    next_allowed: None,
                    in_flight: 0,
                },
            );
        }
        let max_in_flight = self.cfg.max_in_flight_per_source.max(1);
        let e = self.entries.get_mut(&key).expect("inserted above");
        if let Some(at) = e.next_allowed.filter(|at| *at > now) {
            let wait = at - now;
            return Err(LoginError::Backoff {
                addr: key.addr,
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            });
        }
        if e.in_flight >= max_in_flight {
            return Err(LoginError::Busy);
        }
        e.in_flight += 1;
        Ok(if e.failures == 0 {
            Class::Clean
        } else {
            Class::Suspect
        })
    }

    /// Records the outcome of a check admitted for `key`.
    pub fn finish(&mut self, key: SourceKey, outcome: Outcome, now: Instant) {
        let delay_after = |failures| self.delay(failures);
        let Some(e) = self.entries.get(&key).cloned() else {
            return;
        };
        let mut e = e;
        e.in_flight = e.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Success => {
                e.failures = 0;
                e.last_failure = None;
                e.next_allowed = None;
            }
            Outcome::Failure => {
                e.failures = e.failures.saturating_add(1);
                e.last_failure = Some(now);
                let d = delay_after(e.failures);
                e.next_allowed = (!d.is_zero()).then(|| now + d);
            }
            Outcome::NotChecked => {}
        }
        if e.failures == 0 && e.in_flight == 0 {
            self.entries.remove(&key);
        } else {
            self.entries.insert(key, e);
        }
    }

    /// Failures in a row on record for `key`.
    pub fn failures(&self, key: SourceKey) -> u32 {
        self.entries.get(&key).map(|e| e.failures).unwrap_or(0)
    }

    fn stale(&self, e: &Entry, now: Instant) -> bool {
        e.in_flight == 0
            && e.last_failure
                .is_none_or(|t| now.saturating_duration_since(t) >= self.cfg.forget_after)
    }

    fn forget_if_stale(&mut self, key: SourceKey, now: Instant) {
        if self.entries.get(&key).is_some_and(|e| self.stale(e, now)) {
            self.entries.remove(&key);
        }
    }

    /// Keeps the table below `max_sources` before an insert.
    fn make_room(&mut self, now: Instant) {
        let max = self.cfg.max_sources.max(1);
        if self.entries.len() < max {
            return;
        }
        let forget_after = self.cfg.forget_after;
        self.entries.retain(|_, e| {
            !(e.in_flight == 0
                && e.last_failure
                    .is_none_or(|t| now.saturating_duration_since(t) >= forget_after))
        });
        while self.entries.len() >= max {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| e.in_flight == 0)
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    self.entries.remove(&k);
                }
                // Everything is in flight: in-flight checks are bounded by the queues, far
                // below any sane max_sources; allow the insert.
                None => break,
            }
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

struct Queued {
    deadline: Instant,
    job: Job,
}

#[derive(Default)]
struct Queues {
    clean: VecDeque<Queued>,
    suspect: VecDeque<Queued>,
    closed: bool,
}

struct Inner {
    cfg: GateConfig,
    /// Where failed checks are counted (per face) for `/metrics`.
    counters: Arc<crate::counters::Counters>,
    backoff: Mutex<Backoff>,
    queues: Mutex<Queues>,
    ready: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The gate: see the module doc. Dropping the last handle stops its threads (after the check
/// they are running, if any).
pub struct AuthGate {
    inner: Arc<Inner>,
}

impl Drop for AuthGate {
    fn drop(&mut self) {
        lock(&self.inner.queues).closed = true;
        self.inner.ready.notify_all();
    }
}

impl AuthGate {
    pub fn new(cfg: GateConfig) -> Arc<AuthGate> {
        AuthGate::with_counters(cfg, Arc::default())
    }

    /// A gate that counts failed checks in `counters` (the controller's).
    pub fn with_counters(
        cfg: GateConfig,
        counters: Arc<crate::counters::Counters>,
    ) -> Arc<AuthGate> {
        let inner = Arc::new(Inner {
            counters,
            backoff: Mutex::new(Backoff::new(cfg.clone())),
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
            cfg,
        });
        for i in 0..inner.cfg.workers.max(1) {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name(format!("roost-auth-{i}"))
                .spawn(move || worker(inner))
                .expect("cannot start a password-check thread");
        }
        Arc::new(AuthGate { inner })
    }

    /// Admits one check from `face`/`addr`, or refuses it at once (backoff, or too many checks
    /// of this source in flight). The [`Attempt`] must be resolved with
    /// [`Attempt::succeeded`] / [`Attempt::failed`]; dropping it counts neither way.
    pub fn admit(&self, face: Face, addr: IpAddr) -> Result<Attempt, LoginError> {
        let key = SourceKey::new(face, addr);
        let class = lock(&self.inner.backoff).admit(key, Instant::now())?;
        Ok(Attempt {
            inner: self.inner.clone(),
            key,
            class,
            done: false,
        })
    }

    /// Sources tracked now (for tests and diagnostics).
    pub fn tracked_sources(&self) -> usize {
        lock(&self.inner.backoff).len()
    }

    /// Checks waiting in the queues now.
    pub fn queued(&self) -> usize {
        let q = lock(&self.inner.queues);
        q.clean.len() + q.suspect.len()
    }
}

/// One admitted check.
pub struct Attempt {
    inner: Arc<Inner>,
    key: SourceKey,
    class: Class,
    done: bool,
}

impl Attempt {
    pub fn class(&self) -> Class {
        self.class
    }

    /// Runs `check` on a gate thread and returns its result, or [`LoginError::Busy`] if the
    /// queue is full or the check waited longer than `queue_wait`.
    pub async fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LoginError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(check());
        });
        {
            let mut q = lock(&self.inner.queues);
            let cap = self.inner.cfg.queue.max(1);
            let queue = match self.class {
                Class::Clean => &mut q.clean,
                Class::Suspect => &mut q.suspect,
            };
            if queue.len() >= cap {
                return Err(LoginError::Busy);
            }
            queue.push_back(Queued {
                deadline: Instant::now() + self.inner.cfg.queue_wait,
                job,
            });
        }
        self.inner.ready.notify_one();
        // A job past its deadline is dropped by the worker, which closes the channel.
        rx.await.map_err(|_| LoginError::Busy)
    }

    pub fn succeeded(mut self) {
        self.finish(Outcome::Success);
    }

    pub fn failed(mut self) {
        self.finish(Outcome::Failure);
    }

    fn finish(&mut self, outcome: Outcome) {
        if !self.done {
            self.done = true;
            if outcome == Outcome::Failure {
                self.inner.counters.login_failed(self.key.face);
            }
            lock(&self.inner.backoff).finish(self.key, outcome, Instant::now());
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.finish(Outcome::NotChecked);
    }
}

fn worker(inner: Arc<Inner>) {
    lower_priority(inner.cfg.nice);
    loop {
        let next = {
            let mut q = lock(&inner.queues);
            loop {
                if q.closed {
                    return;
                }
                if let Some(j) = q.clean.pop_front().or_else(|| q.suspect.pop_front()) {
                    break j;
                }
                q = inner.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        if Instant::now() <= next.deadline {
            (next.job)();
        }
        // else: dropped unrun; its caller sees Busy.
    }
}

/// Lowers the calling thread's scheduling priority.
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    if let Err(error) = crate::priority::set_thread_nice(nice) {
        tracing::warn!(nice, %error, "cannot lower the priority of a password-check thread");
    }
}

/// The calling thread's nice value (Linux), for tests.
#[cfg(all(test, target_os = "linux"))]
fn current_nice() -> i32 {
    // SAFETY: plain syscalls on the calling thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::getpriority(libc::PRIO_PROCESS, tid)
    }
}

#[cfg(test)]
mod tests;
