//! One test per refusal (its exact line) and one admission.

use super::*;
use roost_wire::ClusterMode;

const PRIMARY_MAC: &str = "52-54-00-E1-EE-16";
const JOINER_MAC: &str = "52-54-00-3A-A1-17";

fn primary() -> Primary {
    Primary {
        mac: PRIMARY_MAC.parse().unwrap(),
        model: Model::Vx9000,
        ip: "192.0.2.10".parse().unwrap(),
    }
}

fn cluster(extra: &str) -> ClusterConfig {
    let mut c = ClusterConfig::default();
    c.apply_change(&format!(
        "vx9000 {PRIMARY_MAC}\n hostname vx9000-1\n cluster name lab\n{extra}"
    ))
    .unwrap();
    c
}

fn request() -> JoinRequest {
    JoinRequest {
        protocol_version: PROTOCOL_VERSION,
        software_version: "5.9.1".into(),
        user: "admin".into(),
        model: Model::Vx9000,
        mac: JOINER_MAC.parse().unwrap(),
        hostname: "vx9000-2".into(),
        ip: "192.0.2.11".into(),
        level: MintLevel::L1,
        mode: ClusterMode::Standby,
        device: format!(
            "vx9000 {JOINER_MAC}\n hostname vx9000-2\n cluster master-priority 100\n interface vlan 10\n  ip address 192.0.2.11/24\n ip default-gateway 192.0.2.1\n"
        ),
    }
}

fn refusal(req: &JoinRequest, config: &ClusterConfig) -> String {
    admit(req, &primary(), config).unwrap_err().to_string()
}

#[test]
fn an_admitted_joiner_brings_its_own_section_and_gets_the_links_the_join_decides() {
    let config = cluster("");
    let change = admit(&request(), &primary(), &config).unwrap();
    assert_eq!(
        change.to_text(),
        format!(
            "vx9000 {PRIMARY_MAC}\n cluster member ip 192.0.2.11 level 1\n\
             vx9000 {JOINER_MAC}\n hostname vx9000-2\n cluster master-priority 100\n interface vlan 10\n  ip address 192.0.2.11/24\n ip default-gateway 192.0.2.1\n hostname vx9000-2\n cluster name lab\n cluster mode standby\n cluster member ip 192.0.2.10 level 1\n"
        )
    );
    let mut after = config.clone();
    after.apply_change(&change.to_text()).unwrap();
    let j = after.device(JOINER_MAC.parse().unwrap()).unwrap();
    assert_eq!(j.cluster_name, "lab");
    assert_eq!(j.cluster_mode, ClusterMode::Standby);
    assert_eq!(j.master_priority, 100);
    assert_eq!(j.member_ips, vec![(primary().ip, MintLevel::L1)]);
    assert_eq!(j.default_gateway, Some("192.0.2.1".parse().unwrap()));
    let p = after.device(primary().mac).unwrap();
    assert_eq!(
        p.member_ips,
        vec![("192.0.2.11".parse().unwrap(), MintLevel::L1)]
    );
}

#[test]
fn a_joiner_without_a_section_of_its_own_gets_only_what_the_join_decides() {
    let mut req = request();
    req.device = String::new();
    let change = admit(&req, &primary(), &ClusterConfig::default()).unwrap();
    assert_eq!(
        change.to_text(),
        format!(
            "vx9000 {PRIMARY_MAC}\n cluster member ip 192.0.2.11 level 1\n\
             vx9000 {JOINER_MAC}\n hostname vx9000-2\n cluster mode standby\n cluster member ip 192.0.2.10 level 1\n"
        )
    );
}

#[test]
fn a_different_release_is_refused_before_authentication() {
    let hello = JoinHello {
        protocol_version: PROTOCOL_VERSION,
        software_version: "5.9.0".into(),
        user: "admin".into(),
        ke1: String::new(),
    };
    assert_eq!(check_version(&hello, "5.9.0"), Ok(()));
    assert_eq!(
        check_version(&hello, "5.9.1").unwrap_err().to_string(),
        format!("software version mismatch: this controller runs Roost 5.9.1 (protocol {PROTOCOL_VERSION}), the joining controller runs Roost 5.9.0 (protocol {PROTOCOL_VERSION})")
    );
    let other_protocol = JoinHello {
        protocol_version: PROTOCOL_VERSION.wrapping_add(1),
        ..hello
    };
    assert!(matches!(
        check_version(&other_protocol, "5.9.0"),
        Err(JoinRefusal::Version { .. })
    ));
}

#[test]
fn a_request_sealed_for_another_user_is_malformed() {
    let mut req = request();
    req.user = "bob".into();
    assert_eq!(
        check_user("admin", Role::Superuser, &req)
            .unwrap_err()
            .to_string(),
        "malformed join request: user names differ"
    );
}

#[test]
fn a_monitor_may_not_join_controllers() {
    assert_eq!(check_user("admin", Role::Superuser, &request()), Ok(()));
    assert_eq!(
        check_user("admin", Role::Monitor, &request())
            .unwrap_err()
            .to_string(),
        "user 'admin' is not allowed to join controllers (role monitor)"
    );
}

#[test]
fn a_different_model_is_refused() {
    let mut req = request();
    req.model = Model::Nx96x0;
    assert_eq!(
        refusal(&req, &cluster("")),
        format!(
            "model mismatch: this controller is a {}, the joining controller is a {} (cluster members must be the same model)",
            Model::Vx9000,
            Model::Nx96x0
        )
    );
}

#[test]
fn an_invalid_member_address_is_refused() {
    let mut req = request();
    req.ip = "not-an-ip".into();
    assert_eq!(
        refusal(&req, &cluster("")),
        "invalid member address \"not-an-ip\""
    );
}

#[test]
fn the_primarys_own_address_is_refused() {
    let mut req = request();
    req.ip = "192.0.2.10".into();
    assert_eq!(
        refusal(&req, &cluster("")),
        "the joining controller uses this controller's own address 192.0.2.10"
    );
}

#[test]
fn a_cluster_on_vlan_links_is_refused() {
    assert_eq!(
        refusal(&request(), &cluster(" cluster member vlan 20\n")),
        "cluster member vlan 20 is configured: cluster VLAN links are not supported, only cluster member ip links are allowed"
    );
}

#[test]
fn a_mint_level_mismatch_is_refused() {
    assert_eq!(
        refusal(
            &request(),
            &cluster(" cluster member ip 192.0.2.12 level 2\n")
        ),
        "MiNT link level mismatch: the cluster's member links use level 2, join-cluster asked for level 1"
    );
}

#[test]
fn a_member_id_already_taken_is_refused() {
    // Same last three bytes as the joiner: the same member id.
    let config = cluster("vx9000 52-54-01-3A-A1-17\n hostname other\n");
    assert_eq!(
        refusal(&request(), &config),
        format!(
            "member id {} of {JOINER_MAC} is already used by other (52-54-01-3A-A1-17)",
            request().mac.member_id()
        )
    );
}

#[test]
fn the_primarys_own_mac_is_refused() {
    let mut req = request();
    req.mac = primary().mac;
    req.device = String::new();
    assert_eq!(
        refusal(&req, &cluster("")),
        "the joining controller has this controller's own MAC address"
    );
}

#[test]
fn a_section_that_is_not_the_joiners_own_is_refused() {
    let mut req = request();
    req.device = format!("vx9000 {JOINER_MAC}\n hostname x\nwlan corp\n ssid corp\n");
    assert_eq!(
        refusal(&req, &cluster("")),
        format!("the joining controller's configuration has a section 'wlan corp' that is not its own device section 'vx9000 {JOINER_MAC}'")
    );
}

#[test]
fn the_refusals_of_the_network_part_keep_their_lines() {
    let cases = [
        (
            JoinRefusal::Backoff {
                source_ip: "127.0.0.200".parse().unwrap(),
                wait: Duration::from_millis(1500),
            },
            "too many failed join attempts from 127.0.0.200: try again in 2 s",
        ),
        (JoinRefusal::NoClusterKey, "this controller has no cluster key"),
        (
            JoinRefusal::NoJoinCredential("bob".into()),
            "user 'bob' has no join-cluster credential (its password was given as a hash): set its password again on the cluster ('user bob password <password> role ...') and retry",
        ),
        (
            JoinRefusal::AuthenticationFailed("bob".into()),
            "authentication failed for user 'bob'",
        ),
        (
            JoinRefusal::Malformed("malformed KE3".into()),
            "malformed join request: malformed KE3",
        ),
        (
            JoinRefusal::Commit("no cluster master elected yet".into()),
            "the cluster could not commit the new member: no cluster master elected yet",
        ),
    ];
    for (r, line) in cases {
        assert_eq!(r.to_string(), line);
    }
}

#[test]
fn joiner_section_keeps_its_own_settings_and_drops_what_join_decides() {
    let h = "vx9000 52-54-00-3A-A1-52";
    let text = format!(
        "{h}\n hostname vx9000-2\n cluster name OLD\n cluster mode active\n cluster member ip 10.0.0.1 level 1\n cluster master-priority 100\n interface vlan 10\n  ip address 192.0.2.2/24\n ip default-gateway 192.0.2.1\n"
    );
    assert_eq!(
        joiner_section(&text, h).unwrap(),
        format!("{h}\n hostname vx9000-2\n cluster master-priority 100\n interface vlan 10\n  ip address 192.0.2.2/24\n ip default-gateway 192.0.2.1\n")
    );
    let e = joiner_section(&format!("{h}\nwlan x\n ssid y\n"), h).unwrap_err();
    assert!(e.to_string().contains("'wlan x'"), "{e}");
    assert_eq!(joiner_section("", h).unwrap(), "");
}
