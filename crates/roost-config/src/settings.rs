//! Configuration → core settings, in pure code: what the election of one member runs with and
//! the force-configured-state delay rule (`Node` in roost-core applies them whenever a
//! configuration is applied, through `MemberConfig`, and re-registers a missing device
//! section). The defaults are the config model's (a device without a section of its own has
//! the settings of [`DeviceSettings::default_for`]), so they are written down once.

use crate::{ClusterConfig, DeviceSettings};
use roost_core::ElectionSettings;
use roost_wire::{LicenseCounts, Mac, MemberId, Model};
use std::time::Duration;

/// What a member's election runs with that is not configuration: who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberFacts {
    pub member: MemberId,
    pub mac: Mac,
    pub model: Model,
    pub software_version: String,
    pub boot: u32,
    /// Installed licenses (counts of adopted APs are 0: adoption is not there yet).
    pub licenses: LicenseCounts,
}

impl MemberFacts {
    /// The facts of the member that runs `settings`.
    pub fn of(settings: &ElectionSettings) -> MemberFacts {
        MemberFacts {
            member: settings.member,
            mac: settings.mac,
            model: settings.model,
            software_version: settings.software_version.clone(),
            boot: settings.boot,
            licenses: settings.licenses,
        }
    }
}

/// The election settings of member `me` under `cluster`: from its device section `device`
/// (as `cluster.device(me.mac)` gives it), or the defaults if it has none.
pub fn election_settings(
    me: &MemberFacts,
    device: Option<&DeviceSettings>,
    cluster: &ClusterConfig,
) -> ElectionSettings {
    let defaults;
    let d = match device {
        Some(d) => d,
        None => {
            defaults = DeviceSettings::default_for(me.mac, me.model);
            &defaults
        }
    };
    ElectionSettings {
        member: me.member,
        mac: me.mac,
        hostname: d.hostname.clone(),
        model: me.model,
        software_version: me.software_version.clone(),
        boot: me.boot,
        cluster_name: d.cluster_name.clone(),
        master_priority: d.master_priority,
        configured_mode: d.cluster_mode,
        force_configured_state: d.force_configured_state,
        force_configured_state_delay: fallback_delay(d, cluster),
        hello_interval: d.hello_interval,
        dead_interval: d.dead_interval,
        licenses: me.licenses,
        license_grace_period: cluster.license_grace_period(),
    }
}

/// The delay `own` waits after a failover before it falls back to its configured state
/// ([`roost_core::fallback_delay`] over the devices of `cluster`).
pub fn fallback_delay(own: &DeviceSettings, cluster: &ClusterConfig) -> Duration {
    roost_core::fallback_delay(
        (own.force_configured_state, own.force_configured_state_delay),
        cluster
            .devices()
            .iter()
            .map(|d| (d.force_configured_state, d.force_configured_state_delay)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_wire::ClusterMode;

    const A: &str = "52-54-00-E1-EE-16";
    const B: &str = "52-54-00-3A-A1-17";

    fn facts() -> MemberFacts {
        let mac: Mac = A.parse().unwrap();
        MemberFacts {
            member: mac.member_id(),
            mac,
            model: Model::Vx9000,
            software_version: "5.9.1".into(),
            boot: 3,
            licenses: LicenseCounts {
                ap_licenses: 64,
                ..LicenseCounts::default()
            },
        }
    }

    fn config(text: &str) -> ClusterConfig {
        let mut c = ClusterConfig::default();
        c.apply_change(text).unwrap();
        c
    }

    #[test]
    fn a_member_without_a_section_runs_the_models_defaults() {
        let s = election_settings(&facts(), None, &ClusterConfig::default());
        assert_eq!(s.hostname, "vx9000-E1EE16");
        assert_eq!(s.master_priority, 128);
        assert_eq!(s.configured_mode, ClusterMode::Active);
        assert!(!s.force_configured_state);
        assert_eq!(s.force_configured_state_delay, Duration::from_secs(300));
        assert_eq!(s.hello_interval, Duration::from_millis(100));
        assert_eq!(s.dead_interval, Duration::from_millis(300));
        assert_eq!(s.cluster_name, "");
        assert_eq!((s.boot, s.licenses.ap_licenses), (3, 64));
        // The same defaults as a section that sets nothing.
        let c = config(&format!("vx9000 {A}\n"));
        let d = c.device(facts().mac).unwrap();
        assert_eq!(election_settings(&facts(), Some(&d), &c), s);
    }

    #[test]
    fn a_section_sets_the_election() {
        let c = config(&format!(
            "vx9000 {A}\n hostname rfs-1\n cluster name lab\n cluster mode standby\n cluster master-priority 200\n cluster hello-interval 50\n cluster dead-interval 200\n"
        ));
        let d = c.device(facts().mac).unwrap();
        let s = election_settings(&facts(), Some(&d), &c);
        assert_eq!(s.hostname, "rfs-1");
        assert_eq!(s.cluster_name, "lab");
        assert_eq!(s.configured_mode, ClusterMode::Standby);
        assert_eq!(s.master_priority, 200);
        assert_eq!(s.hello_interval, Duration::from_millis(50));
        assert_eq!(s.dead_interval, Duration::from_millis(200));
    }

    #[test]
    fn a_member_without_force_configured_state_waits_the_delay_of_one_that_enables_it() {
        let c = config(&format!(
            "vx9000 {A}\n cluster force-configured-state-delay 10\nvx9000 {B}\n cluster force-configured-state\n cluster force-configured-state-delay 7 seconds\n"
        ));
        let a = c.device(facts().mac).unwrap();
        assert_eq!(fallback_delay(&a, &c), Duration::from_secs(7));
        let b = c.device(B.parse().unwrap()).unwrap();
        assert_eq!(fallback_delay(&b, &c), Duration::from_secs(7));
        // Nobody enables it: its own delay (10 minutes).
        let c = config(&format!(
            "vx9000 {A}\n cluster force-configured-state-delay 10\nvx9000 {B}\n"
        ));
        let a = c.device(facts().mac).unwrap();
        assert_eq!(fallback_delay(&a, &c), Duration::from_secs(600));
    }
}
