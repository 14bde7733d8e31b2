//! The access point's side of CAPWAP (RFC 5415 with the RFC 5416 802.11 binding), as Roost's
//! simulated APs run it, and a fleet of them in one process.
//!
//! * [`Wtp`] (`wtp/`): one AP as a sans-IO state machine, Discovery → Join → Configure →
//!   Data Check → Run, with failover along the AC list, fallback to a higher-priority AC,
//!   and the WLANs an AC pushes. Fed datagrams and time, it emits datagrams and [`Event`]s;
//!   it shares nothing with the AC side (`roost-adoption`) but the codec (`roost-capwap`),
//!   so that a misreading of the RFC on one side cannot hide in the other.
//! * [`ControllerList`]: the controllers an AP starts from, in WiNG's DHCP option 191 syntax.
//! * [`fleet`]: N APs in one tokio task on two UDP sockets (control, data), each AP with its
//!   own loopback source address; what `roost ap` runs.
//!
//! Control is plaintext (no DTLS yet), as the codec's lab mode.

#![forbid(unsafe_code)]

pub mod controllers;
pub mod error;
pub mod fleet;
pub mod identity;
pub mod settings;
pub mod wtp;

pub use controllers::{ControllerList, ControllerListError};
pub use error::WtpError;
pub use identity::{WingMac, WtpIdentity};
pub use settings::{Timers, WtpSettings};
pub use wtp::{Event, LossCause, Output, State, Wlan, Wtp, WtpCounters};
