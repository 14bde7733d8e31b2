//! The seed's how-to, as commands: the primary's cluster configuration of WiNG's guide
//! ("Cluster configuration", step 1), entered on the primary after its start. `roost demo`,
//! the end-to-end tests and the command-engine tests run this one list.

/// Step 1 on the primary, from `configure terminal` on, before the failback delay a lab
/// chooses (`cluster force-configured-state-delay …`) and `commit write`.
pub const SEED_PRIMARY_STEPS: &[&str] = &[
    "configure terminal",
    "self",
    "cluster name WING-CLUSTER",
    "cluster mode active",
    "cluster master-priority 250",
    "cluster force-configured-state",
];
