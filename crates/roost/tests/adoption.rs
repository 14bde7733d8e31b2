//! Layer 3: APs adopted by real `roost controller` processes over real UDP, failing over when
//! the active controller dies. The APs here are a minimal CAPWAP conversation written with the
//! codec alone (no WTP code of Roost's), so what is tested is the controller.

use harness::{run, status, wait_for, wait_steady, ControllerProcess, Spec};
use roost_capwap::elements::*;
use roost_capwap::messages::*;
use roost_capwap::types::*;
use roost_capwap::{ControlMessage, ControlPacket, KeepAlive, MacAddress, MessageBody};
use roost_testkit as harness;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_roost"))
}

/// One AP: a control and a data socket on its own loopback address.
struct Ap {
    n: u8,
    control: UdpSocket,
    data: UdpSocket,
    seq: u8,
    /// The CAPWAP Timers and Vendor Specific elements of its last Configuration Status
    /// Response.
    told: Option<(CapwapTimers, Vec<VendorSpecificPayload>)>,
    /// What its Board Data and WTP Descriptor report.
    model: String,
    version: String,
}

impl Ap {
    fn new(base: [u8; 3], n: u8) -> Ap {
        let ip = Ipv4Addr::new(127, base[1], base[2], n);
        let control = UdpSocket::bind((ip, 0)).unwrap();
        let data = UdpSocket::bind((ip, 0)).unwrap();
        for s in [&control, &data] {
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
        }
        Ap {
            n,
            control,
            data,
            seq: 0,
            told: None,
            model: "AP7532".into(),
            version: "5.9.1.0".into(),
        }
    }

    fn mac(&self) -> [u8; 6] {
        [0x00, 0x23, 0x68, 0x01, 0x00, self.n]
    }

    /// Sends a request and waits for its response (one retransmission).
    fn request(&mut self, ac: Ipv4Addr, body: MessageBody) -> Option<MessageBody> {
        self.seq = self.seq.wrapping_add(1);
        let bytes = ControlPacket::new(ControlMessage::new(self.seq, body))
            .encode()
            .unwrap();
        for _ in 0..2 {
            self.control.send_to(&bytes, (ac, 5246)).unwrap();
            let mut buf = [0u8; 4096];
            while let Ok((n, _)) = self.control.recv_from(&mut buf) {
                let p = ControlPacket::decode(&buf[..n]).expect("the controller's packet decodes");
                if p.message.seq == self.seq {
                    return Some(p.message.body);
                }
            }
        }
        None
    }

    fn board(&self) -> WtpBoardData {
        WtpBoardData {
            vendor_id: roost_capwap::VENDOR_ID_EXAMPLE,
            model_number: self.model.as_bytes().to_vec(),
            serial_number: format!("T{:05}", self.n).into_bytes(),
            board_id: None,
            board_revision: None,
            base_mac: Some(MacAddress::Eui48(self.mac())),
            other: vec![],
        }
    }

    /// Join → Configure → Data Check → Run on `ac`; the Join's Result Code.
    fn adopt(&mut self, ac: Ipv4Addr) -> Result<(), ResultCode> {
        let local = match self.control.local_addr().unwrap() {
            SocketAddr::V4(a) => *a.ip(),
            _ => unreachable!(),
        };
        let radio = WtpRadioInformation {
            radio_id: 1,
            radio_type: RadioType::B | RadioType::G,
        };
        let join = JoinRequest {
            location: LocationData("lab".into()),
            board_data: self.board(),
            descriptor: WtpDescriptor {
                max_radios: 1,
                radios_in_use: 1,
                encryption: vec![EncryptionCapability {
                    wbid: 1,
                    capabilities: EncryptionCapabilities::AES_CCMP,
                }],
                hardware_version: b"1.0".to_vec(),
                active_software_version: self.version.as_bytes().to_vec(),
                boot_version: b"1.0".to_vec(),
                other_software_version: None,
                vendor_descriptors: vec![],
            },
            wtp_name: WtpName(format!("ap-{}", self.n)),
            session_id: SessionId([self.n; 16]),
            frame_tunnel_mode: WtpFrameTunnelMode::LOCAL_BRIDGING,
            mac_type: WtpMacType::Local,
            radios: vec![radio],
            ecn_support: EcnSupport::Limited,
            local_ipv4: Some(CapwapLocalIpv4Address(local)),
            local_ipv6: None,
            transport_protocol: None,
            maximum_message_length: None,
            reboot_statistics: None,
            vendor_specific: vec![],
            other_elements: vec![],
        };
        let Some(MessageBody::JoinResponse(j)) = self.request(ac, MessageBody::JoinRequest(join))
        else {
            return Err(ResultCode::JoinFailureUnspecified);
        };
        if j.result_code != ResultCode::Success {
            return Err(j.result_code);
        }
        let status = ConfigurationStatusRequest {
            ac_name: j.ac_name.clone(),
            radio_admin_states: vec![RadioAdministrativeState {
                radio_id: 0xFF,
                admin_state: AdminState::Enabled,
            }],
            statistics_timer: StatisticsTimer(120),
            reboot_statistics: WtpRebootStatistics {
                reboot_count: 0,
                ac_initiated_count: 0,
                link_failure_count: 0,
                sw_failure_count: 0,
                hw_failure_count: 0,
                other_failure_count: 0,
                unknown_failure_count: 0,
                last_failure_type: RebootFailureType::from_raw(0),
            },
            ac_names_with_priority: vec![],
            transport_protocol: None,
            static_ip: None,
            radios: vec![],
            radio_configurations: vec![],
            tx_powers: vec![],
            dsss_controls: vec![],
            ofdm_controls: vec![],
            vendor_specific: vec![],
            other_elements: vec![],
        };
        let Some(MessageBody::ConfigurationStatusResponse(c)) =
            self.request(ac, MessageBody::ConfigurationStatusRequest(status))
        else {
            return Err(ResultCode::ConfigurationFailureServiceNotProvided);
        };
        // Fallback is the cluster's decision: off until a member hands its APs back.
        assert_eq!(c.wtp_fallback, WtpFallback::Disabled);
        self.told = Some((c.timers, c.vendor_specific.clone()));
        let change = ChangeStateEventRequest {
            radio_operational_states: vec![RadioOperationalState {
                radio_id: 1,
                state: OperationalState::from_raw(1),
                cause: OperationalCause::from_raw(0),
            }],
            result_code: ResultCode::Success,
            returned_elements: vec![],
            radio_fail_alarms: vec![],
            vendor_specific: vec![],
            other_elements: vec![],
        };
        let Some(MessageBody::ChangeStateEventResponse(_)) =
            self.request(ac, MessageBody::ChangeStateEventRequest(change))
        else {
            return Err(ResultCode::InvalidInCurrentState);
        };
        let ka = KeepAlive::new(SessionId([self.n; 16])).encode().unwrap();
        for _ in 0..3 {
            self.data.send_to(&ka, (ac, 5247)).unwrap();
            let mut buf = [0u8; 512];
            if let Ok((n, _)) = self.data.recv_from(&mut buf) {
                assert_eq!(&buf[..n], &ka[..], "the keep-alive comes back unchanged");
                return Ok(());
            }
        }
        Err(ResultCode::JoinFailureUnspecified)
    }

    /// Waits (5 s at most) for the controller's next Configuration Update Request and answers
    /// it with Success.
    fn configuration_update(&mut self, ac: Ipv4Addr) -> ConfigurationUpdateRequest {
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(5);
        let (seq, update) = loop {
            assert!(Instant::now() < deadline, "no Configuration Update Request");
            let Ok((n, _)) = self.control.recv_from(&mut buf) else {
                continue;
            };
            let p = ControlPacket::decode(&buf[..n]).expect("the controller's packet decodes");
            if let MessageBody::ConfigurationUpdateRequest(u) = p.message.body {
                break (p.message.seq, u);
            }
        };
        let resp = ControlPacket::new(ControlMessage::new(
            seq,
            MessageBody::ConfigurationUpdateResponse(ConfigurationUpdateResponse {
                result_code: ResultCode::Success,
                radio_operational_states: vec![],
                vendor_specific: vec![],
                other_elements: vec![],
            }),
        ))
        .encode()
        .unwrap();
        self.control.send_to(&resp, (ac, 5246)).unwrap();
        update
    }

    fn echo(&mut self, ac: Ipv4Addr) -> bool {
        matches!(
            self.request(ac, MessageBody::EchoRequest(EchoRequest::default())),
            Some(MessageBody::EchoResponse(_))
        )
    }
}

fn start(dir: &std::path::Path, name: &str, ip: &str, mac: &str, extra: &str) -> ControllerProcess {
    let spec =
        Spec::new(name, ip, &dir.join(name)).arg(&format!("--mac {mac} --hostname {name} {extra}"));
    ControllerProcess::spawn(&bin(), spec).unwrap()
}

/// vx9000-1 alone on 127.0.0.`n` (MAC ending in `n`, 8 AAP licenses), once active.
fn active_alone(dir: &std::path::Path, n: u8) -> ControllerProcess {
    active_alone_with(dir, n, 8)
}

fn active_alone_with(dir: &std::path::Path, n: u8, licenses: u32) -> ControllerProcess {
    let c = start(
        dir,
        "vx9000-1",
        &format!("127.0.0.{n}"),
        &format!("52-54-00-E1-EE-{n}"),
        &format!("--aap-licenses {licenses}"),
    );
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (status(&c)["oper_state"] == "active").then_some(())
    })
    .expect("active");
    c
}

/// The seed's pair on 127.0.0.`first` and `first + 1`: vx9000-1 configured as the how-to's
/// primary (and `extra`) with `licenses` AAP licenses, active; vx9000-2 joined as standby.
fn seed_pair(
    dir: &std::path::Path,
    first: u8,
    licenses: u32,
    extra: &[&str],
) -> (ControllerProcess, ControllerProcess) {
    let (a, b) = (first, first + 1);
    let c1 = start(
        dir,
        "vx9000-1",
        &format!("127.0.0.{a}"),
        &format!("52-54-00-E1-EE-{a}"),
        &format!("--aap-licenses {licenses}"),
    );
    let c2 = start(
        dir,
        "vx9000-2",
        &format!("127.0.0.{b}"),
        &format!("52-54-00-3A-A1-{b}"),
        "",
    );
    let mut cmds = roost_config::howto::SEED_PRIMARY_STEPS.to_vec();
    cmds.extend_from_slice(extra);
    cmds.push("commit write");
    run(&c1, &cmds);
    let r = c2
        .exec(&[&format!(
            "join-cluster 127.0.0.{a} user admin password admin123 level 1 mode standby"
        )])
        .unwrap();
    assert!(!r.error, "{:#?}", r.outputs);
    wait_steady(&[&c1, &c2]);
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (status(&c1)["oper_state"] == "active" && status(&c2)["oper_state"] == "standby")
            .then_some(())
    })
    .expect("active and standby");
    (c1, c2)
}

/// The seed's pair (vx9000-1 active with 128 AAP licenses, vx9000-2 joined as standby), and
/// 12 APs: they adopt to the active only; the standby refuses them; when the active is killed
/// they join the standby (which has become active) from the AC list their Configuration Status
/// Response gave them, without a new discovery.
#[test]
fn aps_adopt_to_the_active_and_fail_over_to_the_standby() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c1, c2) = seed_pair(dir.path(), 71, 128, &[]);
    let (active, standby) = (Ipv4Addr::new(127, 0, 0, 71), Ipv4Addr::new(127, 0, 0, 72));
    let mut aps: Vec<Ap> = (1..=12).map(|n| Ap::new([127, 21, 0], n)).collect();
    // The standby refuses while the active serves.
    assert_eq!(
        aps[0].adopt(standby),
        Err(ResultCode::JoinFailureUnspecified)
    );
    for ap in aps.iter_mut() {
        ap.adopt(active).expect("adopted by the active");
    }
    let shown = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let t = run(&c1, &["show wireless ap"]);
        t.contains("Number of APs shown: 13").then_some(t)
    })
    .unwrap_or_else(|| run(&c1, &["show wireless ap"]));
    assert!(shown.contains("| IDX | NAME"), "{shown}");
    assert_eq!(shown.matches("| adopted ").count(), 12, "{shown}");
    assert!(shown.contains("vx9000-1"), "{shown}");
    // The standby's refusal is listed there, with its reason; and the cluster-wide AP table
    // shows it the active's APs, adopted by vx9000-1.
    let on2 = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let t = run(&c2, &["show wireless ap"]);
        (t.matches("| vx9000-1 ").count() == 12).then_some(t)
    })
    .unwrap_or_else(|| run(&c2, &["show wireless ap"]));
    assert!(on2.contains("refused"), "{on2}");
    assert_eq!(on2.matches("| vx9000-1 ").count(), 12, "{on2}");
    // The pool's books: the active's AAP count reaches the standby through hellos.
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        run(&c2, &["show cluster status"])
            .contains("AAP count                    : 12")
            .then_some(())
    })
    .expect("AAP count 12 on the standby");
    let l2 = run(&c2, &["show licenses"]);
    assert!(l2.contains("AAP license remaining        : 116"), "{l2}");
    let row = l2
        .lines()
        .find(|l| l.contains("vx9000-1") && l.contains("12.E1.EE.71"))
        .unwrap_or_else(|| panic!("{l2}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["vx9000-1", "12.E1.EE.71", "0", "0", "128", "12", "-"],
        "{l2}"
    );
    // /metrics counts them too.
    let m1 = harness::http_client()
        .unwrap()
        .get(format!("{}/metrics", c1.api_url()))
        .basic_auth("admin", Some(&c1.spec.admin_password))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(m1.contains("roost_aps{state=\"adopted\"} 12"), "{m1}");
    for ap in aps.iter_mut() {
        assert!(ap.echo(active));
    }

    // Kill the active: every AP notices (no echo answer) and joins the next AC it was given.
    c1.kill9();
    let killed = Instant::now();
    for ap in aps.iter_mut() {
        assert!(!ap.echo(active), "the active is gone");
        let adopted = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
            ap.adopt(standby).ok()
        });
        assert!(adopted.is_some(), "AP {} not adopted by the standby", ap.n);
    }
    let took = killed.elapsed();
    let t2 = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let t = run(&c2, &["show wireless ap"]);
        (t.matches("| adopted ").count() == 12).then_some(t)
    })
    .unwrap_or_else(|| run(&c2, &["show wireless ap"]));
    assert_eq!(t2.matches("| adopted ").count(), 12, "{t2}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    let st = run(&c2, &["show adoption status"]);
    assert!(st.contains("Adopting APs                 : yes"), "{st}");
    assert!(st.contains("APs adopted                  : 12"), "{st}");
}

/// `roost ap` (the fleet of simulated APs, a client of its own) against the seed's pair: 300
/// APs adopt to the active; a WLAN committed on the standby reaches every AP (through the
/// AP7532 default profile); the active is killed; every AP is in Run on the standby, each having
/// noticed the loss and re-adopted without a new discovery, and carries the WLAN again, as the
/// fleet's own JSON summary reports.
#[test]
fn a_roost_ap_fleet_fails_over_to_the_standby() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c1, c2) = seed_pair(dir.path(), 81, 512, &[]);
    let fleet = std::process::Command::new(bin())
        .args([
            "ap",
            "--count",
            "300",
            "--controller-list",
            "pool1=127.0.0.81,127.0.0.82;level=1",
            "--base-ip",
            "127.23.0.1",
            "--seed",
            "7",
            "--duration",
            "20",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut fleet = roost_testkit::KillOnDrop::new(fleet);
    let adopted = |c: &ControllerProcess, n: usize| {
        run(c, &["show adoption status"]).contains(&format!("APs adopted                  : {n}\n"))
    };
    wait_for(Duration::from_secs(8), Duration::from_millis(100), || {
        adopted(&c1, 300).then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c1, &["show adoption status"])));
    // The standby licenses the APs that fail over from the cluster-wide AP table (exactly the
    // APs it shows on the active): kill the active once the standby's copy holds all 300.
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let t = run(&c2, &["show wireless ap"]);
        (t.matches("| vx9000-1 ").count() == 300).then_some(())
    })
    .expect("the standby's copy of the AP table shows the active's 300 APs");
    // A WPA2-PSK WLAN committed on the standby: the active pushes it to its 300 APs.
    let out = run(
        &c2,
        &[
            "configure terminal",
            "wlan corp",
            "ssid Corp-Roost",
            "encryption-type ccmp",
            "wpa-wpa2 psk 0 Fleet-Passphrase-19",
            "exit",
            "profile ap7532 default-ap7532",
            "interface radio1",
            "wlan corp bss 1 primary",
            "end",
            "commit",
        ],
    );
    assert!(!out.contains("Error"), "{out}");
    let wlan_status = |c: &ControllerProcess, n: usize| {
        let t = run(c, &["show adoption status"]);
        (t.contains(&format!("WLAN changes confirmed       : {n}\n"))
            && t.contains("APs waiting for WLANs        : 0\n"))
        .then_some(())
    };
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        wlan_status(&c1, 300)
    })
    .unwrap_or_else(|| panic!("{}", run(&c1, &["show adoption status"])));
    assert!(!run(&c1, &["show running-config"]).contains("Fleet-Passphrase-19"));
    c1.kill9();
    wait_for(Duration::from_secs(5), Duration::from_millis(100), || {
        adopted(&c2, 300).then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c2, &["show adoption status"])));
    // The survivor puts the WLAN on every AP it took over.
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        wlan_status(&c2, 300)
    })
    .unwrap_or_else(|| panic!("{}", run(&c2, &["show adoption status"])));
    let out = fleet.take().wait_with_output().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(summary["in_run"], 300, "{summary:#}");
    assert_eq!(
        summary["run_per_controller"]["127.0.0.82"], 300,
        "{summary:#}"
    );
    assert_eq!(summary["wlans"]["Corp-Roost"], 300, "{summary:#}");
    assert!(
        summary["wlan_changes"]["added"].as_u64().unwrap() >= 600,
        "{summary:#}"
    );
    let readopt = &summary["time_to_readopt"];
    assert_eq!(readopt["count"], 300, "{summary:#}");
    // How fast is the bench's business (`ap_failover_readopt_max_ms`); here only a bound that
    // a loaded CI machine meets.
    assert!(
        readopt["max_ms"].as_f64().unwrap() < 10_000.0,
        "{summary:#}"
    );
}

/// Fallback after force-configured-state: a `roost ap` fleet on the seed's pair (the primary
/// with force-configured-state, delay 2 s) fails over to the standby when the primary is
/// killed; the primary comes back, the standby returns to standby after the delay and hands
/// every AP back (AC Name with Priority + WTP Fallback, then Primary Discovery: no AP reboots),
/// each out of Run only for its move.
#[test]
fn a_roost_ap_fleet_falls_back_to_its_configured_controller() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c1, c2) = seed_pair(
        dir.path(),
        91,
        256,
        &["cluster force-configured-state-delay 2 seconds"],
    );
    let fleet = std::process::Command::new(bin())
        .args([
            "ap",
            "--count",
            "200",
            "--controller-list",
            "pool1=127.0.0.91,127.0.0.92;level=1",
            "--base-ip",
            "127.24.0.1",
            "--seed",
            "9",
            "--duration",
            "25",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut fleet = roost_testkit::KillOnDrop::new(fleet);
    let adopted = |c: &ControllerProcess, n: usize| {
        run(c, &["show adoption status"]).contains(&format!("APs adopted                  : {n}\n"))
    };
    wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
        adopted(&c1, 200).then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c1, &["show adoption status"])));
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let t = run(&c2, &["show wireless ap"]);
        (t.matches("| vx9000-1 ").count() == 200).then_some(())
    })
    .expect("the standby's copy of the AP table shows the active's 200 APs");
    c1.kill9();
    wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
        adopted(&c2, 200).then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c2, &["show adoption status"])));
    // The primary returns; after the delay the standby is standby again and hands back.
    let spec = c1.spec.clone();
    let c1 = ControllerProcess::spawn(&bin(), spec).unwrap();
    wait_steady(&[&c1, &c2]);
    wait_for(Duration::from_secs(15), Duration::from_millis(100), || {
        (adopted(&c1, 200) && adopted(&c2, 0)).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "{}\n{}\n{}",
            run(&c1, &["show adoption status"]),
            run(&c2, &["show adoption status"]),
            run(&c2, &["show cluster history"])
        )
    });
    assert_eq!(status(&c2)["oper_state"], "standby");
    let st = run(&c2, &["show adoption status"]);
    let stat = |label: &str| -> u64 {
        st.lines()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(label)?
                    .trim_start()
                    .strip_prefix(':')
            })
            .unwrap_or_else(|| panic!("no {label}: {st}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert!(stat("Fallbacks confirmed") >= 200, "{st}");
    assert_eq!(stat("APs reset for fallback"), 0, "{st}");
    assert_eq!(stat("APs falling back"), 0, "{st}");
    // The standby's history: each AP adopted (after the failover), then un-adopted because
    // the primary's later claim won; the primary's device view lists all 200.
    let h = run(&c2, &["show adoption history"]);
    assert_eq!(h.matches("| adopted ").count(), 200, "{h}");
    assert_eq!(
        h.matches("another member adopted it later").count()
            + h.matches("no echo within the dead interval").count(),
        200,
        "{h}"
    );
    let conf = run(&c1, &["show wireless ap configured"]);
    assert!(conf.contains("Number of APs shown: 200"), "{conf}");
    assert_eq!(conf.matches("default-ap7532").count(), 200, "{conf}");
    let off = run(&c1, &["show adoption offline"]);
    assert!(off.contains("Number of APs shown: 0"), "{off}");
    let out = fleet.take().wait_with_output().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(summary["in_run"], 200, "{summary:#}");
    assert_eq!(
        summary["run_per_controller"]["127.0.0.91"], 200,
        "{summary:#}"
    );
    assert_eq!(summary["resets"], 0, "no AP rebooted: {summary:#}");
    let gap = &summary["time_to_fall_back"];
    eprintln!("time to fall back: {gap}");
    assert_eq!(gap["count"], 200, "{summary:#}");
    // The bench reports the figure (`ap_fallback_max_gap_ms`); here a bound a loaded CI
    // machine meets.
    assert!(gap["max_ms"].as_f64().unwrap() < 5_000.0, "{summary:#}");
}

/// The rows of `show licenses`' lost-members table: (hostname, AAP, lost since).
fn lost_license_rows(text: &str) -> Vec<(String, String, String)> {
    let Some(table) = text.split("Lost Members").nth(1) else {
        return Vec::new();
    };
    table
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 8 && f[0].starts_with("vx9000")).then(|| {
                (
                    f[0].to_string(),
                    f[3].to_string(),
                    format!("{} {}", f[4], f[5]),
                )
            })
        })
        .collect()
}

/// WiNG's license grace period: when the active (the member with the licenses) dies, its 128
/// AAP licenses stay in the pool on the survivor; they still do after the survivor restarts
/// (the lost member and its time of loss are in the survivor's store); a shorter `license
/// grace-period` ends the grace at once for a member lost longer ago, and that too survives a
/// restart, while `show cluster members` keeps listing the member as down.
#[test]
fn a_lost_members_licenses_stay_in_the_pool_for_the_grace_period_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c1, mut c2) = seed_pair(dir.path(), 65, 128, &[]);
    let aap =
        |c: &ControllerProcess| c.get_json("/api/v1/licenses").unwrap()["aap_licenses"].clone();
    assert_eq!(aap(&c2), 128);
    c1.kill9();
    let rows = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let rows = lost_license_rows(&run(&c2, &["show licenses"]));
        (!rows.is_empty()).then_some(rows)
    })
    .unwrap_or_else(|| panic!("{}", run(&c2, &["show licenses"])));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str()),
        ("vx9000-1", "128")
    );
    assert_eq!(aap(&c2), 128, "the lost member's licenses stay in the pool");

    let restart = |c: &mut ControllerProcess| {
        c.terminate();
        *c = start(
            dir.path(),
            "vx9000-2",
            "127.0.0.66",
            "52-54-00-3A-A1-66",
            "",
        );
    };
    restart(&mut c2);
    // The API answers from the first published snapshot, which may come before the member
    // task restored the lost members: wait (bounded) for it.
    let after = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let rows = lost_license_rows(&run(&c2, &["show licenses"]));
        (!rows.is_empty()).then_some(rows)
    })
    .unwrap_or_default();
    assert_eq!(
        after, rows,
        "the same member, lost at the same time, after a restart"
    );
    assert_eq!(aap(&c2), 128);
    let members = run(&c2, &["show cluster members"]);
    assert!(members.contains("vx9000-1"), "{members}");

    // Lost longer ago than a grace period of 1 s: its licenses leave the pool now.
    let out = run(
        &c2,
        &[
            "configure terminal",
            "license grace-period 1 seconds",
            "commit write",
        ],
    );
    assert!(!out.contains('%'), "{out}");
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        (aap(&c2) == 0).then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c2, &["show licenses"])));
    assert!(lost_license_rows(&run(&c2, &["show licenses"])).is_empty());
    restart(&mut c2);
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (status(&c2)["oper_state"] == "active").then_some(())
    })
    .expect("the restarted member runs");
    assert_eq!(aap(&c2), 0, "the grace period's end survives a restart");
    let members = run(&c2, &["show cluster members"]);
    assert!(
        members.contains("vx9000-1"),
        "still listed as down: {members}"
    );
    // Out of range: refused, nothing changes.
    let r = c2
        .exec(&["configure terminal", "license grace-period 101"])
        .unwrap();
    assert!(r.error);
    assert!(
        r.text()
            .contains("license grace-period (days) 101 is out of range <0-100>"),
        "{}",
        r.text()
    );
    assert!(run(&c2, &["show running-config"]).contains("license grace-period 1 seconds"));
}

/// A profile's `capwap` timers reach its model's APs: in the Configuration Status Response,
/// and, when an operator changes them, in a Configuration Update Request to every AP in Run;
/// so does the hostname an operator gives one AP in its device section (WTP Name).
/// This AP is a foreign WTP (it announces no Roost fast timers), so it is sent none.
#[test]
fn a_profiles_capwap_timers_reach_its_aps_and_a_change_is_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let c = active_alone(dir.path(), 67);
    run(
        &c,
        &[
            "configure terminal",
            "profile ap7532 default-ap7532",
            "capwap echo-interval 7",
            "capwap discovery-interval 3",
            "commit write",
        ],
    );
    let ac = Ipv4Addr::new(127, 0, 0, 67);
    let mut ap = Ap::new([127, 21, 7], 1);
    ap.adopt(ac).expect("adopted");
    let (timers, vendor) = ap.told.clone().unwrap();
    assert_eq!(
        timers,
        CapwapTimers {
            discovery: 3,
            echo_request: 7
        }
    );
    assert!(
        vendor.is_empty(),
        "no Roost element for a foreign WTP: {vendor:?}"
    );

    run(
        &c,
        &[
            "configure terminal",
            "profile ap7532 default-ap7532",
            "capwap echo-interval 9",
            "commit write",
        ],
    );
    let update = ap.configuration_update(ac);
    assert_eq!(
        update.timers,
        Some(CapwapTimers {
            discovery: 3,
            echo_request: 9
        })
    );
    assert!(ap.echo(ac), "still in Run after the update");
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        run(&c, &["show adoption status"])
            .lines()
            .any(|l| l.contains("Timer updates sent") && l.trim_end().ends_with(": 1"))
            .then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c, &["show adoption status"])));
    // The operator names the AP: it is told its WTP Name, and shown under it once it took it.
    run(
        &c,
        &[
            "configure terminal",
            "ap7532 00-23-68-01-00-01",
            "hostname lobby-1",
            "commit write",
        ],
    );
    let update = ap.configuration_update(ac);
    assert_eq!(update.wtp_name, Some(WtpName("lobby-1".into())));
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        run(&c, &["show wireless ap"])
            .contains("| lobby-1 ")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c, &["show wireless ap"])));
    let conf = run(&c, &["show wireless ap configured"]);
    assert!(conf.contains("| lobby-1 "), "{conf}");
    // A bad value is refused with the reason and changes nothing.
    let r = c
        .exec(&[
            "configure terminal",
            "profile ap7532 default-ap7532",
            "capwap fast-timers echo 1000 retransmit 900 count 2",
        ])
        .unwrap();
    assert!(r.error);
    assert!(
        r.text().contains("at most half the echo interval"),
        "{}",
        r.text()
    );
    let running = run(&c, &["show running-config"]);
    assert!(running.contains(" capwap echo-interval 9\n"), "{running}");
    assert!(!running.contains("fast-timers"), "{running}");
}

/// An auto-provisioning policy on a real controller: an AP in the denied MAC range is
/// refused with Unknown Source and listed with the rule that matched, the others adopt
/// (default-adoption).
#[test]
fn an_auto_provisioning_policy_denies_a_mac_range() {
    let dir = tempfile::tempdir().unwrap();
    let c = active_alone(dir.path(), 68);
    run(
        &c,
        &[
            "configure terminal",
            "auto-provisioning-policy campus",
            "deny anyap precedence 10 mac 00-23-68-01-00-01 00-23-68-01-00-02",
            "default-adoption",
            "exit",
            "self",
            "use auto-provisioning-policy campus",
            "commit write",
        ],
    );
    let ac = Ipv4Addr::new(127, 0, 0, 68);
    let mut aps: Vec<Ap> = (1..=3).map(|n| Ap::new([127, 21, 8], n)).collect();
    assert_eq!(aps[0].adopt(ac), Err(ResultCode::JoinFailureUnknownSource));
    assert_eq!(aps[1].adopt(ac), Err(ResultCode::JoinFailureUnknownSource));
    aps[2].adopt(ac).expect("not in the range: adopted");
    let offline = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let t = run(&c, &["show adoption offline"]);
        let n = t
            .matches("denied by auto-provisioning-policy campus rule 10")
            .count();
        (n == 2).then_some(t)
    })
    .unwrap_or_else(|| panic!("{}", run(&c, &["show adoption offline"])));
    assert!(offline.contains("00-23-68-01-00-01"), "{offline}");
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let t = run(&c, &["show wireless ap"]);
        (t.matches("| adopted ").count() == 1 && t.matches("| refused ").count() == 2).then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c, &["show wireless ap"])));
    let api = c.get_json("/api/v1/aps").unwrap();
    let refused: Vec<&serde_json::Value> = api
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "refused")
        .collect();
    assert_eq!(refused.len(), 2, "{api:#}");
    assert_eq!(
        refused[0]["reason"],
        "denied by auto-provisioning-policy campus rule 10"
    );
}

/// The firmware gate at each of WiNG's levels: APs whose version differs from `ap-firmware`
/// in the build suffix, the fourth, third or second part are refused from the level that
/// compares that part, and listed with the reason; a model with no version configured passes.
#[test]
fn the_firmware_gate_refuses_a_mismatch_at_each_level() {
    let dir = tempfile::tempdir().unwrap();
    let c = active_alone_with(dir.path(), 69, 16);
    run(
        &c,
        &[
            "configure terminal",
            "ap-firmware ap7532 5.9.3.0-010D",
            "commit write",
        ],
    );
    let ac = Ipv4Addr::new(127, 0, 0, 69);
    let versions = [
        "5.9.3.0-011R",
        "5.9.3.1-010D",
        "5.9.4.0-010D",
        "5.8.3.0-010D",
    ];
    // Per level, which of the four pass.
    let levels = [
        ("strict", [false, false, false, false]),
        ("full", [true, false, false, false]),
        ("minor", [true, true, false, false]),
        ("major", [true, true, true, false]),
        ("none", [true, true, true, true]),
    ];
    let mut n = 0u8;
    for (level, pass) in levels {
        run(
            &c,
            &[
                "configure terminal",
                &format!("enforce-version adoption {level}"),
                "commit",
            ],
        );
        for (v, want) in versions.iter().zip(pass) {
            n += 1;
            let mut ap = Ap::new([127, 21, 9], n);
            ap.version = v.to_string();
            let got = ap.adopt(ac);
            if want {
                got.unwrap_or_else(|e| panic!("{v} at {level}: {e:?}"));
            } else {
                assert_eq!(
                    got,
                    Err(ResultCode::JoinFailureUnspecified),
                    "{v} at {level}"
                );
            }
        }
    }
    let strict_refusals = "does not match 5.9.3.0-010D (enforce-version adoption strict)";
    let t = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let t = run(&c, &["show adoption offline"]);
        (t.matches("does not match 5.9.3.0-010D").count() == 10).then_some(t)
    })
    .unwrap_or_else(|| panic!("{}", run(&c, &["show adoption offline"])));
    assert_eq!(t.matches(strict_refusals).count(), 4, "{t}");
    assert!(t.contains("firmware \"5.8.3.0-010D\""), "{t}");
    let w = run(&c, &["show wireless ap"]);
    assert_eq!(w.matches("| refused ").count(), 10, "{w}");
    // Another model has no version configured: it passes even at strict.
    run(
        &c,
        &[
            "configure terminal",
            "enforce-version adoption strict",
            "commit",
        ],
    );
    let mut other = Ap::new([127, 21, 9], 100);
    other.model = "AP8533".into();
    other.adopt(ac).expect("no ap-firmware for AP8533: adopted");
    // Bad input changes nothing.
    for (bad, says) in [
        ("ap-firmware ap9999 1.0", "unknown AP model 'ap9999'"),
        ("enforce-version adoption loose", "loose"),
        (
            "no ap-firmware ap8533",
            "no ap-firmware is configured for ap8533",
        ),
    ] {
        let r = c.exec(&["configure terminal", bad]).unwrap();
        assert!(r.error, "{bad}");
        assert!(r.text().contains(says), "{bad}: {}", r.text());
    }
    assert!(run(&c, &["show running-config"]).contains("ap-firmware ap7532 5.9.3.0-010D"));
}

/// The number after `label :` in `show adoption status`.
fn stat_of(text: &str, label: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.trim_start()
                .strip_prefix(label)?
                .trim_start()
                .strip_prefix(':')
        })
        .unwrap_or_else(|| panic!("no {label}: {text}"))
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{label}: {e}: {text}"))
}

fn fleet(count: &str, list: &str, base: &str, seed: &str, secs: &str) -> roost_testkit::KillOnDrop {
    fleet_with(count, list, base, seed, secs, &[])
}

/// [`fleet`] with more `roost ap` arguments (`--model AP8533:50`, …).
fn fleet_with(
    count: &str,
    list: &str,
    base: &str,
    seed: &str,
    secs: &str,
    extra: &[&str],
) -> roost_testkit::KillOnDrop {
    let child = std::process::Command::new(bin())
        .args([
            "ap",
            "--count",
            count,
            "--controller-list",
            list,
            "--base-ip",
            base,
            "--seed",
            seed,
            "--duration",
            secs,
            "--json",
        ])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    roost_testkit::KillOnDrop::new(child)
}

/// Active/Active load balancing with real processes: 200 `roost ap` APs on an RFS6000 (256
/// APs), a second RFS6000 joins as active, and the first moves APs to it (AC Name with
/// Priority + WTP Fallback: no AP reboots) until the spread is within the threshold. Then the
/// first member's load oscillates (30 more APs that know only it come and go): it moves other
/// APs, the second never moves any back (each AP it got is held down), and no AP moves twice.
#[test]
fn a_joining_member_takes_its_share_and_an_oscillating_load_does_not_flap() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Ipv4Addr::new(127, 0, 0, 97), Ipv4Addr::new(127, 0, 0, 98));
    let c1 = start(
        dir.path(),
        "rfs6000-1",
        &a.to_string(),
        "52-54-00-E1-EE-97",
        "--model rfs6000 --aap-licenses 400",
    );
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (status(&c1)["oper_state"] == "active").then_some(())
    })
    .expect("active");
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster name BALANCE",
            "cluster mode active",
            "cluster master-priority 250",
            "commit write",
        ],
    );
    let list = format!("pool1={a},{b};level=1");
    let mut main = fleet("200", &list, "127.25.0.1", "11", "45");
    wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
        (stat_of(&run(&c1, &["show adoption status"]), "APs adopted") == 200).then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c1, &["show adoption status"])));
    let c2 = start(
        dir.path(),
        "rfs6000-2",
        &b.to_string(),
        "52-54-00-3A-A1-98",
        "--model rfs6000",
    );
    let r = c2
        .exec(&[&format!(
            "join-cluster {a} user admin password admin123 level 1 mode active"
        )])
        .unwrap();
    assert!(!r.error, "{:#?}", r.outputs);
    wait_steady(&[&c1, &c2]);
    // Balanced: within 10 % of 256 (25 APs), the first member moved them in one round.
    let balanced = |c1s: &str, c2s: &str| {
        let (n1, n2) = (stat_of(c1s, "APs adopted"), stat_of(c2s, "APs adopted"));
        n1 + n2 == 200
            && n1.abs_diff(n2) <= 25
            && c1s.contains("Moving from this member      : none")
    };
    let (s1, s2) = wait_for(Duration::from_secs(20), Duration::from_millis(200), || {
        let (s1, s2) = (
            run(&c1, &["show adoption status"]),
            run(&c2, &["show adoption status"]),
        );
        balanced(&s1, &s2).then_some((s1, s2))
    })
    .unwrap_or_else(|| {
        panic!(
            "{}\n{}",
            run(&c1, &["show adoption status"]),
            run(&c2, &["show adoption status"])
        )
    });
    assert!(
        s1.contains("AP load balancing            : on (threshold 10%, hold-down 600 s)"),
        "{s1}"
    );
    assert!(s1.contains("Balancing move               : none"), "{s1}");
    let moved_first = stat_of(&s1, "APs moved by balancing");
    assert!(moved_first >= 75, "{s1}");
    assert_eq!(stat_of(&s1, "APs reset for fallback"), 0, "{s1}");
    assert_eq!(stat_of(&s2, "Balancing rounds"), 0, "{s2}");
    // The load oscillates: 30 APs that know only the first member come and go, twice.
    for (round, (base, seed)) in [("127.25.1.1", "12"), ("127.25.2.1", "13")]
        .iter()
        .enumerate()
    {
        // Another seed, other MACs: each round's APs are new APs.
        let mut extra = fleet("30", &format!("pool1={a};level=1"), base, seed, "8");
        wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
            let n1 = stat_of(&run(&c1, &["show adoption status"]), "APs adopted");
            let n2 = stat_of(&run(&c2, &["show adoption status"]), "APs adopted");
            (n1 + n2 == 230).then_some(())
        })
        .unwrap_or_else(|| panic!("round {round}: {}", run(&c1, &["show adoption status"])));
        let _ = extra.take().wait_with_output();
        // Gone (silent for the dead interval): back to 200.
        wait_for(Duration::from_secs(20), Duration::from_millis(200), || {
            let n1 = stat_of(&run(&c1, &["show adoption status"]), "APs adopted");
            let n2 = stat_of(&run(&c2, &["show adoption status"]), "APs adopted");
            (n1 + n2 == 200).then_some(())
        })
        .unwrap_or_else(|| panic!("round {round}: {}", run(&c2, &["show adoption status"])));
    }
    let s2 = run(&c2, &["show adoption status"]);
    assert_eq!(
        stat_of(&s2, "Balancing rounds"),
        0,
        "the second moved APs back: {s2}\n{}\n{}",
        run(&c2, &["show adoption history"]),
        run(&c1, &["show adoption history"]),
    );
    // No AP moved twice: the first member's moves name distinct APs, the second made none.
    let h1 = run(&c1, &["show adoption history"]);
    let moved: Vec<&str> = h1
        .lines()
        .filter(|l| l.contains("moved to rfs6000-2 by AP load balancing"))
        .collect();
    let macs: std::collections::HashSet<String> = moved
        .iter()
        .filter_map(|l| {
            l.split('|')
                .map(str::trim)
                .find(|f| f.starts_with("02-"))
                .map(str::to_string)
        })
        .collect();
    assert!(moved.len() as u64 >= moved_first, "{h1}");
    assert!(
        moved.iter().all(|l| l.contains("| AP7532 ")),
        "a move's history line names the AP: {h1}"
    );
    if macs.len() != moved.len() {
        let mut seen = std::collections::HashMap::new();
        for l in &moved {
            let m = l
                .split('|')
                .map(str::trim)
                .find(|f| f.starts_with("02-"))
                .unwrap_or("")
                .to_string();
            *seen.entry(m).or_insert(0) += 1;
        }
        let twice: Vec<&String> = seen
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(m, _)| m)
            .collect();
        let h2 = run(&c2, &["show adoption history"]);
        let about = |h: &str| -> String {
            h.lines()
                .filter(|l| twice.iter().any(|m| l.contains(m.as_str())))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "moved twice: {twice:?}\nc1:\n{}\nc2:\n{}",
            about(&h1),
            about(&h2)
        );
    }
    assert!(!run(&c2, &["show adoption history"]).contains("by AP load balancing"));
    let out = main.take().wait_with_output().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(summary["in_run"], 200, "{summary:#}");
    assert_eq!(summary["resets"], 0, "{summary:#}");
    // Out of Run only for its move: the bench measures it; here a bound a loaded CI meets.
    let gap = &summary["time_to_fall_back"];
    assert!(gap["max_ms"].as_f64().unwrap() < 5_000.0, "{summary:#}");
}

/// A redirect rule sends APs to another controller: `roost ap` APs that know only the first
/// controller are refused with an AC IPv4 List naming the second, join it and stay in Run
/// there; the first lists them as redirected with the rule.
#[test]
fn a_redirect_rule_sends_roost_aps_to_another_controller() {
    let dir = tempfile::tempdir().unwrap();
    let c1 = active_alone(dir.path(), 99);
    let d2 = dir.path().join("other");
    std::fs::create_dir_all(&d2).unwrap();
    let c2 = start(
        &d2,
        "vx9000-9",
        "127.0.0.100",
        "52-54-00-3A-A1-64",
        "--aap-licenses 8",
    );
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (status(&c2)["oper_state"] == "active").then_some(())
    })
    .expect("the other controller active");
    run(
        &c1,
        &[
            "configure terminal",
            "auto-provisioning-policy steer",
            "redirect anyap precedence 10 controller 127.0.0.100 any",
            "exit",
            "self",
            "use auto-provisioning-policy steer",
            "commit write",
        ],
    );
    let mut f = fleet("6", "pool1=127.0.0.99;level=1", "127.25.3.1", "21", "10");
    wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
        (stat_of(&run(&c2, &["show adoption status"]), "APs adopted") == 6).then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c1, &["show adoption offline"])));
    let said = "redirected to 127.0.0.100 by auto-provisioning-policy steer rule 10";
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let t = run(&c1, &["show adoption offline"]);
        (t.matches(said).count() == 6).then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c1, &["show adoption offline"])));
    assert_eq!(
        stat_of(&run(&c1, &["show adoption status"]), "APs adopted"),
        0
    );
    let summary = {
        let out = f.take().wait_with_output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(
        summary["run_per_controller"]["127.0.0.100"], 6,
        "{summary:#}"
    );
}

/// An adopt rule with a profile, by model, on a real controller: `roost ap` AP7532s that rule
/// 10 maps to the `lab` profile carry its WLAN; AP8533s, adopted by a rule that names no
/// profile, carry their model's default profile's WLAN; the API shows each AP's profile.
#[test]
fn an_adopt_rule_maps_an_ap_model_to_its_profile() {
    let dir = tempfile::tempdir().unwrap();
    let c = active_alone_with(dir.path(), 64, 32);
    let out = run(
        &c,
        &[
            "configure terminal",
            "wlan corp",
            "ssid Corp-Default",
            "exit",
            "wlan lab",
            "ssid Lab-Profile",
            "exit",
            "profile ap7532 default-ap7532",
            "interface radio1",
            "wlan corp bss 1",
            "exit",
            "exit",
            "profile ap8533 default-ap8533",
            "interface radio1",
            "wlan corp bss 1",
            "exit",
            "exit",
            "profile ap7532 lab",
            "interface radio1",
            "wlan lab bss 1",
            "exit",
            "exit",
            "auto-provisioning-policy campus",
            "adopt ap7532 precedence 10 profile lab any",
            "adopt ap8533 precedence 20 any",
            "exit",
            "self",
            "use auto-provisioning-policy campus",
            "commit write",
        ],
    );
    assert!(!out.contains("Error"), "{out}");
    // A rule may name only an existing profile of its own model: refused, nothing changed.
    let before = run(&c, &["show running-config"]);
    let r = c
        .exec(&[
            "configure terminal",
            "auto-provisioning-policy campus",
            "adopt ap8533 precedence 30 profile lab any",
            "commit",
        ])
        .unwrap();
    assert!(r.error);
    assert!(
        r.outputs[2]
            .output
            .contains("profile lab is a ap7532 profile, not ap8533"),
        "{:?}",
        r.outputs
    );
    assert_eq!(run(&c, &["show running-config"]), before);
    let mut f = fleet_with(
        "8",
        "pool1=127.0.0.64;level=1",
        "127.25.4.1",
        "31",
        "8",
        &["--model", "AP7532:50", "--model", "AP8533:50"],
    );
    let rows = wait_for(Duration::from_secs(8), Duration::from_millis(100), || {
        let api = c.get_json("/api/v1/aps").ok()?;
        let rows: Vec<(String, String)> = api
            .as_array()?
            .iter()
            .filter(|r| r["state"] == "adopted")
            .map(|r| {
                (
                    r["model"].as_str().unwrap_or("").to_string(),
                    r["profile"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        (rows.len() == 8).then_some(rows)
    })
    .unwrap_or_else(|| panic!("{}", run(&c, &["show wireless ap"])));
    let n7532 = rows.iter().filter(|(m, _)| m == "AP7532").count();
    assert!(n7532 > 0 && n7532 < 8, "both models in the fleet: {rows:?}");
    for (model, profile) in &rows {
        let want = if model == "AP7532" {
            "lab"
        } else {
            "default-ap8533"
        };
        assert_eq!(profile, want, "{rows:?}");
    }
    let summary = {
        let out = f.take().wait_with_output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(summary["in_run"], 8, "{summary:#}");
    assert_eq!(
        summary["wlans"]["Lab-Profile"].as_u64(),
        Some(n7532 as u64),
        "{summary:#}"
    );
    assert_eq!(
        summary["wlans"]["Corp-Default"].as_u64(),
        Some(8 - n7532 as u64),
        "{summary:#}"
    );
}

/// WiNG's `adoption start-delay` with real processes: the seed's pair, `adoption start-delay
/// min 1 max 3` in the AP7532 default profile, and a cold start of 40 `roost ap` APs: each
/// waits a time in [1, 3] s before its Join (the times spread), all adopt; the active is
/// killed and every AP re-adopts on the survivor without waiting again.
#[test]
fn a_cold_start_spreads_over_the_start_delay_and_a_failover_never_waits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c1, c2) = seed_pair(dir.path(), 86, 64, &[]);
    let out = run(
        &c1,
        &[
            "configure terminal",
            "profile ap7532 default-ap7532",
            "adoption start-delay min 1 max 3",
            "commit write",
        ],
    );
    assert!(!out.contains("Error"), "{out}");
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        run(&c2, &["show running-config"])
            .contains(" adoption start-delay min 1 max 3\n")
            .then_some(())
    })
    .expect("the standby has the profile");
    let mut f = fleet(
        "40",
        "pool1=127.0.0.86,127.0.0.87;level=1",
        "127.25.5.1",
        "41",
        "12",
    );
    let adopted = |c: &ControllerProcess, n: u64| {
        (stat_of(&run(c, &["show adoption status"]), "APs adopted") == n).then_some(())
    };
    wait_for(Duration::from_secs(12), Duration::from_millis(100), || {
        adopted(&c1, 40)
    })
    .unwrap_or_else(|| panic!("{}", run(&c1, &["show adoption status"])));
    wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let t = run(&c2, &["show wireless ap"]);
        (t.matches("| vx9000-1 ").count() == 40).then_some(())
    })
    .expect("the standby's copy of the AP table shows the 40 APs");
    c1.kill9();
    wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
        adopted(&c2, 40)
    })
    .unwrap_or_else(|| panic!("{}", run(&c2, &["show adoption status"])));
    let summary = {
        let out = f.take().wait_with_output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let delays = &summary["start_delays"];
    assert_eq!(delays["count"], 40, "each AP waited once: {summary:#}");
    let (min, max) = (
        delays["min_ms"].as_f64().unwrap(),
        delays["max_ms"].as_f64().unwrap(),
    );
    assert!(
        min >= 1000.0 && max <= 3000.0 && max - min > 500.0,
        "{summary:#}"
    );
    assert!(
        summary["time_to_adopt"]["min_ms"].as_f64().unwrap() >= 1000.0,
        "{summary:#}"
    );
    assert_eq!(summary["time_to_readopt"]["count"], 40, "{summary:#}");
    assert_eq!(summary["in_run"], 40, "{summary:#}");
    assert_eq!(
        summary["run_per_controller"]["127.0.0.87"], 40,
        "{summary:#}"
    );
}
