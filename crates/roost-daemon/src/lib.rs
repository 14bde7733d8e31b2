//! The Roost controller daemon: a tokio shell around the sans-IO cores.
//!
//! Modules are listed bottom-up: a module imports only modules listed before it, never one
//! after it.
//!
//! * [`options`]: `ControllerOptions` and the well-known ports (plain data).
//! * [`shutdown`]: stopping on request (`wait_shutdown`) or on a fatal error (`FailStop`,
//!   exit 70).
//! * [`data_dir`]: open or seed the data dir, refuse contradicting flags (`StartupError`).
//! * [`priority`]: per-thread nice values (member and store threads raised, password checks
//!   lowered).
//! * [`counters`]: what `/metrics` counts (atomics: the member channel's `TrafficCounters` and
//!   `Counters`), and `metrics_input`, which reads them into the API's plain `MetricsInput`.
//! * [`gate`]: `AuthGate`, where every password check runs: a few low-priority threads, a
//!   bounded queue, and backoff per (face, source address).
//! * [`persist`]: the store thread: every write the member task asks for, in order, off the
//!   member thread, so that an fsync never delays a hello.
//! * [`snapshot`]: the member's published state (`Publisher`): rebuilt after the inputs that
//!   change it, read by every face without asking the member task.
//! * [`member`]: the member task and its handle (`MemberHandle`, what the rest of the daemon
//!   holds: identity, the published snapshot, the request channel). The task owns the `roost_core::Node`, the UDP 24576 socket and the
//!   store; moves datagrams and time in, and carries out the node's commands (send, persist,
//!   notify), and publishes the snapshot. Commits and join-cluster reach it through a request
//!   channel.
//! * [`join`]: join-cluster: admission (a pure function), the server side (TLS on TCP 5349)
//!   and the client side.
//! * [`udp_batch`]: datagrams in and out a batch per system call (`recvmmsg`/`sendmmsg`).
//! * [`dhcp_socket`]: the DHCP server's UDP 67 socket: which interface a datagram came in on,
//!   and replies out of it (IP_PKTINFO); the lease core comes with issue 10.
//! * [`wireless`]: the adoption thread: CAPWAP (UDP 5246/5247) around `roost_adoption`'s AC
//!   core, on a thread of its own; it reads the member's snapshot and publishes the AP table.
//! * [`faces`]: the controller as the command engine sees it (`ControllerOps`), and as the SSH
//!   and HTTPS transports see it (`CliService`, `ApiBackend`).
//! * [`startup`]: composition: starts every listener.

pub mod counters;
pub mod data_dir;
pub mod dhcp_socket;
pub mod faces;
pub mod gate;
pub mod join;
pub mod member;
pub mod options;
pub mod persist;
pub mod priority;
pub mod shutdown;
pub mod snapshot;
pub mod startup;
pub mod udp_batch;
pub mod wireless;

#[cfg(test)]
mod test_support;

pub use data_dir::StartupError;
pub use options::ControllerOptions;
pub use shutdown::{Fatal, FATAL_EXIT_CODE};
pub use startup::{run_controller, StartedController};
