//! A member's data dir (`--data-dir DIR`), kept crash-safe.
//!
//! * `DIR/lock`: held (flock) while a [`Store`] is open, so two daemons never share a dir.
//! * `DIR/roost.redb`: structured state in one [redb] database; every update is one
//!   transaction committed with immediate durability, so a crash leaves either the old or the
//!   new state. Values are serde JSON (simple to inspect with any redb tool).
//! * `DIR/startup-config`: the text `write memory` saves, replaced atomically
//!   (write temporary, fsync, rename, fsync dir) so an operator can read or edit it.
//!
//! A full filesystem (ENOSPC, or EDQUOT for a quota) is [`StoreError::NoSpace`]: the write
//! changed nothing and succeeds once space is freed (after an I/O error redb refuses every
//! later operation until the database is reopened, which the next operation does by itself).
//! A damaged file is [`StoreError::Corrupt`], naming the file and what to do, never a panic:
//! the database is opened (redb asserts on some damage) and integrity-checked under
//! `catch_unwind` when the store opens.
//!
//! The replication state mirrors `roost_core::Command::Persist` / `PersistSuperseded`: the
//! current configuration text, its head and lineage, and a bounded log of the revisions that
//! led to it, which always forms a contiguous chain ending at the head.

// No unsafe code here: what needs a libc call lives in the daemon and the binaries.
#![forbid(unsafe_code)]

pub mod fs;

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use roost_wire::{
    ClusterKey, HistoryEvent, LostMemberRecord, Mac, Model, RequestRecord, Revision, RevisionId,
    SupersededConfig,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// Revisions kept in the log ([`roost_wire::limits::LOG_CAPACITY`], as the core keeps).
pub const MAX_LOG: usize = roost_wire::limits::LOG_CAPACITY;
/// History events kept ([`roost_wire::limits::HISTORY_CAPACITY`], as the core keeps).
pub const MAX_HISTORY: usize = roost_wire::limits::HISTORY_CAPACITY;

const DB_FILE: &str = "roost.redb";
const LOCK_FILE: &str = "lock";
const STARTUP_CONFIG_FILE: &str = "startup-config";

/// Single values, JSON-encoded, by name.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Revision log: number → Revision.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// Superseded configs: head.number (BE) ‖ head.hash → SupersededConfig.
const SUPERSEDED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("superseded");
/// History: member (BE) ‖ seq (BE) → HistoryEvent.
const HISTORY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("history");
/// DHCP leases that hold an address (bound, or declined): IPv4 address (u32) → LeaseRecord.
const LEASES: TableDefinition<u32, &[u8]> = TableDefinition::new("leases");

const K_IDENTITY: &str = "identity";
const K_BOOT: &str = "boot";
const K_CLUSTER_KEY: &str = "cluster_key";
const K_HEAD: &str = "config_head";
const K_CONFIG: &str = "config_text";
const K_LINEAGE: &str = "config_lineage";
const K_REQUESTS: &str = "config_snapshot_requests";
const K_LOST: &str = "lost_members";
const K_OWN_APS: &str = "own_aps";

/// What to do about a damaged data dir (also used by the daemon for the files it keeps there).
pub const DAMAGED_ADVICE: &str = "move the data dir aside, start with an empty one and \
    join-cluster again (the cluster holds the configuration); see \"A damaged data dir\" in the README";

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("data dir {} is in use by another Roost process", path.display())]
    Locked { path: PathBuf },
    /// The filesystem is full (ENOSPC) or the user's quota is exhausted (EDQUOT). Nothing was
    /// written; the same operation succeeds once space is freed.
    #[error("{}: {}", path.display(), no_space_reason(source))]
    NoSpace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Boxed: redb's error is large and this is the cold path.
    #[error("database: {0}")]
    Db(#[source] Box<redb::Error>),
    /// A file of the data dir is damaged (truncated, overwritten, or a value that does not
    /// decode).
    #[error("{} is damaged ({what}: {detail}); {DAMAGED_ADVICE}", path.display())]
    Corrupt {
        path: PathBuf,
        what: &'static str,
        detail: String,
    },
    #[error("revision {revision} is not the head {head} it is saved with")]
    RevisionMismatch {
        head: RevisionId,
        revision: RevisionId,
    },
    /// Reusing a boot number would reuse datagram nonces, so this is an error, not a wrap.
    #[error("boot counter exhausted")]
    BootCounterExhausted,
}

impl StoreError {
    /// For [`StoreError::NoSpace`], the short reason a refused commit gives ("no space left on
    /// device", "disk quota exceeded"); None for every other error.
    pub fn no_space(&self) -> Option<&'static str> {
        match self {
            StoreError::NoSpace { source, .. } => Some(no_space_reason(source)),
            _ => None,
        }
    }
}

fn is_no_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

fn no_space_reason(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::QuotaExceeded => "disk quota exceeded",
        _ => "no space left on device",
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(Box::new(e.into()))
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| {
        let path = path.to_path_buf();
        if is_no_space(&source) {
            StoreError::NoSpace { path, source }
        } else {
            StoreError::Io { path, source }
        }
    }
}

/// Who this member is; fixed when the data dir is first initialised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub mac: Mac,
    pub model: Model,
    /// When the data dir was initialised (wall clock, ms since the Unix epoch).
    pub created_wall_ms: u64,
}

/// The replicated configuration as last persisted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistedConfig {
    pub head: RevisionId,
    pub config: String,
    /// Revisions leading to `head`, oldest first; contiguous and ending at `head` (empty after
    /// a full snapshot).
    pub log: Vec<Revision>,
    pub lineage: Vec<RevisionId>,
    /// (revision, origin, request) that snapshots named, from
    /// [`save_snapshot_requests`](Store::save_snapshot_requests); may name revisions no longer
    /// in `lineage` (the core ignores those).
    pub requests: Vec<RequestRecord>,
}

/// An open data dir. Holds the dir lock until dropped.
pub struct Store {
    // Field order matters: the database closes before the lock is released.
    /// None only while a reopen after an I/O error has not succeeded yet.
    db: RwLock<Option<Database>>,
    /// Set by an I/O error: redb then refuses every operation ("previous I/O error") until the
    /// database is reopened, which the next operation does first.
    reopen: AtomicBool,
    dir: PathBuf,
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if absent) the data dir and its database, taking the dir lock. A
    /// damaged database (truncated, overwritten) is [`StoreError::Corrupt`].
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: dir.to_path_buf(),
                })
            }
            Err(TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        // The pid is only a hint for operators wondering who holds the dir.
        let _ = lock
            .set_len(0)
            .and_then(|()| writeln!(lock, "{}", std::process::id()));

        // A crash during write_startup_config can leave its temporary behind; it was never
        // renamed into place, so it holds nothing of value.
        let tmp = fs::tmp_path(&dir.join(STARTUP_CONFIG_FILE));
        if tmp.exists() {
            std::fs::remove_file(&tmp).map_err(io_err(&tmp))?;
        }

        let db_path = dir.join(DB_FILE);
        // redb takes an empty file for a new database; after the first start it never is one
        // (the header is written before the startup-config), so an empty database next to a
        // startup-config was truncated.
        let empty = std::fs::metadata(&db_path).is_ok_and(|m| m.len() == 0);
        if empty && dir.join(STARTUP_CONFIG_FILE).exists() {
            return Err(StoreError::Corrupt {
                path: db_path,
                what: "database",
                detail: "the file is empty".into(),
            });
        }
        let db = open_db(dir, &db_path, true)?;
        let store = Store {
            db: RwLock::new(Some(db)),
            reopen: AtomicBool::new(false),
            dir: dir.to_path_buf(),
            _lock: lock,
        };
        // Create every table up front so readers never meet a missing one.
        store.with_db(|db| {
            let txn = db.begin_write()?;
            txn.open_table(META)?;
            txn.open_table(LOG)?;
            txn.open_table(SUPERSEDED)?;
            txn.open_table(HISTORY)?;
            txn.open_table(LEASES)?;
            txn.commit()?;
            Ok(())
        })?;
        fs::sync_dir(dir).map_err(io_err(dir))?;
        Ok(store)
    }

    /// The data dir.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn db_path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }

    /// Runs `f` on the database, reopening it first if an earlier I/O error left it refusing
    /// everything. An I/O error from `f` marks it for reopening; a full disk is `NoSpace`.
    fn with_db<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.reopen.load(Ordering::Acquire) {
            let mut db = self.db.write().unwrap_or_else(|e| e.into_inner());
            if self.reopen.load(Ordering::Acquire) {
                // redb holds a lock on the file: close before opening again.
                *db = None;
                *db = Some(open_db(&self.dir, &self.db_path(), false)?);
                self.reopen.store(false, Ordering::Release);
            }
        }
        let guard = self.db.read().unwrap_or_else(|e| e.into_inner());
        let Some(db) = guard.as_ref() else {
            // Another thread's reopen failed after our check; the next call retries it.
            self.reopen.store(true, Ordering::Release);
            return Err(StoreError::Db(Box::new(redb::Error::PreviousIo)));
        };
        let result = f(db);
        drop(guard);
        result.map_err(|e| {
            let e = match e {
                StoreError::Db(inner) => match *inner {
                    redb::Error::Io(source) if is_no_space(&source) => StoreError::NoSpace {
                        path: self.db_path(),
                        source,
                    },
                    other => StoreError::Db(Box::new(other)),
                },
                e => e,
            };
            if matches!(&e, StoreError::NoSpace { .. })
                || matches!(&e, StoreError::Db(inner)
                    if matches!(**inner, redb::Error::Io(_) | redb::Error::PreviousIo))
            {
                self.reopen.store(true, Ordering::Release);
            }
            e
        })
    }

    pub fn identity(&self) -> Result<Option<Identity>, StoreError> {
        self.get_meta(K_IDENTITY, "identity")
    }

    pub fn set_identity(&self, id: &Identity) -> Result<(), StoreError> {
        self.put_meta(K_IDENTITY, id)
    }

    /// Increments and persists the boot counter, returning the new value (first boot = 1).
    /// It is durable before it is returned, as it is part of every datagram nonce.
    pub fn next_boot(&self) -> Result<u32, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_write()?;
            let boot = {
                let mut meta = txn.open_table(META)?;
                let current: u32 = match meta.get(K_BOOT)? {
                    Some(v) => self.decode("boot counter", v.value())?,
                    None => 0,
                };
                let boot = current
                    .checked_add(1)
                    .ok_or(StoreError::BootCounterExhausted)?;
                meta.insert(K_BOOT, encode(&boot).as_slice())?;
                boot
            };
            txn.commit()?;
            Ok(boot)
        })
    }

    pub fn cluster_key(&self) -> Result<Option<ClusterKey>, StoreError> {
        let Some(hex) = self.get_meta::<String>(K_CLUSTER_KEY, "cluster key")? else {
            return Ok(None);
        };
        ClusterKey::from_hex(&hex)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path: self.db_path(),
                what: "cluster key",
                detail: e.to_string(),
            })
    }

    pub fn set_cluster_key(&self, key: &ClusterKey) -> Result<(), StoreError> {
        self.put_meta(K_CLUSTER_KEY, &key.to_hex())
    }

    /// Persists the configuration at `head` in one transaction: the text, head and lineage
    /// are replaced, and `revision` (the step that produced `head`, whose id must be `head`)
    /// is appended to the log. With `revision` None (a full snapshot) the log is cleared, as
    /// it no longer leads to the head. The log keeps the newest [`MAX_LOG`] revisions and
    /// stays a contiguous chain: an appended revision replaces any entries at or after its
    /// number, and clears the log if it does not follow on from the previous entry. On a
    /// full disk ([`StoreError::NoSpace`]) nothing changes.
    pub fn save_config(
        &self,
        head: RevisionId,
        config: &str,
        revision: Option<&Revision>,
        lineage: &[RevisionId],
    ) -> Result<(), StoreError> {
        if let Some(rev) = revision {
            if rev.id != head {
                return Err(StoreError::RevisionMismatch {
                    head,
                    revision: rev.id,
                });
            }
        }
        self.with_db(|db| {
            let txn = db.begin_write()?;
            {
                let mut meta = txn.open_table(META)?;
                meta.insert(K_HEAD, encode(&head).as_slice())?;
                meta.insert(K_CONFIG, encode(&config).as_slice())?;
                meta.insert(K_LINEAGE, encode(&lineage).as_slice())?;

                let mut log = txn.open_table(LOG)?;
                match revision {
                    None => {
                        log.retain(|_, _| false)?;
                    }
                    Some(rev) => {
                        log.retain(|n, _| n < rev.id.number)?;
                        let follows = match log.last()? {
                            None => true,
                            Some((n, v)) => {
                                let prev: Revision = self.decode("revision log", v.value())?;
                                n.value() + 1 == rev.id.number && prev.id == rev.parent
                            }
                        };
                        if !follows {
                            log.retain(|_, _| false)?;
                        }
                        log.insert(rev.id.number, encode(rev).as_slice())?;
                        while log.len()? > MAX_LOG as u64 {
                            log.pop_first()?;
                        }
                    }
                }
            }
            txn.commit()?;
            Ok(())
        })
    }

    /// The configuration last saved with [`save_config`](Self::save_config), if any.
    pub fn load_config(&self) -> Result<Option<PersistedConfig>, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read()?;
            let meta = txn.open_table(META)?;
            let Some(head) = meta.get(K_HEAD)? else {
                return Ok(None);
            };
            let head: RevisionId = self.decode("config head", head.value())?;
            let config: String = match meta.get(K_CONFIG)? {
                Some(v) => self.decode("config text", v.value())?,
                None => {
                    return Err(StoreError::Corrupt {
                        path: self.db_path(),
                        what: "config text",
                        detail: "missing".into(),
                    })
                }
            };
            let lineage: Vec<RevisionId> = match meta.get(K_LINEAGE)? {
                Some(v) => self.decode("config lineage", v.value())?,
                None => Vec::new(),
            };
            let requests: Vec<RequestRecord> = match meta.get(K_REQUESTS)? {
                Some(v) => self.decode("snapshot request ids", v.value())?,
                None => Vec::new(),
            };
            let log = txn
                .open_table(LOG)?
                .iter()?
                .map(|entry| self.decode("revision log", entry?.1.value()))
                .collect::<Result<Vec<Revision>, StoreError>>()?;
            Ok(Some(PersistedConfig {
                head,
                config,
                log,
                lineage,
                requests,
            }))
        })
    }

    /// Keeps the request ids a snapshot carried (`roost_core::Command::PersistRequests`),
    /// replacing those saved before.
    pub fn save_snapshot_requests(&self, requests: &[RequestRecord]) -> Result<(), StoreError> {
        self.put_meta(K_REQUESTS, requests)
    }

    /// Keeps the members lost so far (`roost_core::Command::PersistLost`), replacing the
    /// list saved before: their licenses stay in the pool for the grace period across a
    /// restart.
    pub fn save_lost_members(&self, lost: &[LostMemberRecord]) -> Result<(), StoreError> {
        self.put_meta(K_LOST, lost)
    }

    /// Keeps the APs this member holds (MAC, thin-AP license), replacing the list saved
    /// before: a restarted member keeps their licenses for them until each is accounted for
    /// (`roost_adoption::directory::Directory::handle_previous_boot`).
    pub fn save_own_aps(&self, aps: &[(roost_wire::Mac, bool)]) -> Result<(), StoreError> {
        self.put_meta(K_OWN_APS, aps)
    }

    /// The APs held before the last stop, empty if none was saved.
    pub fn own_aps(&self) -> Result<Vec<(roost_wire::Mac, bool)>, StoreError> {
        Ok(self.get_meta(K_OWN_APS, "own APs")?.unwrap_or_default())
    }

    /// Applies a batch of lease changes in one transaction (one fsync, issue 10's "one per
    /// batch"): a lease that holds its address (bound, declined) is written, one that frees it
    /// (released, expired) removed. Later records in `changes` win over earlier ones.
    pub fn save_leases(&self, changes: &[roost_wire::LeaseRecord]) -> Result<(), StoreError> {
        self.with_db(|db| {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(LEASES)?;
                for r in changes {
                    let key = u32::from(r.ip);
                    if r.state.holds_address() {
                        table.insert(key, encode(r).as_slice())?;
                    } else {
                        table.remove(key)?;
                    }
                }
            }
            txn.commit()?;
            Ok(())
        })
    }

    /// Every lease that holds an address, by address (empty if none was saved).
    pub fn leases(&self) -> Result<Vec<roost_wire::LeaseRecord>, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(LEASES)?;
            let out = table
                .iter()?
                .map(|entry| self.decode("lease", entry?.1.value()))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(out)
        })
    }

    /// The members lost before the last stop (oldest first), empty if none was saved.
    pub fn lost_members(&self) -> Result<Vec<LostMemberRecord>, StoreError> {
        Ok(self.get_meta(K_LOST, "lost members")?.unwrap_or_default())
    }

    /// Archives a superseded configuration; saving the same head again replaces it.
    pub fn save_superseded(&self, s: &SupersededConfig) -> Result<(), StoreError> {
        self.with_db(|db| {
            let txn = db.begin_write()?;
            txn.open_table(SUPERSEDED)?
                .insert(superseded_key(&s.head).as_slice(), encode(s).as_slice())?;
            txn.commit()?;
            Ok(())
        })
    }

    /// All archived superseded configurations, ordered by head (number, then hash).
    pub fn superseded(&self) -> Result<Vec<SupersededConfig>, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(SUPERSEDED)?;
            let out = table
                .iter()?
                .map(|entry| self.decode("superseded config", entry?.1.value()))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(out)
        })
    }

    /// Merges `events` into the stored history (an event is identified by member and seq, so
    /// saving it again is harmless), keeping the newest [`MAX_HISTORY`] by wall clock.
    pub fn save_history(&self, events: &[HistoryEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.with_db(|db| {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(HISTORY)?;
                for e in events {
                    table.insert(history_key(e).as_slice(), encode(e).as_slice())?;
                }
                let len = table.len()? as usize;
                if len > MAX_HISTORY {
                    let mut all = Vec::with_capacity(len);
                    for entry in table.iter()? {
                        let (k, v) = entry?;
                        let e: HistoryEvent = self.decode("history event", v.value())?;
                        all.push((e.wall_ms, k.value().to_vec()));
                    }
                    all.sort();
                    for (_, key) in &all[..len - MAX_HISTORY] {
                        table.remove(key.as_slice())?;
                    }
                }
            }
            txn.commit()?;
            Ok(())
        })
    }

    /// The stored history, oldest first (by wall clock, then member and seq).
    pub fn history(&self) -> Result<Vec<HistoryEvent>, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(HISTORY)?;
            let mut out = table
                .iter()?
                .map(|entry| self.decode("history event", entry?.1.value()))
                .collect::<Result<Vec<HistoryEvent>, StoreError>>()?;
            out.sort_by_key(|e| (e.wall_ms, e.member, e.seq));
            Ok(out)
        })
    }

    /// Atomically replaces `DIR/startup-config` (see [`fs::write_atomic`]).
    pub fn write_startup_config(&self, text: &str) -> Result<(), StoreError> {
        let path = self.startup_config_path();
        fs::write_atomic(&path, text.as_bytes()).map_err(io_err(&path))
    }

    /// The text of `DIR/startup-config`, if it exists.
    pub fn startup_config(&self) -> Result<Option<String>, StoreError> {
        let path = self.startup_config_path();
        match fs::read_optional(&path).map_err(io_err(&path))? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    path,
                    what: "startup-config",
                    detail: format!("not UTF-8 text: {e}"),
                }),
        }
    }

    /// Where the startup-config file lives (operators may read or replace it by hand).
    pub fn startup_config_path(&self) -> PathBuf {
        self.dir.join(STARTUP_CONFIG_FILE)
    }

    fn get_meta<T: DeserializeOwned>(
        &self,
        key: &str,
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read()?;
            let meta = txn.open_table(META)?;
            let value = meta.get(key)?;
            value.map(|v| self.decode(what, v.value())).transpose()
        })
    }

    fn put_meta<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        self.with_db(|db| {
            let txn = db.begin_write()?;
            txn.open_table(META)?
                .insert(key, encode(value).as_slice())?;
            txn.commit()?;
            Ok(())
        })
    }

    fn decode<T: DeserializeOwned>(
        &self,
        what: &'static str,
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            path: self.db_path(),
            what,
            detail: e.to_string(),
        })
    }
}

/// Opens the database file; with `check`, also verifies every page (redb's integrity check,
/// which repairs what an interrupted commit left). Damage is `Corrupt`, whether redb reports it
/// or asserts (a panic, caught here and kept off stderr).
fn open_db(dir: &Path, path: &Path, check: bool) -> Result<Database, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        what: "database",
        detail,
    };
    let opened = quietly(|| {
        let mut db = Database::create(path)?;
        if check {
            db.check_integrity()?;
        }
        Ok::<_, redb::DatabaseError>(db)
    });
    match opened {
        Err(panic) => Err(corrupt(panic)),
        Ok(Ok(db)) => Ok(db),
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => Err(StoreError::Locked {
            path: dir.to_path_buf(),
        }),
        Ok(Err(e)) => match redb::Error::from(e) {
            redb::Error::Io(source) if is_no_space(&source) => Err(StoreError::NoSpace {
                path: path.to_path_buf(),
                source,
            }),
            // A header or page that cannot be read whole, or does not parse.
            redb::Error::Io(source)
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
                ) =>
            {
                Err(corrupt(source.to_string()))
            }
            redb::Error::Corrupted(detail) => Err(corrupt(detail)),
            other => Err(StoreError::Db(Box::new(other))),
        },
    }
}

thread_local! {
    /// Set while [`quietly`] runs on this thread: its panics are caught, not reported.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into its message. The panic hook (the one installed before,
/// chained) stays silent for panics inside `f`, so a damaged file is one clear error line.
fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info)
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unreadable".into());
        format!("the database library gave up reading it: {message}")
    })
}

fn superseded_key(head: &RevisionId) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&head.number.to_be_bytes());
    k[8..].copy_from_slice(&head.hash);
    k
}

fn history_key(e: &HistoryEvent) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&e.member.0.to_be_bytes());
    k[4..].copy_from_slice(&e.seq.to_be_bytes());
    k
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // The stored types are plain structs with string-keyed fields: serializing cannot fail.
    serde_json::to_vec(value).expect("store values serialize to JSON")
}
