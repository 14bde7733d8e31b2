//! `dhcp-server-policy` (issue 10): text form, refusals, the device's `use`, commit-time
//! validation, the CLI, and the grammar's help.

use super::*;
use crate::dhcp::{DEFAULT_LEASE_SECS, MAX_LEASE_SECS};
use std::net::Ipv4Addr;

/// A policy with two pools, every setting used, in the form `to_text` writes it.
const POLICY: &str = "dhcp-server-policy campus
 activation-criteria cluster-master
 ping-timeout 2
 bootp ignore
 option controller 191 ascii
 option ntp 42 ip
 option vendor 43 hex
 dhcp-pool guest
  network 10.2.0.0/16
  address range 10.2.1.0 10.2.1.255
  address range 10.2.3.0 10.2.4.255
  default-router 10.2.0.1
  lease 0 0 30
 dhcp-pool lab
  network 10.1.0.0/24
  address range 10.1.0.100 10.1.0.199
  default-router 10.1.0.1 10.1.0.254
  dns-server 10.1.0.2 10.1.0.3
  domain-name lab.example.com
  lease 2 12
  option controller pool1=10.0.0.1;level=1
  option ntp 10.1.0.5 10.1.0.6
  option vendor 0a0bff
  static-binding 00-11-22-33-44-55 ip 10.1.0.50
  static-binding 00-11-22-33-44-66 ip 10.1.0.51
";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// The base configuration with [`POLICY`], used by this member's device section.
fn with_policy() -> ClusterConfig {
    let mut c = ClusterConfig::parse(&base_text()).unwrap();
    c.apply_change(POLICY).unwrap();
    c.apply_change(&format!("vx9000 {MAC1}\n use dhcp-server-policy campus\n"))
        .unwrap();
    c
}

#[test]
fn a_policy_with_two_pools_renders_in_wings_shape_and_round_trips() {
    let c = with_policy();
    let text = c.to_text();
    assert!(text.contains(&format!("{POLICY}!\n")), "{text}");
    assert!(
        text.contains(&format!(
            "vx9000 {MAC1}\n hostname vx9000-1\n use dhcp-server-policy campus\n"
        )),
        "{text}"
    );
    let again = ClusterConfig::parse(&text).unwrap();
    assert_eq!(again, c);
    assert_eq!(again.to_text(), text);
    // What the daemon reads.
    let (name, p) = c.dhcp_policy_of(mac1()).unwrap();
    assert_eq!(name, "campus");
    assert_eq!(p.activation, ActivationCriteria::ClusterMaster);
    assert_eq!(p.ping_timeout_secs, Some(2));
    assert!(p.bootp_ignore);
    assert_eq!(
        p.options["controller"],
        DhcpOptionDef {
            code: 191,
            kind: DhcpOptionType::Ascii
        }
    );
    assert_eq!(p.pools.len(), 2);
    let lab = &p.pools["lab"];
    assert_eq!(lab.network.unwrap().to_string(), "10.1.0.0/24");
    assert_eq!(lab.network.unwrap().netmask(), ip("255.255.255.0"));
    assert_eq!(lab.ranges, [(ip("10.1.0.100"), ip("10.1.0.199"))]);
    assert_eq!(lab.dynamic_addresses(), 100);
    assert_eq!(lab.lease_secs, 2 * 86_400 + 12 * 3_600);
    assert_eq!(lab.default_routers, [ip("10.1.0.1"), ip("10.1.0.254")]);
    assert_eq!(lab.domain_name.as_deref(), Some("lab.example.com"));
    assert_eq!(
        lab.static_bindings[&"00-11-22-33-44-55".parse::<Mac>().unwrap()],
        ip("10.1.0.50")
    );
    assert_eq!(
        lab.wire_options(),
        vec![
            (1, vec![255, 255, 255, 0]),
            (3, vec![10, 1, 0, 1, 10, 1, 0, 254]),
            (6, vec![10, 1, 0, 2, 10, 1, 0, 3]),
            (15, b"lab.example.com".to_vec()),
            (42, vec![10, 1, 0, 5, 10, 1, 0, 6]),
            (43, vec![0x0a, 0x0b, 0xff]),
            (191, b"pool1=10.0.0.1;level=1".to_vec()),
        ]
    );
    let guest = &p.pools["guest"];
    assert_eq!(guest.lease_secs, 30 * 60);
    assert_eq!(guest.dynamic_addresses(), 256 + 512);
    assert_eq!(p.pool_for(ip("10.2.200.7")).map(|(n, _)| n), Some("guest"));
    assert_eq!(p.pool_for(ip("10.3.0.1")).map(|(n, _)| n), None);
    assert_eq!(c.dhcp_policy_users("campus"), [mac1()]);
    assert_eq!(c.dhcp_policies().count(), 1);
    // Another member names none.
    assert!(c.dhcp_policy_of(MAC2.parse().unwrap()).is_none());
}

#[test]
fn defaults_are_not_written_and_every_no_form_returns_to_them() {
    let mut c = with_policy();
    c.apply_change(
        "dhcp-server-policy campus
 no activation-criteria
 no ping-timeout
 no bootp ignore
 dhcp-pool lab
  no option controller
  no option ntp
  no option vendor
  no default-router
  no dns-server
  no domain-name
  no lease
  no static-binding 00-11-22-33-44-55
  no static-binding 00-11-22-33-44-66
  no address range 10.1.0.100 10.1.0.199
 no option controller
 no option ntp
 no option vendor
 no dhcp-pool guest
",
    )
    .unwrap();
    let text = c.to_text();
    assert!(
        text.contains("dhcp-server-policy campus\n dhcp-pool lab\n  network 10.1.0.0/24\n!\n"),
        "{text}"
    );
    let lab = &c.dhcp_policy_of(mac1()).unwrap().1.pools["lab"];
    assert_eq!(lab.lease_secs, DEFAULT_LEASE_SECS);
    assert_eq!(lab.wire_options(), vec![(1, vec![255, 255, 255, 0])]);
    // `lease 1` is the default: not written.
    c.apply_change("dhcp-server-policy campus\n dhcp-pool lab\n  lease 1 0 0 0\n")
        .unwrap();
    assert_eq!(c.to_text(), text);
    // `no use`, then the policy may go.
    c.apply_change(&format!(
        "vx9000 {MAC1}\n no use dhcp-server-policy\nno dhcp-server-policy campus\n"
    ))
    .unwrap();
    assert_eq!(c, ClusterConfig::parse(&base_text()).unwrap());
}

#[test]
fn lease_is_written_in_its_shortest_form() {
    for (typed, secs, written) in [
        ("lease 0 0 0 1", 1, Some("lease 0 0 0 1")),
        ("lease 0 0 1", 60, Some("lease 0 0 1")),
        ("lease 0 0 1 30", 90, Some("lease 0 0 1 30")),
        ("lease 0 1 0 0", 3_600, Some("lease 0 1")),
        ("lease 2", 172_800, Some("lease 2")),
        ("lease 1", DEFAULT_LEASE_SECS, None),
        (
            "lease 365 23 59 59",
            MAX_LEASE_SECS,
            Some("lease 365 23 59 59"),
        ),
    ] {
        let mut c = ClusterConfig::default();
        c.apply_change(&format!(
            "dhcp-server-policy p\n dhcp-pool q\n  network 10.0.0.0/24\n  {typed}\n"
        ))
        .unwrap();
        let pool = &c.dhcp_policies().next().unwrap().1.pools["q"];
        assert_eq!(pool.lease_secs, secs, "{typed}");
        let text = c.to_text();
        match written {
            Some(w) => assert!(text.contains(&format!("  {w}\n")), "{typed}: {text}"),
            None => assert!(!text.contains("lease"), "{typed}: {text}"),
        }
        assert_eq!(ClusterConfig::parse(&text).unwrap(), c);
    }
}

#[test]
fn option_values_are_checked_against_their_type_and_go_on_the_wire_as_bytes() {
    let mut c = ClusterConfig::default();
    c.apply_change(
        "dhcp-server-policy p
 option controller 191 ascii
 option tftp 150 ip
 option blob 224 hex
 dhcp-pool q
  network 192.168.0.0/24
  option controller pool1=10.0.0.1,10.0.0.2,pool2=10.9.0.1;level=2;udp-port=24576
  option tftp 192.168.0.9
  option blob 00FFa0
",
    )
    .unwrap();
    let pool = &c.dhcp_policies().next().unwrap().1.pools["q"];
    let opt = |n: &str| (pool.options[n].code, pool.options[n].bytes.clone());
    assert_eq!(
        opt("controller"),
        (
            191,
            b"pool1=10.0.0.1,10.0.0.2,pool2=10.9.0.1;level=2;udp-port=24576".to_vec()
        )
    );
    assert_eq!(opt("tftp"), (150, vec![192, 168, 0, 9]));
    assert_eq!(opt("blob"), (224, vec![0x00, 0xff, 0xa0]));
    // Hex is written back in lower case; the text round trips.
    assert!(c.to_text().contains("  option blob 00ffa0\n"));
    assert_eq!(ClusterConfig::parse(&c.to_text()).unwrap(), c);
    // WiNG's ASCII escape: `\\` is one backslash. Double quotes around the text are not part
    // of the value (the text is written back as typed).
    c.apply_change(
        "dhcp-server-policy p\n dhcp-pool q\n  option controller \"pool1=10.0.0.1;level=1\"\n",
    )
    .unwrap();
    let pool = &c.dhcp_policies().next().unwrap().1.pools["q"];
    assert_eq!(pool.options["controller"].bytes, b"pool1=10.0.0.1;level=1");
    assert!(c
        .to_text()
        .contains("  option controller \"pool1=10.0.0.1;level=1\"\n"));
    assert_eq!(ClusterConfig::parse(&c.to_text()).unwrap(), c);
    c.apply_change("dhcp-server-policy p\n dhcp-pool q\n  option controller a\\\\b\\c\n")
        .unwrap();
    let pool = &c.dhcp_policies().next().unwrap().1.pools["q"];
    assert_eq!(pool.options["controller"].bytes, b"a\\b\\c");
    assert_eq!(ClusterConfig::parse(&c.to_text()).unwrap(), c);
}

#[test]
fn option_191_with_a_controller_list_is_served_from_the_cli() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(
        &mut s,
        &ops,
        &[
            "conf t",
            "dhcp-server-policy aps",
            "option controller 191 ascii",
            "dhcp-pool ap-vlan",
            "network 10.0.0.0/24",
            "address range 10.0.0.100 10.0.0.200",
            "option controller pool1=10.0.0.1;level=1",
            "exit",
            "exit",
            "self",
            "use dhcp-server-policy aps",
            "commit",
        ],
    );
    let cfg = ops.cfg.borrow();
    let (name, p) = cfg.dhcp_policy_of(mac1()).unwrap();
    assert_eq!(name, "aps");
    let wire = p.pools["ap-vlan"].wire_options();
    assert!(
        wire.contains(&(191, b"pool1=10.0.0.1;level=1".to_vec())),
        "{wire:?}"
    );
}

#[test]
fn bad_dhcp_input_is_refused_with_its_reason_and_changes_nothing() {
    let mut c = with_policy();
    let text = c.to_text();
    let pol = |l: &str| format!("dhcp-server-policy campus\n {l}\n");
    let lab = |l: &str| format!("dhcp-server-policy campus\n dhcp-pool lab\n  {l}\n");
    let long = "x".repeat(33);
    let cases: Vec<(String, &str)> = vec![
        // Names.
        (format!("dhcp-server-policy {long}\n"), "1-32 printable characters"),
        (pol(&format!("dhcp-pool {long}")), "1-32 printable characters"),
        (pol(&format!("option {long} 200 ip")), "1-32 printable characters"),
        // Policy settings.
        (pol("activation-criteria vrrp-master"), "none or cluster-master"),
        (pol("ping-timeout 0"), "ping-timeout 0 is out of range <1-10>"),
        (pol("ping-timeout 11"), "ping-timeout 11 is out of range <1-10>"),
        // Option definitions: WiNG's reserved codes and names, the server's own codes.
        (pol("option router 3 ip"), "option code 3 is reserved (router, the pool's default-router)"),
        (pol("option search 119 ascii"), "option code 119 is reserved (domain search)"),
        (pol("option mask 1 ip"), "option code 1 is reserved"),
        (pol("option boot 67 ascii"), "option code 67 is reserved"),
        (pol("option user-class 200 ascii"), "option name 'user-class' is reserved"),
        (pol("option next-server 200 ip"), "option name 'next-server' is reserved"),
        (pol("option dynamic-bootp 200 hex"), "option name 'dynamic-bootp' is reserved"),
        (pol("option type 53 hex"), "option code 53 is set by the DHCP server itself (DHCP Message Type)"),
        (pol("option pad 0 hex"), "option code 0 is set by the DHCP server itself (Pad)"),
        (pol("option end 255 hex"), "option code 255 is out of range <0-254>"),
        (pol("option x 200 text"), "option type 'text': ip, ascii or hex"),
        (pol("option other 191 ascii"), "option code 191 is already defined as option controller"),
        (pol("option controller 191 hex"), "option controller (191 ascii) is in use by dhcp-pool lab"),
        (pol("no option controller"), "option controller is in use by dhcp-pool lab"),
        (pol("no option nope"), "option nope is not defined in this policy"),
        (pol("no dhcp-pool nope"), "dhcp-pool nope does not exist"),
        // The pool's network.
        (lab("network 10.1.0.0"), "network: '10.1.0.0' is not of the form A.B.C.D/M"),
        (lab("network 10.1.0.0/33"), "is not of the form A.B.C.D/M"),
        (lab("network 10.1.0.7/24"), "host bits are set (the network is 10.1.0.0/24)"),
        (lab("network 10.1.0.0/31"), "the mask length must be 1-30"),
        (lab("network 0.0.0.0/0"), "the mask length must be 1-30"),
        // Address ranges.
        (lab("address range 10.1.0.20 10.1.0.10"), "address range 10.1.0.20 10.1.0.10 ends before it starts"),
        (lab("address range 10.1.0.200 10.1.1.10"), "is outside network 10.1.0.0/24 (hosts 10.1.0.1 to 10.1.0.254)"),
        (lab("address range 10.1.0.0 10.1.0.10"), "is outside network 10.1.0.0/24"),
        (lab("address range 10.1.0.250 10.1.0.255"), "is outside network 10.1.0.0/24"),
        (lab("address range 10.1.0.150 10.1.0.220"), "overlaps address range 10.1.0.100 10.1.0.199"),
        (lab("address range 10.1.0.40 10.1.0.60"), "holds static-binding 00-11-22-33-44-55 ip 10.1.0.50"),
        (lab("no address range 10.1.0.100 10.1.0.150"), "address range 10.1.0.100 10.1.0.150 is not in this pool"),
        // Routers, DNS servers, domain name.
        (lab("default-router 10.1.0.1 10.1.0.1"), "default-router: 10.1.0.1 is listed twice"),
        (lab("default-router 0.0.0.0"), "default-router: 0.0.0.0 is not a unicast address"),
        (lab("dns-server 224.0.0.1"), "dns-server: 224.0.0.1 is not a unicast address"),
        (lab("dns-server 10.1.0.300"), "dns-server: '10.1.0.300' is not an IPv4 address"),
        (
            lab("dns-server 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9"),
            "dns-server: 9 addresses; at most 8",
        ),
        (lab("domain-name bad..name"), "domain-name 'bad..name'"),
        (lab("domain-name -x.example"), "domain-name '-x.example'"),
        // Lease.
        (lab("lease 0"), "a lease is 1 s to 365 days 23:59:59 (31622399 s)"),
        (lab("lease 0 0 0 0"), "a lease is 1 s to 365 days"),
        (lab("lease 366"), "lease days 366 is out of range <0-365>"),
        (lab("lease 1 24"), "lease hours 24 is out of range <0-23>"),
        (lab("lease 1 0 60"), "lease minutes 60 is out of range <0-59>"),
        (lab("lease 1 0 0 60"), "lease seconds 60 is out of range <0-59>"),
        (lab("lease 1 0 0 0 0"), "<days> [<hours> [<minutes> [<seconds>]]] expected"),
        // Option values.
        (lab("option nope 1.2.3.4"), "option nope is not defined in this dhcp-server-policy"),
        (lab("option ntp pool.example"), "is not an IPv4 address A.B.C.D (an ip option's value is a list of addresses)"),
        (lab("option vendor abc"), "option vendor (hex): 'abc' is not an even number of hex digits"),
        (lab("option vendor 0g"), "is not an even number of hex digits"),
        (lab(&format!("option vendor {}", "00".repeat(256))), "256 bytes; an option holds at most 255"),
        (lab(&format!("option controller {}", "a".repeat(256))), "256 bytes; an option holds at most 255"),
        (lab("option controller pool1=10.0.0.1; level=1"), "the value is one word, without spaces"),
        (lab("option controller h\u{e9}"), "is not text of printable ASCII characters"),
        (lab("option controller \"\""), "is not text of printable ASCII characters"),
        (lab("no option tftp"), "option tftp is not set in this pool"),
        // Static bindings.
        (lab("static-binding 00-11-22-33-44-77 ip 10.1.1.5"), "static-binding 00-11-22-33-44-77 ip 10.1.1.5 is outside network 10.1.0.0/24"),
        (lab("static-binding 00-11-22-33-44-77 ip 10.1.0.150"), "is inside address range 10.1.0.100 10.1.0.199"),
        (lab("static-binding 00-11-22-33-44-77 ip 10.1.0.50"), "10.1.0.50 is already bound to 00-11-22-33-44-55"),
        (lab("static-binding 00-11-22-33-44 ip 10.1.0.60"), "'00-11-22-33-44' is not a MAC address"),
        (lab("no static-binding 00-11-22-33-44-77"), "static-binding 00-11-22-33-44-77 is not in this pool"),
        // Unknown commands.
        (lab("bogus"), "unknown command 'bogus' in dhcp-server-policy campus dhcp-pool lab"),
        (pol("network 10.0.0.0/24"), "unknown command 'network 10.0.0.0/24' in dhcp-server-policy campus"),
        // The device's use of a policy.
        ("no dhcp-server-policy campus\n".into(), "dhcp-server-policy campus is in use by device 52-54-00-E1-EE-16"),
        ("no dhcp-server-policy nope\n".into(), "dhcp-server-policy nope does not exist"),
        (format!("vx9000 {MAC1}\n use dhcp-server-policy nope\n"), "device 52-54-00-E1-EE-16: dhcp-server-policy nope does not exist"),
        // At commit: what needs the whole pool.
        (pol("dhcp-pool new"), "dhcp-server-policy campus dhcp-pool new: no network (set 'network A.B.C.D/M')"),
        (lab("no network"), "dhcp-server-policy campus dhcp-pool lab: no network"),
        (lab("network 10.1.1.0/24"), "dhcp-server-policy campus dhcp-pool lab: address range 10.1.0.100 10.1.0.199 is outside network 10.1.1.0/24"),
        (
            lab("no address range 10.1.0.100 10.1.0.199\n  network 10.1.1.0/24"),
            "dhcp-server-policy campus dhcp-pool lab: static-binding 00-11-22-33-44-55 ip 10.1.0.50 is outside network 10.1.1.0/24",
        ),
        (
            pol("dhcp-pool other\n  network 10.1.0.128/25"),
            "dhcp-server-policy campus: dhcp-pool lab (10.1.0.0/24) overlaps dhcp-pool other (10.1.0.128/25)",
        ),
        (
            pol("dhcp-pool big\n  network 10.0.0.0/8"),
            "dhcp-server-policy campus: dhcp-pool big (10.0.0.0/8) overlaps dhcp-pool guest (10.2.0.0/16)",
        ),
    ];
    for (bad, why) in &cases {
        let e = c.apply_change(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
        assert_eq!(c.to_text(), text, "{bad} changed the configuration");
    }
    // A pool's address range given before its network is checked at commit.
    let e = c
        .apply_change(&pol(
            "dhcp-pool new\n  address range 10.5.0.1 10.5.0.9\n  network 10.6.0.0/24",
        ))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dhcp-pool new: address range 10.5.0.1 10.5.0.9 is outside network 10.6.0.0/24"),
        "{e}"
    );
    assert_eq!(c.to_text(), text);
    c.apply_change(&pol(
        "dhcp-pool new\n  address range 10.5.0.1 10.5.0.9\n  network 10.5.0.0/24",
    ))
    .unwrap();
}

/// What no command sequence leaves behind, but the public types allow: the commit-time check
/// still refuses it.
#[test]
fn validation_refuses_a_pool_option_the_policy_does_not_define_or_that_does_not_fit_it() {
    let c = with_policy();
    let (_, p) = c.dhcp_policy_of(mac1()).unwrap();
    let mut undefined = p.clone();
    undefined.options.remove("controller");
    let e = crate::dhcp::validate_policy("campus", &undefined, false).unwrap_err();
    assert_eq!(
        e,
        "dhcp-server-policy campus dhcp-pool lab: option controller is not defined in the policy"
    );
    let mut retyped = p.clone();
    retyped.options.get_mut("controller").unwrap().kind = DhcpOptionType::Hex;
    let e = crate::dhcp::validate_policy("campus", &retyped, true).unwrap_err();
    assert!(
        e.contains(
            "option controller pool1=10.0.0.1;level=1 does not fit its definition (191 hex)"
        ),
        "{e}"
    );
    assert_eq!(crate::dhcp::validate_policy("campus", p, true), Ok(()));
}

#[test]
fn the_cli_types_a_pool_in_any_order_and_checks_it_at_commit() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(&mut s, &ops, &["conf t", "dhcp-server-policy campus"]);
    assert_eq!(s.prompt(&ops), "vx9000-1(config-dhcp-policy-campus)#");
    run_ok(&mut s, &ops, &["dhcp-pool lab"]);
    assert_eq!(
        s.prompt(&ops),
        "vx9000-1(config-dhcp-policy-campus-pool-lab)#"
    );
    // Ranges and statics before the network; the draft is not refused for it.
    run_ok(
        &mut s,
        &ops,
        &[
            "address range 10.1.0.100 10.1.0.199",
            "static-binding 00:11:22:33:44:55 ip 10.1.0.50",
        ],
    );
    // A commit now is refused with the reason, and nothing is sent.
    let o = s.execute("commit", &ops);
    assert!(o.error);
    assert!(
        o.text
            .contains("% Error: dhcp-server-policy campus dhcp-pool lab: no network"),
        "{}",
        o.text
    );
    assert!(ops.commits().is_empty());
    // A line the model can check alone is refused at once.
    let o = s.execute("address range 10.1.0.150 10.1.0.250", &ops);
    assert!(
        o.error
            && o.text
                .contains("overlaps address range 10.1.0.100 10.1.0.199"),
        "{}",
        o.text
    );
    let o = s.execute("lease 0", &ops);
    assert!(o.error && o.text.contains("a lease is 1 s"), "{}", o.text);
    run_ok(&mut s, &ops, &["network 10.1.0.0/24", "lease 0 8"]);
    let o = s.execute("show context", &ops);
    assert_eq!(
        o.text,
        "dhcp-pool lab\n network 10.1.0.0/24\n address range 10.1.0.100 10.1.0.199\n lease 0 8\n static-binding 00-11-22-33-44-55 ip 10.1.0.50\n"
    );
    run_ok(&mut s, &ops, &["exit"]);
    assert_eq!(s.prompt(&ops), "vx9000-1(config-dhcp-policy-campus)#");
    run_ok(
        &mut s,
        &ops,
        &["activation-criteria cluster-master", "exit"],
    );
    assert_eq!(s.prompt(&ops), "vx9000-1(config)#");
    // A device cannot name a policy that does not exist.
    run_ok(&mut s, &ops, &["self"]);
    let o = s.execute("use dhcp-server-policy nope", &ops);
    assert!(
        o.error && o.text.contains("dhcp-server-policy nope does not exist"),
        "{}",
        o.text
    );
    run_ok(&mut s, &ops, &["use dhcp-server-policy campus", "commit"]);
    assert_eq!(ops.commits().len(), 1);
    let text = ops.text();
    assert!(
        text.contains("dhcp-server-policy campus\n activation-criteria cluster-master\n dhcp-pool lab\n  network 10.1.0.0/24\n  address range 10.1.0.100 10.1.0.199\n  lease 0 8\n  static-binding 00-11-22-33-44-55 ip 10.1.0.50\n!\n"),
        "{text}"
    );
    assert!(text.contains(" use dhcp-server-policy campus\n"), "{text}");
    // Abbreviated, as everywhere.
    run_ok(
        &mut s,
        &ops,
        &[
            "exit",
            "dhcp-s campus",
            "dhcp-p lab",
            "dns 10.1.0.2",
            "commit",
        ],
    );
    assert!(ops.text().contains("  dns-server 10.1.0.2\n"));
    // The policy in use cannot go.
    run_ok(&mut s, &ops, &["exit", "exit"]);
    let o = s.execute("no dhcp-server-policy campus", &ops);
    assert!(
        o.error && o.text.contains("in use by device 52-54-00-E1-EE-16"),
        "{}",
        o.text
    );
}

/// Every token of every DHCP command has help, every path [`crate::grammar::HELP_AT`] names
/// exists, and every complete DHCP command of the grammar is one the model knows.
#[test]
fn every_dhcp_grammar_entry_has_help_and_is_known_to_the_model() {
    use crate::grammar::{grammar, Act, Kind, Node, HELP_AT};
    fn commands(n: &Node, path: &mut Vec<&'static str>, out: &mut Vec<String>) {
        for c in &n.children {
            path.push(c.name());
            if c.kw != Some("|") {
                if c.act == Some(Act::Cfg) {
                    out.push(path.join(" "));
                }
                commands(c, path, out);
            }
            path.pop();
        }
    }
    fn helps(n: &Node, path: &mut Vec<&'static str>, missing: &mut Vec<String>) {
        for c in &n.children {
            path.push(c.name());
            if c.help.is_empty() {
                missing.push(path.join(" "));
            }
            helps(c, path, missing);
            path.pop();
        }
    }
    for (kind, path, _) in HELP_AT {
        let mut node = grammar(*kind);
        for t in path.split_whitespace() {
            node = node
                .children
                .iter()
                .find(|c| c.name() == t)
                .unwrap_or_else(|| panic!("{path}: no {t}"));
        }
    }
    let dhcp = |l: &str| l.contains("dhcp-server-policy");
    for (kind, ctx, only) in [
        (Kind::DhcpPolicy, "dhcp-server-policy campus\n", None),
        (
            Kind::DhcpPool,
            "dhcp-server-policy campus\n dhcp-pool lab\n",
            None,
        ),
        (Kind::Global, "", Some(dhcp)),
        (
            Kind::Device,
            &format!("vx9000 {MAC1}\n") as &str,
            Some(dhcp),
        ),
    ] {
        let mut all = Vec::new();
        commands(grammar(kind), &mut Vec::new(), &mut all);
        let mut missing = Vec::new();
        for c in &grammar(kind).children {
            let mut p = vec![c.name()];
            if ["show", "commit", "write", "revert", "exit", "end", "do"].contains(&c.name()) {
                continue;
            }
            if c.help.is_empty() {
                missing.push(c.name().to_string());
            }
            helps(c, &mut p, &mut missing);
        }
        missing.retain(|m| only.is_none_or(|f| f(m)));
        assert!(missing.is_empty(), "{kind:?}: no help for {missing:?}");
        let indent = " ".repeat(ctx.lines().count());
        let mut checked = 0;
        for spec in all.iter().filter(|s| only.is_none_or(|f| f(s))) {
            let mut n = 0;
            let line: Vec<String> = spec
                .split_whitespace()
                .map(|t| {
                    n += 1;
                    match t {
                        "WORD" | "<value>" => "controller".to_string(),
                        "A.B.C.D" => format!("10.1.0.{}", 200 + n),
                        "A.B.C.D/M" => "10.1.0.0/24".into(),
                        "AA-BB-CC-DD-EE-FF" => "00-11-22-33-44-99".into(),
                        t if t.starts_with('<') => "1".into(),
                        t => t.to_string(),
                    }
                })
                .collect();
            let line = line.join(" ");
            let mut c = with_policy();
            if let Err(e) = c.apply_change(&format!("{ctx}{indent}{line}\n")) {
                let e = e.to_string();
                assert!(!e.contains("unknown command"), "{spec} ({line}): {e}");
            }
            checked += 1;
        }
        assert!(checked > 0, "{kind:?}");
    }
}

#[test]
fn dhcp_help_and_completion() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(&mut s, &ops, &["conf t"]);
    assert!(s
        .help("dhcp-server-policy ", &ops)
        .contains("Policy name (at most 32 characters)"));
    run_ok(&mut s, &ops, &["dhcp-server-policy campus"]);
    assert_eq!(
        s.help("activation-criteria ", &ops),
        "  cluster-master  Only the cluster master serves\n  none            Every member whose device section uses the policy serves (default)\n"
    );
    assert_eq!(
        s.complete("option x 191 a", &ops),
        Completion::Line("option x 191 ascii ".into())
    );
    run_ok(&mut s, &ops, &["dhcp-pool lab"]);
    assert_eq!(s.help("lease 1 ", &ops), "  <0-23>  Hours\n  <cr>\n");
    assert_eq!(s.help("lease 1 2 ", &ops), "  <0-59>  Minutes\n  <cr>\n");
    assert_eq!(s.help("lease 1 2 3 ", &ops), "  <0-59>  Seconds\n  <cr>\n");
    assert_eq!(
        s.help("address range 10.0.0.1 ", &ops),
        "  A.B.C.D  Last address of the range\n"
    );
    assert_eq!(
        s.help("static-binding 00-11-22-33-44-55 ip ", &ops),
        "  A.B.C.D  The address (in the network, outside the address ranges)\n"
    );
    assert!(s
        .help("default-router 10.0.0.1 ", &ops)
        .contains("Another router, in order of preference (at most 8)"));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Lines of a DHCP policy, good and bad, at any depth.
    fn dhcp_line() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            Just("dhcp-server-policy"),
            Just("dhcp-pool"),
            Just("activation-criteria"),
            Just("cluster-master"),
            Just("none"),
            Just("ping-timeout"),
            Just("bootp"),
            Just("ignore"),
            Just("option"),
            Just("ip"),
            Just("ascii"),
            Just("hex"),
            Just("network"),
            Just("address"),
            Just("range"),
            Just("default-router"),
            Just("dns-server"),
            Just("domain-name"),
            Just("lease"),
            Just("static-binding"),
            Just("no"),
            Just("p"),
            Just("q"),
            Just("191"),
            Just("00-11-22-33-44-55"),
        ]
        .prop_map(String::from);
        let tok = prop_oneof![
            4 => word,
            1 => "[0-9]{1,11}",
            2 => "10\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(/[0-9]{1,2})?",
            1 => "[0-9a-fA-F]{0,9}",
            1 => "\\PC{0,10}",
        ];
        let random = (0usize..3, proptest::collection::vec(tok, 0..7))
            .prop_map(|(depth, toks)| format!("{}{}", " ".repeat(depth), toks.join(" ")));
        prop_oneof![random, good_line()]
    }

    /// Lines of the policy `p` (one space) or of its pool (two), well formed, with values in
    /// and out of range.
    fn good_line() -> impl Strategy<Value = String> {
        let o = 0u8..=255;
        let good = prop_oneof![
            (o.clone(), o.clone(), o.clone(), o.clone())
                .prop_map(|(a, b, c, d)| format!("  address range 10.1.{a}.{b} 10.1.{c}.{d}")),
            (0u32..=366, 0u32..=24).prop_map(|(d, h)| format!("  lease {d} {h}")),
            "[!-~]{1,20}".prop_map(|v| format!("  option o {v}")),
            (any::<[u8; 6]>(), o.clone(), o.clone())
                .prop_map(|(m, a, b)| format!("  static-binding {} ip 10.1.{a}.{b}", Mac(m))),
            proptest::collection::vec(o.clone(), 1..4).prop_map(|l| format!(
                "  dns-server {}",
                l.iter()
                    .map(|a| format!("10.1.0.{a}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            (0u32..=12).prop_map(|n| format!(" ping-timeout {n}")),
            Just(" activation-criteria cluster-master".to_string()),
            Just(" bootp ignore".to_string()),
            (o.clone(), 8u8..=30)
                .prop_map(|(a, m)| format!(" dhcp-pool n{a}\n  network 10.{a}.0.0/{m}")),
        ];
        good
    }

    proptest! {
        #[test]
        fn dhcp_lines_never_panic_and_what_parses_round_trips(
            lines in proptest::collection::vec(dhcp_line(), 0..16)
        ) {
            let text = format!(
                "dhcp-server-policy p\n option o 191 ascii\n dhcp-pool q\n  network 10.1.0.0/16\n{}\n",
                lines.join("\n")
            );
            if let Ok(c) = ClusterConfig::parse(&text) {
                let canonical = c.to_text();
                let again = ClusterConfig::parse(&canonical);
                prop_assert!(again.is_ok(), "{canonical}: {again:?}");
                prop_assert_eq!(again.as_ref().ok(), Some(&c));
                prop_assert_eq!(again.map(|a| a.to_text()).ok(), Some(canonical));
            }
            let mut c = with_policy();
            let before = c.clone();
            if c.apply(&text).is_err() {
                prop_assert_eq!(c, before);
            }
        }

        #[test]
        fn well_formed_dhcp_lines_round_trip_when_they_parse(
            lines in proptest::collection::vec(good_line(), 0..12)
        ) {
            let text = format!(
                "dhcp-server-policy p\n option o 191 ascii\n dhcp-pool q\n  network 10.1.0.0/16\n{}\n",
                lines.join("\n")
            );
            if let Ok(c) = ClusterConfig::parse(&text) {
                let canonical = c.to_text();
                let again = ClusterConfig::parse(&canonical);
                prop_assert!(again.is_ok(), "{canonical}: {again:?}");
                prop_assert_eq!(again.as_ref().ok(), Some(&c));
                prop_assert_eq!(again.map(|a| a.to_text()).ok(), Some(canonical));
            }
        }
    }
}

/// The README's example (its comments taken out) is a configuration the model takes.
#[test]
fn the_readmes_dhcp_example_parses() {
    let readme = include_str!("../../../../README.md");
    let start = readme
        .find("dhcp-server-policy campus\n activation-criteria")
        .expect("the README's DHCP example");
    let block = &readme[start..readme[start..].find("```").unwrap() + start];
    let text: String = block
        .lines()
        .map(|l| l.split("   (").next().unwrap().trim_end())
        .filter(|l| !l.starts_with("vx9000") && !l.starts_with(" use "))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut c = ClusterConfig::default();
    c.apply_change(&text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let p = c.dhcp_policies().next().map(|(n, _)| n.to_string());
    assert_eq!(p.as_deref(), Some("campus"));
}
