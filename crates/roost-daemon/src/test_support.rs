//! Fixtures shared by the daemon's unit tests.

use roost_core::ElectionSettings;
use roost_wire::{ClusterMode, LicenseCounts, Mac, Model};
use std::time::Duration;

/// A member's election settings at the defaults (hello 100 ms, dead 300 ms, priority 128,
/// active), for `mac` (`52-54-00-E1-EE-16`) named `hostname`.
pub fn election_settings(mac: &str, hostname: &str) -> ElectionSettings {
    let mac: Mac = mac.parse().expect("a MAC address");
    ElectionSettings {
        member: mac.member_id(),
        mac,
        hostname: hostname.into(),
        model: Model::Vx9000,
        software_version: "1".into(),
        boot: 1,
        cluster_name: String::new(),
        master_priority: 128,
        configured_mode: ClusterMode::Active,
        force_configured_state: false,
        force_configured_state_delay: Duration::from_secs(300),
        hello_interval: Duration::from_millis(100),
        dead_interval: Duration::from_millis(300),
        licenses: LicenseCounts::default(),
        license_grace_period: std::time::Duration::from_secs(100 * 86_400),
    }
}
