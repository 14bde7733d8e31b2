//! The Roost controller daemon: a tokio shell around the sans-IO cores.
//!
//! * [`runtime`]: the member task. Owns the `roost_core::Node`, the UDP 24576 socket and the
//!   store; moves datagrams and time in, and carries out the node's commands (send, persist,
//!   notify). Sessions talk to it through a request channel.
//! * [`join`]: join-cluster, server side (TLS on TCP 5349) and client side.
//! * [`ops`]: the controller as the command engine sees it (`ControllerOps`), and as the SSH
//!   and HTTPS transports see it (`CliService`, `ApiBackend`).
//! * [`gate`]: `AuthGate`, where every password check runs: a few low-priority threads, a
//!   bounded queue, and backoff per (face, source address).
//! * [`counters`]: what `/metrics` counts beyond the channel stats (atomics), and
//!   `metrics_input`, which reads them into the API's plain `MetricsInput`.
//! * [`startup`]: options, data-dir identity seeding, and starting every listener.

pub mod counters;
pub mod gate;
pub mod join;
pub mod ops;
pub mod runtime;
pub mod startup;

pub use startup::{run_controller, ControllerOptions, StartedController};
