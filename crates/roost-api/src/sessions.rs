//! Interactive API sessions (`/api/v1/sessions`): each holds one engine [`CliSession`], so
//! modes (`configure terminal`, `self`, …) persist across requests.

use roost_config::{CliSession, Role};
use std::collections::{HashMap, VecDeque};
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
    pub(crate) cli: Mutex<Box<dyn CliSession>>,
    pub(crate) async_buf: Arc<Mutex<AsyncBuf>>,
    last_used: Mutex<Instant>,
}

impl ApiSession {
    pub(crate) fn new(
        owner: &str,
        role: Role,
        cli: Box<dyn CliSession>,
        async_buf: Arc<Mutex<AsyncBuf>>,
    ) -> ApiSession {
        ApiSession {
            owner: owner.to_string(),
            role,
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
}

pub(crate) struct TooMany;

impl Sessions {
    pub(crate) fn new(idle_timeout: Duration, max: usize) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle_timeout,
            max,
        }
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

    /// Whether there is room for one more (a cheap pre-check before opening an engine session).
    pub(crate) fn has_room(&self) -> bool {
        lock(&self.map).len() < self.max
    }

    /// Adds a session under a fresh random 128-bit id. On `TooMany` the session is handed back.
    pub(crate) fn insert(&self, session: ApiSession) -> Result<String, (TooMany, ApiSession)> {
        let mut map = lock(&self.map);
        if map.len() >= self.max {
            return Err((TooMany, session));
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
