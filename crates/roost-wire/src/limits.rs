//! Capacities that the cores and the store must agree on, written once: a member's core keeps
//! what its store keeps, so a restarted member serves the same log and history as before.

/// Revisions kept in the log (and lineage ids): enough for peers that fell a little behind to
/// catch up incrementally; anything older gets a full snapshot. `roost_core`'s default
/// `ReplicationSettings::log_capacity` and `roost_store::MAX_LOG`.
pub const LOG_CAPACITY: usize = 1024;

/// Cluster history events kept (the newest, by wall clock), like WiNG's bounded
/// `show cluster history`. `roost_core::election::HISTORY_CAPACITY` and
/// `roost_store::MAX_HISTORY`.
pub const HISTORY_CAPACITY: usize = 1000;
