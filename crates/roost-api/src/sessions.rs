//! Interactive API sessions (`/api/v1/sessions`): each holds one engine [`CliSession`], so
//! modes (`configure terminal`, `self`, …) persist across requests.

use roost_config::{CliSession, Role};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most debug-stream lines kept per session between two exec calls.
pub(crate) const ASYNC_LINES_MAX: usize = 1000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Debug-stream lines received outside commands, until the next exec returns them.
#[derive(Default)]
pub(crate) struct AsyncBuf {
    lines: VecDeque<String>,
    dropped: u64,
}

impl AsyncBuf {
    pub(crate) fn push(&mut self, line: String) {
        if self.lines.len() >= ASYNC_LINES_MAX {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }
    pub(crate) fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.lines.len() + 1);
        if self.dropped > 0 {
            out.push(format!(
                "% {} earlier debug lines dropped (buffer full)",
                self.dropped
            ));
            self.dropped = 0;
        }
        out.extend(self.lines.drain(..));
        out
    }
}

/// A sink for `CliService::open_session`'s `async_output` that fills `buf`.
pub(crate) fn async_sink(buf: &Arc<Mutex<AsyncBuf>>) -> Box<dyn Fn(String) + Send + Sync> {
    let buf = buf.clone();
    Box::new(move |line| lock(&buf).push(line))
}

pub(crate) struct ApiSession {
    pub(crate) owner: String,
    pub(crate) role: Role,
    /// The address the session was opened from (for the per-source cap).
    pub(crate) source: IpAddr,
    pub(crate) cli: Mutex<Box<dyn CliSession>>,
    pub(crate) async_buf: Arc<Mutex<AsyncBuf>>,
    last_used: Mutex<Instant>,
}

impl ApiSession {
    pub(crate) fn new(
        owner: &str,
        role: Role,
        source: IpAddr,
        cli: Box<dyn CliSession>,
        async_buf: Arc<Mutex<AsyncBuf>>,
    ) -> ApiSession {
        ApiSession {
            owner: owner.to_string(),
            role,
            source,
            cli: Mutex::new(cli),
            async_buf,
            last_used: Mutex::new(Instant::now()),
        }
    }
    pub(crate) fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }
    pub(crate) fn lock_cli(&self) -> MutexGuard<'_, Box<dyn CliSession>> {
        lock(&self.cli)
    }
    pub(crate) fn take_async(&self) -> Vec<String> {
        lock(&self.async_buf).drain()
    }
    /// Idle too long and not running a command right now.
    fn expired(&self, idle: Duration, now: Instant) -> bool {
        now.duration_since(*lock(&self.last_used)) >= idle && self.cli.try_lock().is_ok()
    }
}

/// The open sessions, by id.
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Arc<ApiSession>>>,
    pub(crate) idle_timeout: Duration,
    pub(crate) max: usize,
    pub(crate) max_per_user: usize,
    pub(crate) max_per_source: usize,
}

/// Why no session can be opened; the Display is the client's error line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TooMany {
    #[error("too many open sessions (at most {0}); close one or wait")]
    Total(usize),
    #[error("too many open sessions for user {user} (at most {max}); close one or wait")]
    User { user: String, max: usize },
    #[error("too many open sessions from {addr} (at most {max}); close one or wait")]
    Source { addr: IpAddr, max: usize },
}

impl Sessions {
    pub(crate) fn new(
        idle_timeout: Duration,
        max: usize,
        max_per_user: usize,
        max_per_source: usize,
    ) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle_timeout,
            max,
            max_per_user: max_per_user.max(1),
            max_per_source: max_per_source.max(1),
        }
    }

    fn room(
        &self,
        map: &HashMap<String, Arc<ApiSession>>,
        user: &str,
        source: IpAddr,
    ) -> Result<(), TooMany> {
        if map.len() >= self.max {
            return Err(TooMany::Total(self.max));
        }
        if map.values().filter(|s| s.owner == user).count() >= self.max_per_user {
            return Err(TooMany::User {
                user: user.to_string(),
                max: self.max_per_user,
            });
        }
        if map.values().filter(|s| s.source == source).count() >= self.max_per_source {
            return Err(TooMany::Source {
                addr: source,
                max: self.max_per_source,
            });
        }
        Ok(())
    }

    /// Removes expired sessions and returns them (the caller drops them off the async runtime,
    /// since dropping an engine session may block).
    pub(crate) fn sweep(&self) -> Vec<Arc<ApiSession>> {
        let now = Instant::now();
        let mut map = lock(&self.map);
        let dead: Vec<String> = map
            .iter()
            .filter(|(_, s)| s.expired(self.idle_timeout, now))
            .map(|(id, _)| id.clone())
            .collect();
        dead.iter().filter_map(|id| map.remove(id)).collect()
    }

    /// Whether there is room for one more of `user` from `source` (a cheap pre-check before
    /// opening an engine session).
    pub(crate) fn has_room(&self, user: &str, source: IpAddr) -> Result<(), TooMany> {
        self.room(&lock(&self.map), user, source)
    }

    /// Adds a session under a fresh random 128-bit id. On `TooMany` the session is handed back.
    // The session comes back with the reason so the caller can drop it off the runtime.
    #[allow(clippy::result_large_err)]
    pub(crate) fn insert(&self, session: ApiSession) -> Result<String, (TooMany, ApiSession)> {
        let mut map = lock(&self.map);
        if let Err(why) = self.room(&map, &session.owner, session.source) {
            return Err((why, session));
        }
        let id = loop {
            let id = hex::encode(rand::random::<[u8; 16]>());
            if !map.contains_key(&id) {
                break id;
            }
        };
        map.insert(id.clone(), Arc::new(session));
        Ok(id)
    }

    /// The session `id` if it exists, is not expired, and belongs to `user` with `role`
    /// (anything else looks exactly like a missing session). Marks it used.
    pub(crate) fn get(&self, id: &str, user: &str, role: Role) -> Option<Arc<ApiSession>> {
        let map = lock(&self.map);
        let s = map.get(id)?;
        if s.owner != user || s.role != role || s.expired(self.idle_timeout, Instant::now()) {
            return None;
        }
        s.touch();
        Some(s.clone())
    }

    /// Removes `id` if it belongs to `user`/`role`.
    pub(crate) fn remove(&self, id: &str, user: &str, role: Role) -> Option<Arc<ApiSession>> {
        let mut map = lock(&self.map);
        match map.get(id) {
            Some(s) if s.owner == user && s.role == role => map.remove(id),
            _ => None,
        }
    }

    pub(crate) fn remove_all(&self) -> Vec<Arc<ApiSession>> {
        lock(&self.map).drain().map(|(_, s)| s).collect()
    }

    #[allow(dead_code)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.map).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn async_buffer_is_bounded_and_reports_drops() {
        let mut b = AsyncBuf::default();
        for i in 0..ASYNC_LINES_MAX + 5 {
            b.push(format!("l{i}"));
        }
        let lines = b.drain();
        assert_eq!(lines.len(), ASYNC_LINES_MAX + 1);
        assert_eq!(lines[0], "% 5 earlier debug lines dropped (buffer full)");
        assert_eq!(lines[1], "l5");
        assert!(b.drain().is_empty());
    }
}
