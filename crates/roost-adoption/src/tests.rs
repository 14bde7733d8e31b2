//! Layer-1 tests of the AC core: a hand-built WTP conversation (messages made with the codec,
//! not with any WTP code), simulated time, exact outputs decoded back.

use super::*;
use proptest::prelude::*;

const AC_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 12);

fn ms(n: u64) -> Instant {
    Duration::from_millis(n)
}

fn settings() -> AcSettings {
    let mut s = AcSettings::new("vx9000-1", AC_IP);
    s.ac_list = vec![AC_IP, PEER_IP];
    s.software_version = "5.9.1.0".into();
    s
}

fn serving(aap: u32) -> Admission {
    Admission {
        serving: true,
        ap_licenses: 0,
        aap_licenses: aap,
        capacity: 10,
        grace: Default::default(),
        grace_profiles: Default::default(),
        reserved: Default::default(),
        reserved_macs: Default::default(),
    }
}

fn ac(aap: u32) -> Adoption {
    let mut a = Adoption::new(settings());
    a.handle_admission(serving(aap), ms(0));
    a
}

fn ap_addr(n: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 20, 0, n)), 40_000)
}

fn data_addr(n: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 20, 0, n)), 40_001)
}

fn mac(n: u8) -> Mac {
    Mac([0x00, 0x23, 0x68, 0x00, 0x00, n])
}

fn board(n: u8, model: &str) -> WtpBoardData {
    WtpBoardData {
        vendor_id: roost_capwap::VENDOR_ID_EXAMPLE,
        model_number: model.as_bytes().to_vec(),
        serial_number: format!("SIM{n:04}").into_bytes(),
        board_id: None,
        board_revision: None,
        base_mac: Some(roost_capwap::MacAddress::Eui48(mac(n).0)),
        other: vec![],
    }
}

fn descriptor() -> WtpDescriptor {
    WtpDescriptor {
        max_radios: 1,
        radios_in_use: 1,
        encryption: vec![EncryptionCapability {
            wbid: 1,
            capabilities: EncryptionCapabilities::AES_CCMP,
        }],
        hardware_version: b"1.0".to_vec(),
        active_software_version: b"5.9.1.0".to_vec(),
        boot_version: b"1.0".to_vec(),
        other_software_version: None,
        vendor_descriptors: vec![],
    }
}

fn radio() -> WtpRadioInformation {
    WtpRadioInformation {
        radio_id: 1,
        radio_type: RadioType::B | RadioType::G,
    }
}

fn packet(seq: u8, body: MessageBody) -> Vec<u8> {
    encode(seq, body).expect("encodes")
}

fn discovery(n: u8) -> Vec<u8> {
    packet(
        0,
        MessageBody::DiscoveryRequest(DiscoveryRequest {
            discovery_type: DiscoveryType::Static,
            board_data: board(n, "AP7532"),
            descriptor: descriptor(),
            frame_tunnel_mode: WtpFrameTunnelMode::LOCAL_BRIDGING,
            mac_type: WtpMacType::Local,
            radios: vec![radio()],
            mtu_discovery_padding: None,
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    )
}

fn session_id(n: u8) -> [u8; 16] {
    [n; 16]
}

fn join(seq: u8, n: u8, model: &str) -> Vec<u8> {
    packet(
        seq,
        MessageBody::JoinRequest(JoinRequest {
            location: LocationData("lab".into()),
            board_data: board(n, model),
            descriptor: descriptor(),
            wtp_name: WtpName(format!("ap{n}")),
            session_id: SessionId(session_id(n)),
            frame_tunnel_mode: WtpFrameTunnelMode::LOCAL_BRIDGING,
            mac_type: WtpMacType::Local,
            radios: vec![radio()],
            ecn_support: EcnSupport::Limited,
            local_ipv4: Some(CapwapLocalIpv4Address(Ipv4Addr::new(127, 20, 0, n))),
            local_ipv6: None,
            transport_protocol: None,
            maximum_message_length: None,
            reboot_statistics: None,
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    )
}

fn configuration_status(seq: u8) -> Vec<u8> {
    packet(
        seq,
        MessageBody::ConfigurationStatusRequest(ConfigurationStatusRequest {
            ac_name: AcName("vx9000-1".into()),
            radio_admin_states: vec![
                RadioAdministrativeState {
                    radio_id: 0xFF,
                    admin_state: AdminState::Enabled,
                },
                RadioAdministrativeState {
                    radio_id: 1,
                    admin_state: AdminState::Enabled,
                },
            ],
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
        }),
    )
}

fn change_state(seq: u8) -> Vec<u8> {
    packet(
        seq,
        MessageBody::ChangeStateEventRequest(ChangeStateEventRequest {
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
        }),
    )
}

fn echo(seq: u8) -> Vec<u8> {
    packet(seq, MessageBody::EchoRequest(EchoRequest::default()))
}

fn keep_alive(n: u8) -> Vec<u8> {
    KeepAlive::new(SessionId(session_id(n))).encode().unwrap()
}

fn drain(a: &mut Adoption) -> Vec<AdoptionOutput> {
    std::iter::from_fn(|| a.poll_output()).collect()
}

/// The control messages in `outs` sent to `to`, decoded.
fn replies(outs: &[AdoptionOutput], to: SocketAddr) -> Vec<ControlMessage> {
    outs.iter()
        .filter_map(|o| match o {
            AdoptionOutput::Control { to: t, datagram } if *t == to => {
                Some(ControlPacket::decode(datagram).unwrap().message)
            }
            _ => None,
        })
        .collect()
}

fn events(outs: &[AdoptionOutput]) -> Vec<AdoptionEvent> {
    outs.iter()
        .filter_map(|o| match o {
            AdoptionOutput::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// AP `n` from Join to Run at `t`; returns what the AC emitted at each step.
fn adopt(a: &mut Adoption, n: u8, t: Instant) -> Vec<Vec<AdoptionOutput>> {
    let mut steps = vec![];
    a.handle_control(ap_addr(n), &join(1, n, "AP7532"), t);
    steps.push(drain(a));
    a.handle_control(ap_addr(n), &configuration_status(2), t);
    steps.push(drain(a));
    a.handle_control(ap_addr(n), &change_state(3), t);
    steps.push(drain(a));
    a.handle_data(data_addr(n), &keep_alive(n), t);
    steps.push(drain(a));
    steps
}

#[test]
fn discovery_advertises_load_and_is_answered_once_per_holddown() {
    let mut a = ac(10);
    a.handle_control(ap_addr(1), &discovery(1), ms(0));
    let out = drain(&mut a);
    let r = replies(&out, ap_addr(1));
    assert_eq!(r.len(), 1);
    let MessageBody::DiscoveryResponse(d) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(d.ac_name.0, "vx9000-1");
    assert_eq!(
        (d.ac_descriptor.active_wtps, d.ac_descriptor.max_wtps),
        (0, 10)
    );
    assert_eq!(
        d.control_ipv4,
        vec![CapwapControlIpv4Address {
            address: AC_IP,
            wtp_count: 0
        }]
    );
    assert_eq!(d.radios, vec![radio()]);
    // A second one from the same address within the hold-down: no answer (no amplifier).
    a.handle_control(ap_addr(1), &discovery(1), ms(500));
    assert!(drain(&mut a).is_empty());
    a.handle_control(ap_addr(1), &discovery(1), ms(1000));
    assert_eq!(drain(&mut a).len(), 1);
    assert_eq!(a.counters().discovery_suppressed, 1);
}

#[test]
fn a_standby_does_not_answer_discovery_and_refuses_a_join() {
    let mut a = Adoption::new(settings());
    a.handle_admission(
        Admission {
            serving: false,
            ..serving(10)
        },
        ms(0),
    );
    a.handle_control(ap_addr(1), &discovery(1), ms(0));
    assert!(drain(&mut a).is_empty());
    a.handle_control(ap_addr(1), &join(1, 1, "AP7532"), ms(0));
    let out = drain(&mut a);
    let r = replies(&out, ap_addr(1));
    let MessageBody::JoinResponse(j) = &r[0].body else {
        panic!()
    };
    assert_eq!(j.result_code, ResultCode::JoinFailureUnspecified);
    assert_eq!(
        events(&out),
        vec![AdoptionEvent::Refused {
            mac: mac(1),
            name: "ap1".into(),
            model: "AP7532".into(),
            serial: "SIM0001".into(),
            addr: ap_addr(1),
            reason: Refusal::NotServing
        }]
    );
    assert_eq!(a.aps().count(), 0);
}

#[test]
fn join_to_run_answers_each_step_and_reports_the_adoption() {
    let mut a = ac(10);
    a.handle_settings(
        AcSettings {
            fast_timers: Some(FastTimers {
                echo_interval: ms(1000),
                retransmit_interval: ms(300),
                max_retransmit: 1,
            }),
            ..settings()
        },
        ms(0),
    );
    let steps = adopt(&mut a, 1, ms(10));
    // Join Response: success, the AC list; no fast timers (this WTP did not announce them:
    // see each_model_is_told_its_profiles_timers_and_a_change_reaches_the_aps_in_run).
    let r = replies(&steps[0], ap_addr(1));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].seq, 1);
    let MessageBody::JoinResponse(j) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(j.result_code, ResultCode::Success);
    assert_eq!(j.ac_ipv4_list, Some(AcIpv4List(vec![AC_IP, PEER_IP])));
    assert_eq!(FastTimers::find(&j.vendor_specific), None);
    assert_eq!(j.local_ipv4, Some(CapwapLocalIpv4Address(AC_IP)));
    let joined = events(&steps[0]);
    let [AdoptionEvent::Joined { ap, .. }] = joined.as_slice() else {
        panic!("the Join holds a license, and is adopted only in Run: {joined:?}")
    };
    assert_eq!((ap.mac, ap.state), (mac(1), ApState::Configuring));
    // Configuration Status Response: timers in whole seconds, fallback off (the cluster
    // decides when an AP falls back), the AC list.
    let r = replies(&steps[1], ap_addr(1));
    let MessageBody::ConfigurationStatusResponse(c) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(
        c.timers,
        CapwapTimers {
            discovery: 5,
            echo_request: 30
        }
    );
    assert_eq!(c.wtp_fallback, WtpFallback::Disabled);
    assert_eq!(c.ac_ipv4_list, Some(AcIpv4List(vec![AC_IP, PEER_IP])));
    assert_eq!(c.decryption_error_report_periods.len(), 1);
    assert_eq!(r[0].seq, 2);
    // Change State Event Response.
    let r = replies(&steps[2], ap_addr(1));
    assert!(matches!(
        r[0].body,
        MessageBody::ChangeStateEventResponse(_)
    ));
    // The keep-alive is echoed on the data channel, and the AP is adopted.
    assert_eq!(
        steps[3][0],
        AdoptionOutput::Data {
            to: data_addr(1),
            datagram: keep_alive(1)
        }
    );
    let ev = events(&steps[3]);
    let [AdoptionEvent::Adopted { ap }] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (
            ap.mac,
            ap.name.as_str(),
            ap.model.as_str(),
            ap.serial.as_str()
        ),
        (mac(1), "ap1", "AP7532", "SIM0001")
    );
    assert_eq!(
        (ap.state, ap.license, ap.run_since),
        (ApState::Run, LicenseKind::Aap, Some(ms(10)))
    );
    assert_eq!(a.adopted(), 1);
    assert_eq!(a.held(), Held { ap: 0, aap: 1 });
    // Discovery now advertises the load.
    a.handle_control(ap_addr(9), &discovery(9), ms(20));
    let r = replies(&drain(&mut a), ap_addr(9));
    let MessageBody::DiscoveryResponse(d) = &r[0].body else {
        panic!()
    };
    assert_eq!(d.ac_descriptor.active_wtps, 1);
    assert_eq!(d.control_ipv4[0].wtp_count, 1);
}

#[test]
fn echo_keeps_an_ap_and_silence_releases_it_after_the_dead_interval() {
    let mut a = ac(10);
    adopt(&mut a, 1, ms(0));
    let dead = a.settings().dead_interval(false);
    assert_eq!(dead, Duration::from_secs(90));
    a.handle_control(ap_addr(1), &echo(4), ms(60_000));
    let r = replies(&drain(&mut a), ap_addr(1));
    assert!(matches!(r[0].body, MessageBody::EchoResponse(_)));
    assert_eq!(r[0].seq, 4);
    // 90 s after the echo, not after the keep-alive.
    a.handle_timeout(ms(90_000));
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.poll_timeout().map(|t| t <= ms(150_000)), Some(true));
    a.handle_timeout(ms(150_000));
    assert_eq!(
        events(&drain(&mut a)),
        vec![AdoptionEvent::Released {
            mac: mac(1),
            reason: ReleaseReason::Lost,
            grace: false
        }]
    );
    assert_eq!(a.aps().count(), 0);
    assert_eq!(a.held(), Held::default());
}

#[test]
fn a_release_says_whether_the_ap_was_on_a_lost_members_grace_share() {
    // No license of its own: AP 1 joins only because the table shows it on a lost member.
    let mut a = Adoption::new(settings());
    let grace: HashMap<Mac, LicenseKind> = [(mac(1), LicenseKind::Aap)].into();
    a.handle_admission(
        Admission {
            grace: std::sync::Arc::new(grace),
            ..serving(0)
        },
        ms(0),
    );
    adopt(&mut a, 1, ms(0));
    assert_eq!(a.adopted(), 1);
    a.handle_timeout(ms(90_000));
    assert_eq!(
        events(&drain(&mut a)),
        vec![AdoptionEvent::Released {
            mac: mac(1),
            reason: ReleaseReason::Lost,
            grace: true
        }]
    );
}

#[test]
fn a_retransmitted_request_gets_the_cached_response_and_an_old_one_nothing() {
    let mut a = ac(10);
    adopt(&mut a, 1, ms(0));
    a.handle_control(ap_addr(1), &echo(4), ms(100));
    let first = drain(&mut a);
    a.handle_control(ap_addr(1), &echo(4), ms(200));
    assert_eq!(drain(&mut a), first);
    a.handle_control(ap_addr(1), &echo(2), ms(300));
    assert!(drain(&mut a).is_empty());
    let c = a.counters();
    assert_eq!((c.retransmissions, c.stale), (1, 1));
    // A retransmitted Join is answered from the cache, not admitted twice.
    let mut b = ac(10);
    b.handle_control(ap_addr(2), &join(1, 2, "AP7532"), ms(0));
    let first = drain(&mut b);
    b.handle_control(ap_addr(2), &join(1, 2, "AP7532"), ms(10));
    assert_eq!(
        drain(&mut b),
        first[1..],
        "the response again, no second Joined"
    );
    assert_eq!(b.held().total(), 1);
}

#[test]
fn licenses_and_capacity_refuse_with_resource_depletion() {
    let mut a = ac(1);
    adopt(&mut a, 1, ms(0));
    a.handle_control(ap_addr(2), &join(1, 2, "AP7532"), ms(10));
    let out = drain(&mut a);
    let r = replies(&out, ap_addr(2));
    let MessageBody::JoinResponse(j) = &r[0].body else {
        panic!()
    };
    assert_eq!(j.result_code, ResultCode::JoinFailureResourceDepletion);
    let ev = events(&out);
    let [AdoptionEvent::Refused { reason, .. }] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    assert_eq!(
        reason.to_string(),
        "no AAP license left (this controller holds 1 of the 1 the cluster pool allows it)"
    );
    let mut small = Adoption::new(settings());
    small.handle_admission(
        Admission {
            capacity: 1,
            ..serving(100)
        },
        ms(0),
    );
    adopt(&mut small, 1, ms(0));
    small.handle_control(ap_addr(2), &join(1, 2, "AP7532"), ms(10));
    let ev = events(&drain(&mut small));
    assert!(matches!(
        ev.as_slice(),
        [AdoptionEvent::Refused {
            reason: Refusal::Capacity { max: 1 },
            ..
        }]
    ));
}

#[test]
fn a_join_for_a_live_ap_from_elsewhere_is_refused_and_from_its_own_address_takes_over() {
    let mut a = ac(10);
    adopt(&mut a, 1, ms(0));
    // A spoofed Join for AP 1's MAC from another address while AP 1 is alive.
    let spoof = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 30, 0, 1)), 40_000);
    a.handle_control(spoof, &join(1, 1, "AP7532"), ms(1_000));
    let out = drain(&mut a);
    let MessageBody::JoinResponse(j) = &replies(&out, spoof)[0].body else {
        panic!()
    };
    assert_eq!(j.result_code, ResultCode::JoinFailureSessionIdInUse);
    assert_eq!(a.adopted(), 1);
    // The AP itself rebooted: its new Join replaces the old session at once.
    a.handle_control(ap_addr(1), &join(9, 1, "AP7532"), ms(2_000));
    let ev = events(&drain(&mut a));
    assert_eq!(
        ev[..1],
        [AdoptionEvent::Released {
            mac: mac(1),
            reason: ReleaseReason::Rejoined,
            grace: false
        }]
    );
    assert_eq!(a.held().total(), 1);
    // From elsewhere after the old session went silent for the dead interval: taken over.
    let mut b = ac(10);
    adopt(&mut b, 1, ms(0));
    b.handle_control(spoof, &join(1, 1, "AP7532"), ms(90_000));
    let out = drain(&mut b);
    assert!(matches!(
        events(&out).as_slice(),
        [AdoptionEvent::Released { .. }, AdoptionEvent::Joined { .. }]
    ));
    let MessageBody::JoinResponse(j) = &replies(&out, spoof)[0].body else {
        panic!()
    };
    assert_eq!(j.result_code, ResultCode::Success);
}

#[test]
fn a_state_timer_releases_an_ap_that_stops_half_way() {
    let mut a = ac(10);
    a.handle_control(ap_addr(1), &join(1, 1, "AP7532"), ms(0));
    drain(&mut a);
    assert_eq!(a.poll_timeout(), Some(ms(60_000)));
    a.handle_timeout(ms(60_000));
    assert_eq!(
        events(&drain(&mut a)),
        vec![AdoptionEvent::Released {
            mac: mac(1),
            reason: ReleaseReason::Timeout("WaitJoin"),
            grace: false
        }]
    );
    assert_eq!(a.held().total(), 0);
}

#[test]
fn half_open_sessions_are_bounded() {
    let mut a = Adoption::new(AcSettings {
        max_pending: 2,
        ..settings()
    });
    a.handle_admission(serving(100), ms(0));
    for n in 1..=3 {
        a.handle_control(ap_addr(n), &join(1, n, "AP7532"), ms(0));
    }
    let ev = events(&drain(&mut a));
    assert!(matches!(
        ev.as_slice(),
        [
            AdoptionEvent::Joined { .. },
            AdoptionEvent::Joined { .. },
            AdoptionEvent::Refused {
                reason: Refusal::Busy { max: 2 },
                ..
            }
        ]
    ));
    assert_eq!(a.held().total(), 2);
}

#[test]
fn input_for_no_session_and_malformed_input_change_nothing() {
    let mut a = ac(10);
    a.handle_control(ap_addr(1), &echo(1), ms(0));
    a.handle_control(ap_addr(1), &[0x00, 0x10], ms(0));
    a.handle_data(data_addr(1), &keep_alive(1), ms(0));
    a.handle_data(data_addr(1), b"garbage", ms(0));
    assert!(drain(&mut a).is_empty());
    let c = a.counters();
    assert_eq!((c.unknown_session, c.malformed), (2, 2));
    // A keep-alive with AP 1's Session ID from another host does not put it in Run.
    a.handle_control(ap_addr(1), &join(1, 1, "AP7532"), ms(0));
    a.handle_control(ap_addr(1), &configuration_status(2), ms(0));
    a.handle_control(ap_addr(1), &change_state(3), ms(0));
    drain(&mut a);
    let other = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 30, 0, 9)), 1);
    a.handle_data(other, &keep_alive(1), ms(1));
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.adopted(), 0);
}

proptest! {
    // `PROPTEST_CASES` raises the count for local hunts.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    /// Whatever arrives, in any order, from a few addresses: no panic, and the license count
    /// always equals the sessions held.
    #[test]
    fn arbitrary_input_never_panics_and_keeps_the_books(
        inputs in prop::collection::vec((0u8..4, 0u8..8, any::<u8>(), prop::collection::vec(any::<u8>(), 0..64)), 1..60)
    ) {
        let mut a = ac(2);
        let mut t = ms(0);
        for (who, what, seq, noise) in inputs {
            t += ms(700);
            let n = who + 1;
            match what {
                0 => a.handle_control(ap_addr(n), &join(seq, n, "AP7532"), t),
                1 => a.handle_control(ap_addr(n), &configuration_status(seq), t),
                2 => a.handle_control(ap_addr(n), &change_state(seq), t),
                3 => a.handle_data(data_addr(n), &keep_alive(n), t),
                4 => a.handle_control(ap_addr(n), &echo(seq), t),
                5 => a.handle_control(ap_addr(n), &noise, t),
                6 => a.handle_data(data_addr(n), &noise, t),
                _ => a.handle_timeout(t + ms(u64::from(seq) * 1000)),
            }
            drain(&mut a);
            let held = a.held();
            prop_assert_eq!(held.total() as usize, a.aps().count());
            prop_assert!(held.aap <= 2);
        }
    }
}

#[test]
fn an_unknown_request_is_answered_with_unrecognized_request() {
    let mut a = ac(10);
    adopt(&mut a, 1, ms(0));
    // Clear Configuration Request (23), which this AC does not implement.
    let req = packet(
        4,
        MessageBody::Other {
            message_type: 23,
            elements: vec![],
        },
    );
    a.handle_control(ap_addr(1), &req, ms(10));
    let r = replies(&drain(&mut a), ap_addr(1));
    let MessageBody::Other {
        message_type,
        elements,
    } = &r[0].body
    else {
        panic!("{r:?}")
    };
    assert_eq!(*message_type, 24);
    assert_eq!(elements[0].element_type, 33);
    assert_eq!(elements[0].value, 19u32.to_be_bytes());
}

#[test]
fn a_wtp_that_announces_the_fast_timers_is_released_after_their_dead_interval() {
    let fast = FastTimers {
        echo_interval: ms(1000),
        retransmit_interval: ms(300),
        max_retransmit: 1,
    };
    let mut a = Adoption::new(AcSettings {
        fast_timers: Some(fast),
        ..settings()
    });
    a.handle_admission(serving(10), ms(0));
    // AP 1 announces them in its Join; AP 2 (a foreign WTP) does not.
    let mut req = ControlPacket::decode(&join(1, 1, "AP7532")).unwrap();
    let MessageBody::JoinRequest(j) = &mut req.message.body else {
        panic!()
    };
    j.vendor_specific.push(fast.to_vendor());
    a.handle_control(ap_addr(1), &req.encode().unwrap(), ms(0));
    a.handle_control(ap_addr(1), &configuration_status(2), ms(0));
    a.handle_control(ap_addr(1), &change_state(3), ms(0));
    a.handle_data(data_addr(1), &keep_alive(1), ms(0));
    adopt(&mut a, 2, ms(0));
    drain(&mut a);
    // Echo 1 s, then the WTP's waits 300 and 500 ms (doubling, capped at half the echo),
    // and 300 ms of slack.
    assert_eq!(a.settings().dead_interval(true), ms(2100));
    a.handle_timeout(ms(2099));
    assert!(events(&drain(&mut a)).is_empty());
    a.handle_timeout(ms(2100));
    assert_eq!(
        events(&drain(&mut a)),
        vec![AdoptionEvent::Released {
            mac: mac(1),
            reason: ReleaseReason::Lost,
            grace: false
        }]
    );
    assert_eq!(
        a.adopted(),
        1,
        "the foreign WTP keeps the RFC's dead interval"
    );
}

fn corp_plan(ssid: &str) -> wlan::WlanPlan {
    let svc = wlan::WlanService {
        radio_id: 1,
        wlan_id: 1,
        ssid: ssid.as_bytes().to_vec(),
        cipher: wlan::Cipher::Ccmp,
        key_management: wlan::KeyManagement::Psk,
        group_key: vec![0x5A; 16],
    };
    wlan::WlanPlan {
        by_profile: [("default-ap7532".to_string(), Arc::new(vec![svc]))]
            .into_iter()
            .collect(),
    }
}

fn wlan_response(seq: u8, code: ResultCode) -> Vec<u8> {
    packet(
        seq,
        MessageBody::WlanConfigurationResponse(WlanConfigurationResponse {
            result_code: code,
            assigned_bssid: None,
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    )
}

/// The WLAN Configuration Requests in `outs` to `to`: (seq, operation).
fn wlan_requests(outs: &[AdoptionOutput], to: SocketAddr) -> Vec<(u8, WlanOperation)> {
    replies(outs, to)
        .into_iter()
        .filter_map(|m| match m.body {
            MessageBody::WlanConfigurationRequest(r) => Some((m.seq, r.operation)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_ap_reaching_run_gets_its_models_wlans_one_request_at_a_time() {
    let mut a = ac(10);
    a.handle_wlans(corp_plan("corp"), ms(0));
    assert!(drain(&mut a).is_empty(), "no AP yet, nothing to send");
    let steps = adopt(&mut a, 1, ms(10));
    // The keep-alive's step: the echo, the Adopted event, then the Add WLAN (seq 1).
    let run = &steps[3];
    let reqs = wlan_requests(run, ap_addr(1));
    let [(1, WlanOperation::Add(add))] = reqs.as_slice() else {
        panic!("{reqs:?}")
    };
    assert_eq!(
        (add.radio_id, add.wlan_id, &add.ssid[..]),
        (1, 1, &b"corp"[..])
    );
    assert_eq!(add.key, vec![0x5A; 16]);
    assert_eq!(a.counters().wlan_requests, 1);
    // Success: the AP carries it; no further request.
    a.handle_control(ap_addr(1), &wlan_response(1, ResultCode::Success), ms(20));
    let out = drain(&mut a);
    assert!(wlan_requests(&out, ap_addr(1)).is_empty());
    let ev = events(&out);
    let [AdoptionEvent::WlansApplied { ap }] = ev.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!((ap.wlans, ap.wlans_refused), (1, 0));
    // A changed SSID: Delete (seq 2), then Add (seq 3).
    a.handle_wlans(corp_plan("corp-2"), ms(30));
    let out = drain(&mut a);
    assert!(matches!(
        wlan_requests(&out, ap_addr(1)).as_slice(),
        [(2, WlanOperation::Delete(d))] if (d.radio_id, d.wlan_id) == (1, 1)
    ));
    a.handle_control(ap_addr(1), &wlan_response(2, ResultCode::Success), ms(40));
    let out = drain(&mut a);
    assert!(matches!(
        wlan_requests(&out, ap_addr(1)).as_slice(),
        [(3, WlanOperation::Add(add))] if add.ssid == b"corp-2"
    ));
    // A response with the wrong sequence number changes nothing.
    a.handle_control(ap_addr(1), &wlan_response(9, ResultCode::Success), ms(45));
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.counters().stale, 1);
}

#[test]
fn an_unanswered_wlan_request_is_retransmitted_then_the_ap_released() {
    let mut a = ac(10);
    a.handle_wlans(corp_plan("corp"), ms(0));
    adopt(&mut a, 1, ms(0));
    // RFC timers: 3 s, 5 retransmissions of the same datagram, then the AP is dead.
    for n in 1..=5u64 {
        a.handle_timeout(ms(3_000 * n));
        let out = drain(&mut a);
        assert_eq!(
            wlan_requests(&out, ap_addr(1))
                .iter()
                .map(|r| r.0)
                .collect::<Vec<_>>(),
            vec![1],
            "retransmission {n}"
        );
    }
    assert_eq!(a.counters().wlan_retransmissions, 5);
    a.handle_timeout(ms(18_000));
    let out = drain(&mut a);
    assert!(matches!(
        events(&out).as_slice(),
        [AdoptionEvent::Released { reason: ReleaseReason::Timeout(t), .. }]
            if t.contains("WLAN")
    ));
    assert_eq!(a.aps().count(), 0);
}

#[test]
fn a_refused_wlan_is_counted_and_not_retried_until_it_changes() {
    let mut a = ac(10);
    a.handle_wlans(corp_plan("corp"), ms(0));
    adopt(&mut a, 1, ms(0));
    a.handle_control(
        ap_addr(1),
        &wlan_response(1, ResultCode::ConfigurationFailureServiceNotProvided),
        ms(10),
    );
    let out = drain(&mut a);
    assert!(wlan_requests(&out, ap_addr(1)).is_empty());
    let ev = events(&out);
    let [AdoptionEvent::WlansApplied { ap }] = ev.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!((ap.wlans, ap.wlans_refused), (0, 1));
    assert_eq!(a.counters().wlan_refused, 1);
    // Still in Run: an AP that cannot serve a WLAN is not dropped for it.
    assert_eq!(a.adopted(), 1);
    a.handle_wlans(corp_plan("corp-b"), ms(20));
    assert_eq!(wlan_requests(&drain(&mut a), ap_addr(1)).len(), 1);
}

#[test]
fn at_most_max_wlan_in_flight_aps_have_a_request_outstanding() {
    let mut s = settings();
    s.max_wlan_in_flight = 2;
    let mut a = Adoption::new(s);
    a.handle_admission(serving(10), ms(0));
    for n in 1..=3 {
        adopt(&mut a, n, ms(0));
    }
    a.handle_wlans(corp_plan("corp"), ms(1));
    let out = drain(&mut a);
    let sent: Vec<u8> = (1..=3)
        .filter(|n| !wlan_requests(&out, ap_addr(*n)).is_empty())
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    // One answers: the third AP's request goes out.
    a.handle_control(
        ap_addr(sent[0]),
        &wlan_response(1, ResultCode::Success),
        ms(2),
    );
    let out = drain(&mut a);
    let third = (1..=3).find(|n| !sent.contains(n)).unwrap();
    assert_eq!(wlan_requests(&out, ap_addr(third)).len(), 1);
}

// ---------------------------------------------------------------------------------------
// Handing APs back (fallback after force-configured-state).

fn update_response(seq: u8, code: ResultCode) -> Vec<u8> {
    packet(
        seq,
        MessageBody::ConfigurationUpdateResponse(ConfigurationUpdateResponse {
            result_code: code,
            radio_operational_states: vec![],
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    )
}

/// A Configuration Update Request as sent: (seq, AC Name with Priority list, WTP Fallback).
type Update = (u8, Vec<(u8, String)>, Option<WtpFallback>);

/// The Configuration Update Requests in `outs` to `to`.
fn updates(outs: &[AdoptionOutput], to: SocketAddr) -> Vec<Update> {
    replies(outs, to)
        .into_iter()
        .filter_map(|m| match m.body {
            MessageBody::ConfigurationUpdateRequest(r) => Some((
                m.seq,
                r.ac_names_with_priority
                    .into_iter()
                    .map(|p| (p.priority, p.name))
                    .collect(),
                r.wtp_fallback,
            )),
            _ => None,
        })
        .collect()
}

fn standby() -> Admission {
    Admission {
        serving: false,
        ..serving(10)
    }
}

fn handing_back(window: usize, aps: u8) -> Adoption {
    let mut s = settings();
    s.handback_window = window;
    let mut a = Adoption::new(s);
    a.handle_admission(serving(10), ms(0));
    for n in 1..=aps {
        adopt(&mut a, n, ms(0));
    }
    drain(&mut a);
    a.handle_admission(standby(), ms(100));
    a
}

#[test]
fn a_member_that_stops_serving_tells_its_aps_where_to_fall_back_a_window_at_a_time() {
    let mut a = handing_back(2, 3);
    assert!(drain(&mut a).is_empty(), "not serving alone moves nothing");
    a.handle_fallback(vec!["vx9000-2".into()], ms(100));
    let out = drain(&mut a);
    let told: Vec<u8> = (1..=3)
        .filter(|n| !updates(&out, ap_addr(*n)).is_empty())
        .collect();
    assert_eq!(told.len(), 2, "the window: {told:?}");
    let u = updates(&out, ap_addr(told[0]));
    assert_eq!(
        u,
        vec![(
            1,
            vec![(1, "vx9000-2".to_string()), (2, "vx9000-1".to_string())],
            Some(WtpFallback::Enabled)
        )]
    );
    assert_eq!(a.handback_backlog(), (2, 1));
    // Confirming is not moving: the window stays full.
    a.handle_control(
        ap_addr(told[0]),
        &update_response(1, ResultCode::Success),
        ms(110),
    );
    assert!(drain(&mut a).is_empty());
    // The target's claim wins: that AP is gone, the third one is told.
    a.handle_release(mac(told[0]), ReleaseReason::ClaimedElsewhere, ms(120));
    let out = drain(&mut a);
    let third = (1..=3).find(|n| !told.contains(n)).unwrap();
    assert_eq!(updates(&out, ap_addr(third)).len(), 1, "{out:?}");
    assert_eq!(a.handback_backlog(), (2, 0));
    assert_eq!(a.counters().handback_requests, 3);
    assert_eq!(a.counters().handback_confirmed, 1);
}

#[test]
fn an_ap_that_confirms_and_stays_is_reset_after_two_echo_intervals() {
    let mut a = handing_back(8, 1);
    a.handle_fallback(vec!["vx9000-2".into()], ms(100));
    drain(&mut a);
    a.handle_control(
        ap_addr(1),
        &update_response(1, ResultCode::Success),
        ms(200),
    );
    drain(&mut a);
    // RFC echo 30 s: still here (echoing) 60 s after the confirmation, it ignores it.
    a.handle_control(ap_addr(1), &echo(4), ms(30_000));
    a.handle_control(ap_addr(1), &echo(5), ms(59_000));
    drain(&mut a);
    a.handle_timeout(ms(200 + 59_999));
    let out = drain(&mut a);
    assert!(replies(&out, ap_addr(1)).is_empty(), "{out:?}");
    a.handle_timeout(ms(200 + 60_000));
    let out = drain(&mut a);
    let r = replies(&out, ap_addr(1));
    let [ControlMessage {
        seq: 2,
        body: MessageBody::ResetRequest(reset),
    }] = r.as_slice()
    else {
        panic!("{r:?}")
    };
    assert_eq!(reset.image_identifier.data, "5.9.1.0");
    assert_eq!(a.counters().resets, 1);
    a.handle_control(
        ap_addr(1),
        &packet(2, MessageBody::ResetResponse(ResetResponse::default())),
        ms(60_300),
    );
    let out = drain(&mut a);
    assert!(matches!(
        events(&out).as_slice(),
        [AdoptionEvent::Released {
            reason: ReleaseReason::Reset,
            ..
        }]
    ));
    assert_eq!(a.handback_backlog(), (0, 0));
}

#[test]
fn an_ap_that_refuses_the_fallback_is_reset_at_once() {
    let mut a = handing_back(8, 1);
    a.handle_fallback(vec!["vx9000-2".into()], ms(100));
    drain(&mut a);
    a.handle_control(
        ap_addr(1),
        &update_response(1, ResultCode::ConfigurationFailureServiceNotProvided),
        ms(110),
    );
    let r = replies(&drain(&mut a), ap_addr(1));
    assert!(
        matches!(
            r.as_slice(),
            [ControlMessage {
                seq: 2,
                body: MessageBody::ResetRequest(_)
            }]
        ),
        "{r:?}"
    );
}

#[test]
fn an_ap_whose_move_failed_is_taken_back_by_the_member_that_no_longer_serves() {
    let mut a = handing_back(8, 1);
    a.handle_fallback(vec!["vx9000-2".into()], ms(100));
    drain(&mut a);
    // It comes back from the same address (the target refused it): a Join of a held AP.
    a.handle_control(ap_addr(1), &join(7, 1, "AP7532"), ms(500));
    let r = replies(&drain(&mut a), ap_addr(1));
    let [ControlMessage {
        body: MessageBody::JoinResponse(j),
        ..
    }] = r.as_slice()
    else {
        panic!("{r:?}")
    };
    assert_eq!(j.result_code, ResultCode::Success);
    assert_eq!(a.held().total(), 1);
    // A new AP is still refused: the member does not serve.
    a.handle_control(ap_addr(2), &join(1, 2, "AP7532"), ms(510));
    let r = replies(&drain(&mut a), ap_addr(2));
    assert!(matches!(
        r.as_slice(),
        [ControlMessage { body: MessageBody::JoinResponse(j), .. }]
            if j.result_code == ResultCode::JoinFailureUnspecified
    ));
    // Back in Run, it is told again (the next move waits out the WTP's hold-down).
    a.handle_control(ap_addr(1), &configuration_status(8), ms(520));
    a.handle_control(ap_addr(1), &change_state(9), ms(520));
    a.handle_data(data_addr(1), &keep_alive(1), ms(530));
    assert_eq!(updates(&drain(&mut a), ap_addr(1)).len(), 1);
    // It honours fallback (it came back): confirmed, it is never reset, however long its
    // hold-down keeps it here.
    a.handle_control(
        ap_addr(1),
        &update_response(1, ResultCode::Success),
        ms(540),
    );
    for (n, t) in (10u8..).zip((30_000..=120_000).step_by(30_000)) {
        a.handle_control(ap_addr(1), &echo(n), ms(t));
        a.handle_timeout(ms(t + 1));
    }
    let out = drain(&mut a);
    assert!(
        replies(&out, ap_addr(1))
            .iter()
            .all(|m| matches!(m.body, MessageBody::EchoResponse(_))),
        "{out:?}"
    );
    assert_eq!(a.counters().resets, 0);
}

#[test]
fn when_the_member_serves_again_its_told_aps_are_told_to_stay() {
    let mut a = handing_back(8, 2);
    a.handle_fallback(vec!["vx9000-2".into()], ms(100));
    drain(&mut a);
    // AP 1 confirmed; AP 2's request is still outstanding.
    a.handle_control(
        ap_addr(1),
        &update_response(1, ResultCode::Success),
        ms(110),
    );
    drain(&mut a);
    a.handle_admission(serving(10), ms(200));
    a.handle_fallback(vec![], ms(200));
    let out = drain(&mut a);
    assert_eq!(
        updates(&out, ap_addr(1)),
        vec![(
            2,
            vec![(1, "vx9000-1".to_string())],
            Some(WtpFallback::Disabled)
        )]
    );
    assert!(
        updates(&out, ap_addr(2)).is_empty(),
        "one request at a time"
    );
    // AP 2's answer to the fallback it never acted on: then it is told to stay too.
    a.handle_control(
        ap_addr(2),
        &update_response(1, ResultCode::Success),
        ms(210),
    );
    let out = drain(&mut a);
    assert_eq!(updates(&out, ap_addr(2))[0].2, Some(WtpFallback::Disabled));
    assert_eq!(a.handback_backlog(), (0, 0));
    // No reset ever comes.
    a.handle_timeout(ms(200_000));
    assert!(drain(&mut a)
        .iter()
        .all(|o| !matches!(o, AdoptionOutput::Control { .. })));
}

#[test]
fn an_ap_is_told_the_controllers_its_models_profile_names() {
    let mut s = settings();
    s.ac_lists_by_profile.insert(
        "default-ap7532".into(),
        vec![PEER_IP, Ipv4Addr::new(192, 0, 2, 9), AC_IP],
    );
    let mut a = Adoption::new(s);
    a.handle_admission(serving(10), ms(0));
    let steps = adopt(&mut a, 1, ms(0));
    let want = Some(AcIpv4List(vec![
        PEER_IP,
        Ipv4Addr::new(192, 0, 2, 9),
        AC_IP,
    ]));
    let r = replies(&steps[0], ap_addr(1));
    let MessageBody::JoinResponse(j) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(j.ac_ipv4_list, want);
    let r = replies(&steps[1], ap_addr(1));
    let MessageBody::ConfigurationStatusResponse(c) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(c.ac_ipv4_list, want);
    // Another model: the cluster's members.
    a.handle_control(ap_addr(2), &join(1, 2, "AP8533"), ms(10));
    let r = replies(&drain(&mut a), ap_addr(2));
    let MessageBody::JoinResponse(j) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(j.ac_ipv4_list, Some(AcIpv4List(vec![AC_IP, PEER_IP])));
}

#[test]
fn key_management_follows_the_wlans_security_settings() {
    use wlan::{Cipher, KeyManagement};
    assert_eq!(
        KeyManagement::of(Cipher::None, true, true),
        KeyManagement::None
    );
    assert_eq!(
        KeyManagement::of(Cipher::Ccmp, true, true),
        KeyManagement::Eap
    );
    assert_eq!(
        KeyManagement::of(Cipher::TkipCcmp, true, false),
        KeyManagement::Psk
    );
    assert_eq!(
        KeyManagement::of(Cipher::Ccmp, false, false),
        KeyManagement::None
    );
}

/// A dead member's APs get a Roost Controller Lost Request naming their session (exactly
/// that, to each), except an AP that has a session here already.
#[test]
fn a_dead_members_aps_are_told_and_an_ap_adopted_here_is_not() {
    use roost_capwap::vendor::LostSession;
    let mut a = ac(10);
    adopt(&mut a, 1, ms(0));
    let lost = |n: u8, port: u16| crate::LostAp {
        mac: mac(n),
        addr: SocketAddr::from(([127, 20, 0, n], port)),
        session_id: session_id(n),
    };
    a.handle_member_lost(vec![lost(2, 5246), lost(1, 5246), lost(3, 6000)], ms(10));
    let out = drain(&mut a);
    let sent: Vec<(SocketAddr, ControlMessage)> = out
        .iter()
        .map(|o| match o {
            AdoptionOutput::Control { to, datagram } => {
                (*to, ControlPacket::decode(datagram).unwrap().message)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    let notice = |n: u8| {
        ControlMessage::new(
            0,
            MessageBody::ControllerLostRequest(ControllerLostRequest {
                vendor_specific: vec![LostSession {
                    session_id: session_id(n),
                }
                .to_vendor()],
                ..Default::default()
            }),
        )
    };
    assert_eq!(
        sent,
        [
            (SocketAddr::from(([127, 20, 0, 2], 5246)), notice(2)),
            (SocketAddr::from(([127, 20, 0, 3], 6000)), notice(3)),
        ]
    );
    assert_eq!(a.counters().lost_notices, 2);
}

// ---------------------------------------------------------------------------------------
// Per-model timers (a profile's `capwap` commands).

fn fast(echo: u64, retransmit: u64, count: u8) -> FastTimers {
    FastTimers {
        echo_interval: ms(echo),
        retransmit_interval: ms(retransmit),
        max_retransmit: count,
    }
}

/// AP `n`'s Join, as a Roost WTP sends it (announcing fast timers) or a foreign one.
fn join_as(seq: u8, n: u8, model: &str, roost: bool) -> Vec<u8> {
    let mut p = ControlPacket::decode(&join(seq, n, model)).unwrap();
    if let MessageBody::JoinRequest(j) = &mut p.message.body {
        if roost {
            j.vendor_specific.push(fast(1000, 300, 1).to_vendor());
        }
    }
    p.encode().unwrap()
}

/// Join to Run for AP `n`; returns the Join Response's fast timers and the Configuration
/// Status Response's CAPWAP Timers.
fn adopt_as(
    a: &mut Adoption,
    n: u8,
    model: &str,
    roost: bool,
) -> (Option<FastTimers>, CapwapTimers) {
    a.handle_control(ap_addr(n), &join_as(1, n, model, roost), ms(10));
    let r = replies(&drain(a), ap_addr(n));
    let MessageBody::JoinResponse(j) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(j.result_code, ResultCode::Success);
    let told = FastTimers::find(&j.vendor_specific);
    a.handle_control(ap_addr(n), &configuration_status(2), ms(10));
    let r = replies(&drain(a), ap_addr(n));
    let MessageBody::ConfigurationStatusResponse(c) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(FastTimers::find(&c.vendor_specific), told);
    a.handle_control(ap_addr(n), &change_state(3), ms(10));
    a.handle_data(data_addr(n), &keep_alive(n), ms(10));
    drain(a);
    (told, c.timers)
}

/// Each model's APs are told its profile's timers (the fast ones only if the WTP announced
/// them); when the profile's timers change, each AP in Run gets one Configuration Update
/// Request with the new CAPWAP Timers (and the fast timers, or none), and its dead interval
/// follows once it has answered.
#[test]
fn each_model_is_told_its_profiles_timers_and_a_change_reaches_the_aps_in_run() {
    let mut s = settings();
    s.fast_timers = Some(fast(5000, 300, 3));
    s.timers_by_profile.insert(
        "default-ap8533".into(),
        ApTimers {
            echo_interval: ms(10_000),
            discovery_interval: ms(3000),
            fast_timers: Some(fast(2000, 200, 2)),
        },
    );
    let mut a = Adoption::new(s.clone());
    a.handle_admission(serving(10), ms(0));
    let rfc = CapwapTimers {
        discovery: 5,
        echo_request: 30,
    };
    let lab = CapwapTimers {
        discovery: 3,
        echo_request: 10,
    };
    assert_eq!(
        adopt_as(&mut a, 1, "AP7532", true),
        (Some(fast(5000, 300, 3)), rfc)
    );
    assert_eq!(
        adopt_as(&mut a, 2, "AP8533", true),
        (Some(fast(2000, 200, 2)), lab)
    );
    assert_eq!(adopt_as(&mut a, 3, "AP8533", false), (None, lab));
    // AP 2 runs 2000/200/2: released after echo + 200 + 200 + 400 + 800 + slack, not later.
    assert_eq!(
        ApTimers {
            echo_interval: ms(10_000),
            discovery_interval: ms(3000),
            fast_timers: Some(fast(2000, 200, 2)),
        }
        .dead_interval(),
        ms(2000 + 200 + 200 + 400 + 800)
    );

    // The AP8533 profile now says echo 20 s and no fast timers.
    s.timers_by_profile.insert(
        "default-ap8533".into(),
        ApTimers {
            echo_interval: ms(20_000),
            discovery_interval: ms(3000),
            fast_timers: None,
        },
    );
    a.handle_settings(s.clone(), ms(100));
    let out = drain(&mut a);
    assert!(
        replies(&out, ap_addr(1)).is_empty(),
        "AP7532's timers did not change"
    );
    for n in [2, 3] {
        let r = replies(&out, ap_addr(n));
        assert_eq!(r.len(), 1, "{r:?}");
        let MessageBody::ConfigurationUpdateRequest(u) = &r[0].body else {
            panic!("{r:?}")
        };
        assert_eq!(
            u.timers,
            Some(CapwapTimers {
                discovery: 3,
                echo_request: 20
            })
        );
        assert!(u.vendor_specific.is_empty(), "no fast timers any more");
        assert!(u.ac_names_with_priority.is_empty() && u.wtp_fallback.is_none());
        a.handle_control(
            ap_addr(n),
            &update_response(r[0].seq, ResultCode::Success),
            ms(150),
        );
    }
    assert!(drain(&mut a)
        .iter()
        .all(|o| !matches!(o, AdoptionOutput::Control { .. })));
    assert_eq!(a.counters().timer_updates, 2);
    // Settings again with the same timers: nothing more is sent.
    a.handle_settings(s, ms(200));
    assert!(replies(&drain(&mut a), ap_addr(2)).is_empty());
    // AP 2 now runs a 20 s echo without fast timers: silent for 59 s it stays, at 60 s
    // (three echo intervals from its last message) it is released.
    a.handle_timeout(ms(150 + 59_999));
    assert!(a.aps().any(|v| v.mac == mac(2)));
    a.handle_timeout(ms(150 + 60_000));
    assert!(!a.aps().any(|v| v.mac == mac(2)));
}

/// An operator's hostname for an AP reaches it in Run as a Configuration Update Request with
/// WTP Name; once it answered, it is shown (and its AP table row written) under that name. A
/// refusal is not offered again until the name changes.
#[test]
fn a_configured_hostname_is_told_to_the_ap_and_shown_once_taken() {
    let mut s = settings();
    let mut a = Adoption::new(s.clone());
    a.handle_admission(serving(10), ms(0));
    adopt_as(&mut a, 1, "AP7532", false);
    adopt_as(&mut a, 2, "AP7532", false);
    s.ap_names.insert(mac(1), "lobby-1".into());
    s.ap_names.insert(mac(2), "lobby-2".into());
    a.handle_settings(s.clone(), ms(100));
    let out = drain(&mut a);
    for n in [1, 2] {
        let r = replies(&out, ap_addr(n));
        let [ControlMessage {
            seq,
            body: MessageBody::ConfigurationUpdateRequest(u),
        }] = r.as_slice()
        else {
            panic!("{r:?}")
        };
        assert_eq!(u.wtp_name, Some(WtpName(format!("lobby-{n}"))));
        assert_eq!(u.timers, None);
        let code = if n == 1 {
            ResultCode::Success
        } else {
            ResultCode::ConfigurationFailureServiceNotProvided
        };
        a.handle_control(ap_addr(n), &update_response(*seq, code), ms(110));
    }
    let out = drain(&mut a);
    let renamed: Vec<(Mac, String)> = events(&out)
        .into_iter()
        .filter_map(|e| match e {
            AdoptionEvent::Renamed { ap, .. } => Some((ap.mac, ap.name)),
            _ => None,
        })
        .collect();
    assert_eq!(renamed, [(mac(1), "lobby-1".to_string())]);
    assert!(a.aps().any(|v| v.mac == mac(1) && v.name == "lobby-1"));
    assert!(
        a.aps().any(|v| v.mac == mac(2) && v.name == "ap2"),
        "refused: keeps its name"
    );
    assert!(
        out.iter()
            .all(|o| !matches!(o, AdoptionOutput::Control { .. })),
        "the refusal is not retried: {out:?}"
    );
    assert_eq!(a.counters().name_updates, 2);
}

// ---------------------------------------------------------------------------------------
// The auto-provisioning policy at a Join.

/// A Join the policy denies is refused with Unknown Source and listed with the rule; a
/// redirect is refused with the AC IPv4 List naming the other controller; an AP no rule
/// matches is refused unless default-adoption; what it adopts joins as before.
#[test]
fn the_auto_provisioning_policy_denies_redirects_or_adopts_at_the_join() {
    use crate::policy::{Action, DeviceType, Match, Policy, Rule};
    let away = Ipv4Addr::new(10, 9, 9, 9);
    let policy = Policy::new(
        "campus",
        vec![
            Rule {
                action: Action::Deny,
                device: DeviceType::AnyAp,
                precedence: 10,
                matcher: Match::Mac {
                    start: mac(2),
                    end: mac(3),
                },
            },
            Rule {
                action: Action::Redirect {
                    controller: away,
                    level: None,
                    pool: None,
                },
                device: DeviceType::Model("ap8533".into()),
                precedence: 20,
                matcher: Match::Any,
            },
            Rule {
                action: Action::Adopt { profile: None },
                device: DeviceType::Model("ap7532".into()),
                precedence: 30,
                matcher: Match::Any,
            },
        ],
        false,
        false,
    );
    let mut s = settings();
    s.policy = Some(std::sync::Arc::new(policy));
    let mut a = Adoption::new(s);
    a.handle_admission(serving(10), ms(0));
    let join_of = |a: &mut Adoption, n: u8, model: &str| {
        a.handle_control(ap_addr(n), &join(1, n, model), ms(10));
        let out = drain(a);
        let r = replies(&out, ap_addr(n));
        let MessageBody::JoinResponse(j) = &r[0].body else {
            panic!("{r:?}")
        };
        (j.clone(), events(&out))
    };
    // Denied by MAC range, whatever the model.
    let (j, ev) = join_of(&mut a, 2, "AP7532");
    assert_eq!(j.result_code, ResultCode::JoinFailureUnknownSource);
    assert!(matches!(
        ev.as_slice(),
        [AdoptionEvent::Refused {
            reason: Refusal::Denied { precedence: 10, .. },
            ..
        }]
    ));
    assert_eq!(
        ev_reason(&ev),
        "denied by auto-provisioning-policy campus rule 10"
    );
    // Redirected: the AC list names the other controller only.
    let (j, ev) = join_of(&mut a, 5, "AP8533");
    assert_eq!(j.result_code, ResultCode::JoinFailureUnspecified);
    assert_eq!(j.ac_ipv4_list, Some(AcIpv4List(vec![away])));
    assert_eq!(
        ev_reason(&ev),
        "redirected to 10.9.9.9 by auto-provisioning-policy campus rule 20"
    );
    // No rule for an AP6521: refused (default-adoption off).
    let (j, ev) = join_of(&mut a, 6, "AP6521");
    assert_eq!(j.result_code, ResultCode::JoinFailureUnknownSource);
    assert_eq!(
        ev_reason(&ev),
        "no rule of auto-provisioning-policy campus matched (default-adoption is off)"
    );
    // Adopted by rule 30.
    let (j, _) = join_of(&mut a, 7, "AP7532");
    assert_eq!(j.result_code, ResultCode::Success);
    assert_eq!(a.counters().joins_refused, 3);
}

/// An adopt rule's profile decides what its AP runs (WLANs, AC IPv4 List); an AP no such
/// rule maps runs its model's default. The mapping is the AP's first: an AP the cluster
/// already adopts (a lost member's, as the AP table shows it, with its profile) keeps it
/// without the rules, unless the policy says `evaluate-always`.
#[test]
fn an_adopt_rules_profile_decides_what_the_ap_runs_and_the_first_mapping_is_kept() {
    use crate::policy::{Action, DeviceType, Match, Policy, Rule};
    let rule = |precedence, action, matcher| Rule {
        action,
        device: DeviceType::Model("ap7532".into()),
        precedence,
        matcher,
    };
    let lab = Policy::new(
        "campus",
        vec![
            rule(
                10,
                Action::Adopt {
                    profile: Some("lab".into()),
                },
                Match::Mac {
                    start: mac(1),
                    end: mac(1),
                },
            ),
            rule(20, Action::Adopt { profile: None }, Match::Any),
        ],
        false,
        false,
    );
    let lab_ip = Ipv4Addr::new(192, 0, 2, 7);
    let mut s = settings();
    s.policy = Some(Arc::new(lab));
    s.ac_lists_by_profile
        .insert("lab".into(), vec![lab_ip, AC_IP]);
    let mut a = Adoption::new(s.clone());
    a.handle_admission(serving(10), ms(0));
    let mut plan = corp_plan("corp");
    let lab_plan = corp_plan("lab-ssid");
    plan.by_profile
        .insert("lab".into(), lab_plan.by_profile["default-ap7532"].clone());
    a.handle_wlans(plan, ms(0));
    let joined = |out: &[AdoptionOutput], n: u8| -> JoinResponse {
        let r = replies(out, ap_addr(n));
        match &r[0].body {
            MessageBody::JoinResponse(j) => j.clone(),
            other => panic!("{other:?}"),
        }
    };
    let steps = adopt(&mut a, 1, ms(10));
    assert_eq!(
        joined(&steps[0], 1).ac_ipv4_list,
        Some(AcIpv4List(vec![lab_ip, AC_IP])),
        "the lab profile's controllers"
    );
    let reqs = wlan_requests(&steps[3], ap_addr(1));
    assert!(
        matches!(reqs.as_slice(), [(1, WlanOperation::Add(w))] if w.ssid == b"lab-ssid"),
        "{reqs:?}"
    );
    let steps = adopt(&mut a, 2, ms(10));
    assert_eq!(
        joined(&steps[0], 2).ac_ipv4_list,
        Some(AcIpv4List(vec![AC_IP, PEER_IP])),
        "rule 20 names no profile: the model's default (none of its own: the members)"
    );
    let reqs = wlan_requests(&steps[3], ap_addr(2));
    assert!(
        matches!(reqs.as_slice(), [(1, WlanOperation::Add(w))] if w.ssid == b"corp"),
        "{reqs:?}"
    );
    let profiles: Vec<(Mac, String)> = a.aps().map(|ap| (ap.mac, ap.profile.clone())).collect();
    assert!(profiles.contains(&(mac(1), "lab".into())), "{profiles:?}");
    assert!(profiles.contains(&(mac(2), "default-ap7532".into())));
    let rows: Vec<roost_wire::ApRecord> = a.aps().map(|ap| ap.record([0; 16], 0)).collect();
    let row1 = rows.iter().find(|r| r.mac == mac(1)).unwrap();
    let row2 = rows.iter().find(|r| r.mac == mac(2)).unwrap();
    assert_eq!(
        (row1.profile.as_str(), row2.profile.as_str()),
        ("lab", ""),
        "only a mapping other than the default travels in the AP table"
    );

    // Now the policy denies every AP. APs 3 and 4 were a lost member's (the AP table: 3 in
    // the lab profile, 4 in its default): they keep their first mapping; AP 5 is new.
    let deny_all = Policy::new(
        "campus",
        vec![rule(10, Action::Deny, Match::Any)],
        false,
        false,
    );
    let mut s2 = s.clone();
    s2.policy = Some(Arc::new(deny_all.clone()));
    a.handle_settings(s2.clone(), ms(20));
    let mut adm = serving(10);
    adm.grace = Arc::new(
        [(mac(3), LicenseKind::Aap), (mac(4), LicenseKind::Aap)]
            .into_iter()
            .collect(),
    );
    adm.grace_profiles = Arc::new([(mac(3), "lab".to_string())].into_iter().collect());
    a.handle_admission(adm.clone(), ms(20));
    drain(&mut a);
    let steps = adopt(&mut a, 3, ms(30));
    assert_eq!(joined(&steps[0], 3).result_code, ResultCode::Success);
    assert_eq!(
        joined(&steps[0], 3).ac_ipv4_list,
        Some(AcIpv4List(vec![lab_ip, AC_IP])),
        "AP 3 kept its lab mapping"
    );
    a.handle_control(ap_addr(4), &join(1, 4, "AP7532"), ms(30));
    assert_eq!(
        joined(&drain(&mut a), 4).result_code,
        ResultCode::Success,
        "AP 4 kept its default mapping"
    );
    a.handle_control(ap_addr(5), &join(1, 5, "AP7532"), ms(30));
    let out = drain(&mut a);
    assert_eq!(
        joined(&out, 5).result_code,
        ResultCode::JoinFailureUnknownSource
    );
    // A rejoin here keeps its mapping too (AP 1 reboots: lab, not denied).
    a.handle_control(ap_addr(1), &join(7, 1, "AP7532"), ms(40));
    let out = drain(&mut a);
    assert_eq!(joined(&out, 1).result_code, ResultCode::Success);
    assert_eq!(
        joined(&out, 1).ac_ipv4_list,
        Some(AcIpv4List(vec![lab_ip, AC_IP]))
    );

    // evaluate-always: the rules run at every adoption, a known AP's too.
    let mut always = deny_all;
    always.evaluate_always = true;
    let mut s3 = s2;
    s3.policy = Some(Arc::new(always));
    a.handle_settings(s3, ms(50));
    let mut adm2 = adm;
    adm2.grace = Arc::new([(mac(6), LicenseKind::Aap)].into_iter().collect());
    adm2.grace_profiles = Arc::new([(mac(6), "lab".to_string())].into_iter().collect());
    a.handle_admission(adm2, ms(50));
    drain(&mut a);
    a.handle_control(ap_addr(6), &join(1, 6, "AP7532"), ms(60));
    let out = drain(&mut a);
    assert_eq!(
        joined(&out, 6).result_code,
        ResultCode::JoinFailureUnknownSource
    );
    a.handle_control(ap_addr(2), &join(9, 2, "AP7532"), ms(60));
    assert_eq!(
        joined(&drain(&mut a), 2).result_code,
        ResultCode::JoinFailureUnknownSource,
        "a rejoin meets the rules again"
    );
}

/// WiNG's `adoption start-delay` reaches an AP in the Discovery Response: that of the profile
/// its Join would map it to (a rule's, else its model's default); none when its profile sets
/// none.
#[test]
fn the_discovery_response_tells_the_start_delay_of_the_aps_profile() {
    use crate::policy::{Action, DeviceType, Match, Policy, Rule};
    use roost_capwap::vendor::StartDelay;
    let d = |min, max| StartDelay {
        min: Duration::from_secs(min),
        max: Duration::from_secs(max),
    };
    let told = |a: &mut Adoption, n: u8, t: u64| -> Option<StartDelay> {
        a.handle_control(ap_addr(n), &discovery(n), ms(t));
        let out = drain(a);
        let r = replies(&out, ap_addr(n));
        match &r[0].body {
            MessageBody::DiscoveryResponse(r) => StartDelay::find(&r.vendor_specific),
            other => panic!("{other:?}"),
        }
    };
    let mut a = ac(10);
    assert_eq!(told(&mut a, 1, 0), None, "no profile sets one");
    let mut s = settings();
    s.start_delays_by_profile
        .insert("default-ap7532".into(), d(5, 20));
    s.start_delays_by_profile.insert("lab".into(), d(0, 3));
    a.handle_settings(s.clone(), ms(0));
    assert_eq!(
        told(&mut a, 2, 0),
        Some(d(5, 20)),
        "the model's default profile"
    );
    s.policy = Some(Arc::new(Policy::new(
        "campus",
        vec![Rule {
            action: Action::Adopt {
                profile: Some("lab".into()),
            },
            device: DeviceType::Model("ap7532".into()),
            precedence: 10,
            matcher: Match::Mac {
                start: mac(3),
                end: mac(3),
            },
        }],
        true,
        false,
    )));
    a.handle_settings(s, ms(0));
    assert_eq!(told(&mut a, 3, 0), Some(d(0, 3)), "the rule's profile");
    assert_eq!(told(&mut a, 4, 0), Some(d(5, 20)), "no rule: the default");
}

fn ev_reason(ev: &[AdoptionEvent]) -> String {
    match ev {
        [AdoptionEvent::Refused { reason, .. }] => reason.to_string(),
        other => panic!("{other:?}"),
    }
}

/// The firmware gate: a mismatch is refused with the Image Identifier of the version the AP
/// should run and the reason listed; the level decides; a model without a version passes.
#[test]
fn the_firmware_gate_refuses_with_the_expected_image() {
    use crate::firmware::{EnforceVersion, FirmwareGate};
    let with_version = |seq: u8, n: u8, model: &str, v: &str| {
        let mut p = ControlPacket::decode(&join(seq, n, model)).unwrap();
        if let MessageBody::JoinRequest(j) = &mut p.message.body {
            j.descriptor.active_software_version = v.as_bytes().to_vec();
        }
        p.encode().unwrap()
    };
    let mut gate = FirmwareGate::default();
    gate.expected.insert("AP7532".into(), "5.9.3.0-010D".into());
    let mut s = settings();
    s.firmware = std::sync::Arc::new(gate.clone());
    let mut a = Adoption::new(s.clone());
    a.handle_admission(serving(10), ms(0));
    a.handle_control(
        ap_addr(1),
        &with_version(1, 1, "AP7532", "5.9.3.1-010D"),
        ms(10),
    );
    let out = drain(&mut a);
    let r = replies(&out, ap_addr(1));
    let MessageBody::JoinResponse(j) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(j.result_code, ResultCode::JoinFailureUnspecified);
    assert_eq!(
        j.image_identifier,
        Some(ImageIdentifier {
            vendor_id: roost_capwap::vendor::ROOST_VENDOR_ID,
            data: "5.9.3.0-010D".into()
        })
    );
    assert_eq!(
        ev_reason(&events(&out)),
        "firmware \"5.9.3.1-010D\" does not match 5.9.3.0-010D (enforce-version adoption strict)"
    );
    // Another model passes.
    a.handle_control(ap_addr(2), &with_version(1, 2, "AP8533", "1.0"), ms(20));
    let r = replies(&drain(&mut a), ap_addr(2));
    let MessageBody::JoinResponse(j) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(j.result_code, ResultCode::Success);
    assert_eq!(j.image_identifier, None);
    // At `minor` the same AP passes.
    gate.level = EnforceVersion::Minor;
    s.firmware = std::sync::Arc::new(gate);
    a.handle_settings(s, ms(30));
    drain(&mut a);
    a.handle_control(
        ap_addr(1),
        &with_version(2, 1, "AP7532", "5.9.3.1-010D"),
        ms(40),
    );
    let r = replies(&drain(&mut a), ap_addr(1));
    let MessageBody::JoinResponse(j) = &r[0].body else {
        panic!("{r:?}")
    };
    assert_eq!(j.result_code, ResultCode::Success);
}

fn balancing(aps: u8) -> Adoption {
    let mut a = Adoption::new(settings());
    a.handle_admission(serving(10), ms(0));
    for n in 1..=aps {
        adopt(&mut a, n, ms(0));
    }
    drain(&mut a);
    a
}

fn order(count: usize, hold_s: u64) -> Option<BalanceOrder> {
    Some(BalanceOrder {
        target: "vx9000-2".into(),
        count,
        hold_down: Duration::from_secs(hold_s),
    })
}

/// A balancing round tells exactly `count` APs (lowest MACs first) to fall back to the target,
/// ends when the last of them left, and the next round waits for the settle time; an AP that
/// arrived by a move stays within the hold-down.
#[test]
fn a_balancing_round_moves_the_ordered_number_and_no_ap_twice_within_the_hold_down() {
    let mut a = balancing(4);
    a.handle_moved(mac(1), ms(0));
    a.handle_balance(order(2, 600), ms(100));
    let out = drain(&mut a);
    let told: Vec<u8> = (1..=4)
        .filter(|n| !updates(&out, ap_addr(*n)).is_empty())
        .collect();
    assert_eq!(told, vec![2, 3], "AP 1 moved here just now: {out:?}");
    assert_eq!(
        updates(&out, ap_addr(2)),
        vec![(
            1,
            vec![(1, "vx9000-2".to_string()), (2, "vx9000-1".to_string())],
            Some(WtpFallback::Enabled)
        )]
    );
    assert_eq!(a.balance_progress(), Some(("vx9000-2", 2, 0)));
    // The same order again (the view has not caught up) widens nothing.
    a.handle_balance(order(4, 600), ms(150));
    assert!(drain(&mut a).is_empty());
    for n in [2, 3] {
        a.handle_control(
            ap_addr(n),
            &update_response(1, ResultCode::Success),
            ms(200),
        );
    }
    drain(&mut a);
    a.handle_release(mac(2), ReleaseReason::ClaimedElsewhere, ms(300));
    a.handle_release(mac(3), ReleaseReason::ClaimedElsewhere, ms(310));
    let out = drain(&mut a);
    let reasons: Vec<String> = events(&out)
        .iter()
        .filter_map(|e| match e {
            AdoptionEvent::Released { reason, .. } => Some(reason.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec!["moved to vx9000-2 by AP load balancing"; 2]);
    assert_eq!(a.balance_progress(), None);
    assert_eq!(a.counters().balance_moved, 2);
    assert_eq!(a.counters().balance_rounds, 1);
    // A new order within the settle time waits; after it, AP 4 goes (AP 1 still held down).
    a.handle_balance(order(2, 600), ms(400));
    assert!(drain(&mut a).is_empty());
    a.handle_balance(order(2, 600), ms(2_400));
    let out = drain(&mut a);
    let told: Vec<u8> = (1..=4)
        .filter(|n| !updates(&out, ap_addr(*n)).is_empty())
        .collect();
    assert_eq!(told, vec![4]);
}

/// The plan falls within the threshold: the round ends and the APs told to move are told to
/// stay (WTP Fallback disabled, this controller alone in the list).
#[test]
fn an_ended_round_tells_its_aps_to_stay() {
    let mut a = balancing(2);
    a.handle_balance(order(2, 600), ms(100));
    drain(&mut a);
    for n in [1, 2] {
        a.handle_control(
            ap_addr(n),
            &update_response(1, ResultCode::Success),
            ms(200),
        );
    }
    drain(&mut a);
    a.handle_balance(None, ms(300));
    let out = drain(&mut a);
    for n in [1, 2] {
        assert_eq!(
            updates(&out, ap_addr(n)),
            vec![(
                2,
                vec![(1, "vx9000-1".to_string())],
                Some(WtpFallback::Disabled)
            )],
            "{out:?}"
        );
    }
    assert_eq!(a.balance_progress(), None);
}
