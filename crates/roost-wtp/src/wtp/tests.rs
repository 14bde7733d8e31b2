//! The AP's state machine on simulated time: every output decoded back with the codec and
//! compared whole, and a property test that no input panics it.

use super::*;
use proptest::prelude::*;
use roost_capwap::vendor::ROOST_VENDOR_ID;

const MAC: [u8; 6] = [0xB4, 0xC7, 0x99, 0x12, 0x34, 0x56];
const SEED: [u8; 16] = [7; 16];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ac1() -> SocketAddr {
    addr("10.0.0.1:5246")
}

fn ac2() -> SocketAddr {
    addr("10.0.0.2:5246")
}

fn ip_of(a: SocketAddr) -> Ipv4Addr {
    match a.ip() {
        std::net::IpAddr::V4(ip) => ip,
        std::net::IpAddr::V6(_) => unreachable!(),
    }
}

fn identity() -> WtpIdentity {
    WtpIdentity::new(
        MAC,
        "AP7532",
        "14123522200001",
        "ap7532-123456",
        "5.9.1.0-roost",
        Ipv4Addr::new(127, 20, 0, 1),
    )
}

fn fast() -> FastTimers {
    FastTimers {
        echo_interval: ms(1000),
        retransmit_interval: ms(300),
        max_retransmit: 1,
    }
}

/// A test AP and its clock.
struct T {
    w: Wtp,
    now: Instant,
}

impl T {
    fn new(controllers: ControllerList, settings: WtpSettings) -> T {
        let now = Instant::now();
        T {
            w: Wtp::new(identity(), controllers, settings, SEED, now).unwrap(),
            now,
        }
    }

    fn one_ac() -> T {
        T::new(ControllerList::pool1([ac1()]), WtpSettings::default())
    }

    /// One AC, and keep-alives out of the way of the echo timing.
    fn quiet_data() -> T {
        let settings = WtpSettings {
            keep_alive_interval: secs(100),
            data_channel_dead_interval: secs(240),
            ..WtpSettings::default()
        };
        T::new(ControllerList::pool1([ac1()]), settings)
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.w.handle_timeout(self.now);
    }

    /// To the AP's next deadline.
    fn until_deadline(&mut self) -> Duration {
        let t = self.w.poll_timeout().expect("a deadline");
        let d = t.saturating_duration_since(self.now);
        self.now = t;
        self.w.handle_timeout(t);
        d
    }

    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.w.poll_output()).collect()
    }

    /// Control datagrams sent, decoded, and nothing else (events dropped).
    fn sent(&mut self) -> Vec<(SocketAddr, ControlMessage)> {
        self.outputs()
            .into_iter()
            .filter_map(|o| match o {
                Output::Control { to, bytes } => {
                    let p = ControlPacket::decode(&bytes).expect("the AP sends valid CAPWAP");
                    assert_eq!(p.header, roost_capwap::CapwapHeader::control());
                    Some((to, p.message))
                }
                _ => None,
            })
            .collect()
    }

    /// The one control message sent.
    fn one(&mut self) -> (SocketAddr, ControlMessage) {
        let mut s = self.sent();
        assert_eq!(s.len(), 1, "{s:?}");
        s.pop().unwrap()
    }

    fn events(&mut self) -> Vec<Event> {
        self.outputs()
            .into_iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn receive(&mut self, from: SocketAddr, seq: u8, body: MessageBody) -> Result<(), WtpError> {
        let bytes = ControlPacket::new(ControlMessage::new(seq, body))
            .encode()
            .unwrap();
        self.w.handle_control(from, &bytes, self.now)
    }

    fn data_from(&mut self, from: SocketAddr, id: SessionId) -> Result<(), WtpError> {
        let bytes = KeepAlive::new(id).encode().unwrap();
        self.w.handle_data(from, &bytes, self.now)
    }

    /// Answers the Discovery Request just sent by each of `acs`.
    fn discover(&mut self, acs: &[(SocketAddr, &str, u16, u16)]) {
        let sent = self.sent();
        for (a, name, active, max) in acs {
            let (_, req) = sent.iter().find(|(to, _)| to == a).expect("asked");
            self.receive(
                *a,
                req.seq,
                discovery_response(name, *a, *active, *max, *active),
            )
            .unwrap();
        }
    }

    /// From Discovery (just started) to Run on `ac`, with `fast` timers and `ac_list`.
    fn adopt(
        &mut self,
        ac: SocketAddr,
        name: &str,
        fast: Option<FastTimers>,
        ac_list: &[SocketAddr],
    ) {
        self.discover(&[(ac, name, 0, 100)]);
        self.run_from_join(ac, name, fast, ac_list);
    }

    /// From a Join Request just sent to `ac` to Run.
    fn run_from_join(
        &mut self,
        ac: SocketAddr,
        name: &str,
        fast: Option<FastTimers>,
        ac_list: &[SocketAddr],
    ) {
        let p = self.w.pending.as_ref().expect("a Join Request outstanding");
        assert_eq!((p.to, p.expect), (ac, MessageType::JoinResponse));
        let seq = p.seq;
        self.outputs();
        self.receive(
            ac,
            seq,
            MessageBody::JoinResponse(join_response(ResultCode::Success, name, ac, fast)),
        )
        .unwrap();
        let (_, cs) = self.one();
        assert_eq!(cs.message_type(), MessageType::ConfigurationStatusRequest);
        let list: Vec<Ipv4Addr> = ac_list.iter().map(|a| ip_of(*a)).collect();
        self.receive(
            ac,
            cs.seq,
            MessageBody::ConfigurationStatusResponse(configuration_status_response(&list, fast)),
        )
        .unwrap();
        let (_, ce) = self.one();
        assert_eq!(ce.message_type(), MessageType::ChangeStateEventRequest);
        self.receive(
            ac,
            ce.seq,
            MessageBody::ChangeStateEventResponse(Default::default()),
        )
        .unwrap();
        let id = self.w.session_id().unwrap();
        let ka = self.keepalives();
        assert_eq!(ka, [(data_address(ac), id)]);
        self.data_from(data_address(ac), id).unwrap();
        assert_eq!(self.w.state(), State::Run);
        self.outputs();
    }

    fn keepalives(&mut self) -> Vec<(SocketAddr, SessionId)> {
        self.outputs()
            .into_iter()
            .filter_map(|o| match o {
                Output::Data { to, bytes } => {
                    Some((to, KeepAlive::decode(&bytes).unwrap().session_id))
                }
                _ => None,
            })
            .collect()
    }
}

fn discovery_response(
    name: &str,
    ac: SocketAddr,
    active: u16,
    max: u16,
    wtp_count: u16,
) -> MessageBody {
    MessageBody::DiscoveryResponse(DiscoveryResponse {
        ac_descriptor: ac_descriptor(active, max),
        ac_name: AcName(name.into()),
        radios: vec![WtpRadioInformation {
            radio_id: 1,
            radio_type: RadioType::B | RadioType::G,
        }],
        control_ipv4: vec![CapwapControlIpv4Address {
            address: ip_of(ac),
            wtp_count,
        }],
        control_ipv6: vec![],
        vendor_specific: vec![],
        other_elements: vec![],
    })
}

fn ac_descriptor(active: u16, max: u16) -> AcDescriptor {
    AcDescriptor {
        stations: 0,
        limit: 1000,
        active_wtps: active,
        max_wtps: max,
        security: AcSecurity::X509,
        r_mac: RMacField::NotSupported,
        dtls_policy: DtlsPolicy::CLEAR_DATA,
        hardware_version: b"VX9000".to_vec(),
        software_version: b"5.9.1.0".to_vec(),
        other_information: vec![],
    }
}

fn join_response(
    code: ResultCode,
    name: &str,
    ac: SocketAddr,
    fast: Option<FastTimers>,
) -> JoinResponse {
    JoinResponse {
        result_code: code,
        ac_descriptor: ac_descriptor(0, 100),
        ac_name: AcName(name.into()),
        radios: vec![WtpRadioInformation {
            radio_id: 1,
            radio_type: RadioType::B,
        }],
        ecn_support: EcnSupport::Limited,
        control_ipv4: Some(CapwapControlIpv4Address {
            address: ip_of(ac),
            wtp_count: 0,
        }),
        control_ipv6: None,
        local_ipv4: Some(CapwapLocalIpv4Address(ip_of(ac))),
        local_ipv6: None,
        ac_ipv4_list: None,
        ac_ipv6_list: None,
        transport_protocol: None,
        image_identifier: None,
        maximum_message_length: None,
        vendor_specific: fast.iter().map(|f| f.to_vendor()).collect(),
        other_elements: vec![],
    }
}

fn configuration_status_response(
    ac_list: &[Ipv4Addr],
    fast: Option<FastTimers>,
) -> ConfigurationStatusResponse {
    ConfigurationStatusResponse {
        timers: CapwapTimers {
            discovery: 20,
            echo_request: 30,
        },
        decryption_error_report_periods: vec![DecryptionErrorReportPeriod {
            radio_id: 1,
            report_interval: 120,
        }],
        idle_timeout: IdleTimeout(300),
        wtp_fallback: WtpFallback::Enabled,
        ac_ipv4_list: Some(AcIpv4List(if ac_list.is_empty() {
            vec![Ipv4Addr::new(10, 0, 0, 1)]
        } else {
            ac_list.to_vec()
        })),
        ac_ipv6_list: None,
        static_ip: None,
        radio_configurations: vec![],
        tx_powers: vec![],
        dsss_controls: vec![],
        ofdm_controls: vec![],
        vendor_specific: fast.iter().map(|f| f.to_vendor()).collect(),
        other_elements: vec![],
    }
}

fn add_wlan(radio_id: u8, wlan_id: u8, ssid: &str) -> MessageBody {
    MessageBody::WlanConfigurationRequest(WlanConfigurationRequest {
        operation: WlanOperation::Add(AddWlan {
            radio_id,
            wlan_id,
            capability: WlanCapability::ESS | WlanCapability::PRIVACY,
            key_index: 1,
            key_status: KeyStatus::PerStation,
            key: vec![0x11; 16],
            group_tsc: [0; 6],
            qos: WlanQos::BestEffort,
            auth_type: AuthType::OpenSystem,
            mac_mode: WlanMacMode::Local,
            tunnel_mode: WlanTunnelMode::LocalBridging,
            suppress_ssid: 1,
            ssid: ssid.as_bytes().to_vec(),
        }),
        information_elements: vec![InformationElement {
            radio_id,
            wlan_id,
            beacon: true,
            probe_response: true,
            ie: vec![48, 2, 1, 0],
        }],
        vendor_specific: vec![],
        other_elements: vec![],
    })
}

#[test]
fn discovery_to_run_with_every_mandatory_element() {
    let mut t = T::one_ac();
    let t0 = t.now;
    assert_eq!(t.w.state(), State::Discovery);
    let outputs = t.outputs();
    assert!(matches!(
        outputs[0],
        Output::Event(Event::StateChanged {
            from: State::Idle,
            to: State::Discovery
        })
    ));
    let Output::Control { to, bytes } = &outputs[1] else {
        panic!("{outputs:?}")
    };
    assert_eq!(*to, ac1());
    let board = WtpBoardData {
        vendor_id: ROOST_VENDOR_ID,
        model_number: b"AP7532".to_vec(),
        serial_number: b"14123522200001".to_vec(),
        board_id: None,
        board_revision: None,
        base_mac: Some(MacAddress::Eui48(MAC)),
        other: vec![],
    };
    let descriptor = WtpDescriptor {
        max_radios: 2,
        radios_in_use: 2,
        encryption: vec![EncryptionCapability {
            wbid: 1,
            capabilities: EncryptionCapabilities::AES_CCMP | EncryptionCapabilities::TKIP,
        }],
        hardware_version: b"1.0".to_vec(),
        active_software_version: b"5.9.1.0-roost".to_vec(),
        boot_version: b"1.0".to_vec(),
        other_software_version: None,
        vendor_descriptors: vec![],
    };
    let radios = vec![
        WtpRadioInformation {
            radio_id: 1,
            radio_type: RadioType::B | RadioType::G | RadioType::N,
        },
        WtpRadioInformation {
            radio_id: 2,
            radio_type: RadioType::A | RadioType::N,
        },
    ];
    assert_eq!(
        ControlPacket::decode(bytes).unwrap().message,
        ControlMessage::new(
            0,
            MessageBody::DiscoveryRequest(DiscoveryRequest {
                discovery_type: DiscoveryType::Static,
                board_data: board.clone(),
                descriptor: descriptor.clone(),
                frame_tunnel_mode: WtpFrameTunnelMode::LOCAL_BRIDGING,
                mac_type: WtpMacType::Local,
                radios: radios.clone(),
                mtu_discovery_padding: None,
                vendor_specific: vec![],
                other_elements: vec![],
            })
        )
    );
    // The descriptor's standard sub-elements carry Vendor ID 0 on the wire: "1.0" hardware
    // version is `00000000 0000 0003 "1.0"`.
    let hw = [0, 0, 0, 0, 0, 0, 0, 3, b'1', b'.', b'0'];
    assert!(bytes.windows(hw.len()).any(|w| w == hw));
    assert_eq!(outputs.len(), 2);
    assert_eq!(t.w.poll_timeout(), Some(t0 + secs(5)));

    // The only AC answers: no more responses can come, so the AP joins at once.
    t.now += ms(2);
    t.receive(ac1(), 0, discovery_response("rfs-1", ac1(), 10, 100, 10))
        .unwrap();
    assert_eq!(t.w.state(), State::Join);
    let (to, join) = t.one();
    assert_eq!(to, ac1());
    let id = t.w.session_id().unwrap();
    assert_eq!(id.0[8..], SEED[8..]);
    assert_eq!(
        join,
        ControlMessage::new(
            1,
            MessageBody::JoinRequest(JoinRequest {
                location: LocationData("roost-sim".into()),
                board_data: board,
                descriptor,
                wtp_name: WtpName("ap7532-123456".into()),
                session_id: id,
                frame_tunnel_mode: WtpFrameTunnelMode::LOCAL_BRIDGING,
                mac_type: WtpMacType::Local,
                radios: radios.clone(),
                ecn_support: EcnSupport::Limited,
                local_ipv4: Some(CapwapLocalIpv4Address(Ipv4Addr::new(127, 20, 0, 1))),
                local_ipv6: None,
                transport_protocol: None,
                maximum_message_length: None,
                reboot_statistics: Some(WtpRebootStatistics {
                    reboot_count: 0,
                    ac_initiated_count: 0,
                    link_failure_count: 0,
                    sw_failure_count: 0,
                    hw_failure_count: 0,
                    other_failure_count: 0,
                    unknown_failure_count: 0,
                    last_failure_type: RebootFailureType::NotSupported,
                }),
                // The RFC timers it runs now, announcing that it knows Roost's element.
                vendor_specific: vec![FastTimers {
                    echo_interval: secs(30),
                    retransmit_interval: secs(3),
                    max_retransmit: 5,
                }
                .to_vendor()],
                other_elements: vec![],
            })
        )
    );
    assert_eq!(t.w.poll_timeout(), Some(t.now + secs(3)));

    t.receive(
        ac1(),
        1,
        MessageBody::JoinResponse(join_response(
            ResultCode::Success,
            "rfs-1",
            ac1(),
            Some(fast()),
        )),
    )
    .unwrap();
    assert_eq!(t.w.state(), State::Configure);
    assert_eq!(t.w.timers().retransmit_interval, ms(300));
    let (to, cs) = t.one();
    assert_eq!(to, ac1());
    let MessageBody::ConfigurationStatusRequest(req) = cs.body else {
        panic!()
    };
    assert_eq!(cs.seq, 2);
    assert_eq!(req.ac_name, AcName("rfs-1".into()));
    assert_eq!(
        req.radio_admin_states,
        [0xFF, 1, 2].map(|radio_id| RadioAdministrativeState {
            radio_id,
            admin_state: AdminState::Enabled
        })
    );
    assert_eq!(req.statistics_timer, StatisticsTimer(120));
    assert_eq!(req.radios, radios);
    assert_eq!(t.w.poll_timeout(), Some(t.now + ms(300)));

    t.receive(
        ac1(),
        2,
        MessageBody::ConfigurationStatusResponse(configuration_status_response(
            &[ip_of(ac1()), ip_of(ac2())],
            None,
        )),
    )
    .unwrap();
    assert_eq!(t.w.state(), State::DataCheck);
    assert_eq!(t.w.ac_list(), [ip_of(ac1()), ip_of(ac2())]);
    // CAPWAP Timers' whole-second echo does not override the fast timers.
    assert_eq!(t.w.timers().echo_interval, ms(1000));
    let (_, ce) = t.one();
    assert_eq!(
        ce,
        ControlMessage::new(
            3,
            MessageBody::ChangeStateEventRequest(ChangeStateEventRequest {
                radio_operational_states: [1, 2]
                    .map(|radio_id| RadioOperationalState {
                        radio_id,
                        state: OperationalState::Enabled,
                        cause: OperationalCause::Normal,
                    })
                    .to_vec(),
                result_code: ResultCode::Success,
                returned_elements: vec![],
                radio_fail_alarms: vec![],
                vendor_specific: vec![],
                other_elements: vec![],
            })
        )
    );
    t.receive(
        ac1(),
        3,
        MessageBody::ChangeStateEventResponse(Default::default()),
    )
    .unwrap();
    assert_eq!(t.keepalives(), [(addr("10.0.0.1:5247"), id)]);
    // Data Check: the keep-alive is retransmitted until the AC echoes it.
    assert_eq!(t.until_deadline(), ms(300));
    assert_eq!(t.keepalives(), [(addr("10.0.0.1:5247"), id)]);
    // An echo from the wrong port or with another session does not count.
    assert!(matches!(
        t.data_from(addr("10.0.0.1:5246"), id),
        Err(WtpError::UnexpectedSource { .. })
    ));
    assert!(matches!(
        t.data_from(addr("10.0.0.1:5247"), SessionId([0; 16])),
        Err(WtpError::WrongSession { .. })
    ));
    t.data_from(addr("10.0.0.1:5247"), id).unwrap();
    assert_eq!(t.w.state(), State::Run);
    assert_eq!(
        t.events(),
        [
            Event::StateChanged {
                from: State::DataCheck,
                to: State::Run
            },
            Event::Adopted {
                ac: ac1(),
                ac_name: "rfs-1".into()
            },
        ]
    );
    // Run: Echo Request every (fast) echo interval.
    assert_eq!(t.until_deadline(), ms(1000));
    let (to, echo) = t.one();
    assert_eq!(
        (to, echo),
        (
            ac1(),
            ControlMessage::new(4, MessageBody::EchoRequest(EchoRequest::default()))
        )
    );
    t.now += ms(1);
    t.receive(ac1(), 4, MessageBody::EchoResponse(EchoResponse::default()))
        .unwrap();
    assert_eq!(t.w.poll_timeout(), Some(t.now + ms(1000)));
    assert_eq!(t.w.counters().dropped(), 2);
}

#[test]
fn retransmissions_double_to_half_the_echo_interval_then_the_next_ac_without_discovery() {
    let mut t = T::quiet_data();
    t.adopt(ac1(), "rfs-1", None, &[ac1(), ac2()]);
    // RFC timers: Echo after 30 s, then retransmissions 3, 6, 12, 15, 15 s apart, then 15 s
    // more and the AC is lost.
    assert_eq!(t.until_deadline(), secs(30));
    let (_, echo) = t.one();
    let mut waits = vec![];
    for _ in 0..5 {
        waits.push(t.until_deadline());
        let (to, again) = t.one();
        assert_eq!((to, &again), (ac1(), &echo));
    }
    assert_eq!(waits, [3, 6, 12, 15, 15].map(secs));
    assert_eq!(t.until_deadline(), secs(15));
    let detected = t.now;
    let out = t.outputs();
    let events: Vec<&Event> = out
        .iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        [
            &Event::AcLost {
                ac: ac1(),
                detected_at: detected,
                cause: LossCause::NoResponse(MessageType::EchoRequest)
            },
            &Event::StateChanged {
                from: State::Run,
                to: State::Join
            },
        ]
    );
    // Straight to a Join on the next AC of the AC IPv4 List: no Discovery Request.
    let sent: Vec<(SocketAddr, MessageType)> = out
        .iter()
        .filter_map(|o| match o {
            Output::Control { to, bytes } => Some((
                *to,
                ControlPacket::decode(bytes).unwrap().message.message_type(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(sent, [(ac2(), MessageType::JoinRequest)]);
    assert_eq!(t.w.counters().retransmits, 5);
}

#[test]
fn fast_timers_detect_a_dead_ac_in_under_a_second_and_readopt_on_the_ac_list() {
    // The AC list names 10.0.0.2, which is not in the controller list: port 5246.
    let mut t = T::one_ac();
    t.adopt(ac1(), "rfs-1", Some(fast()), &[ac1(), ac2()]);
    let first = t.w.session_id().unwrap();
    assert_eq!(t.until_deadline(), ms(1000));
    t.one();
    assert_eq!(t.until_deadline(), ms(300));
    t.one();
    assert_eq!(t.until_deadline(), ms(500));
    let detected = t.now;
    assert!(t.outputs().contains(&Output::Event(Event::AcLost {
        ac: ac1(),
        detected_at: detected,
        cause: LossCause::NoResponse(MessageType::EchoRequest)
    })));
    t.now += ms(3);
    t.run_from_join(ac2(), "rfs-2", Some(fast()), &[ac1(), ac2()]);
    assert_ne!(t.w.session_id().unwrap(), first);
    assert_eq!(t.w.ac(), Some(ac2()));
}

fn ac3() -> SocketAddr {
    addr("10.0.0.3:5246")
}

fn lost_notice(session: SessionId) -> MessageBody {
    MessageBody::ControllerLostRequest(ControllerLostRequest {
        vendor_specific: vec![roost_capwap::vendor::LostSession {
            session_id: session.0,
        }
        .to_vendor()],
        ..Default::default()
    })
}

#[test]
fn a_controller_lost_notice_probes_at_once_and_joins_the_member_that_sent_it() {
    // Three retransmissions in Run (the daemon's timers): the probe makes one.
    let timers = FastTimers {
        max_retransmit: 3,
        ..fast()
    };
    let mut t = T::one_ac();
    t.adopt(ac1(), "rfs-1", Some(timers), &[ac1(), ac2(), ac3()]);
    let session = t.w.session_id().unwrap();
    t.now += ms(100);
    t.receive(ac3(), 0, lost_notice(session)).unwrap();
    // An echo at once, not at the next echo interval...
    let (to, echo) = t.one();
    assert_eq!((to, echo.message_type()), (ac1(), MessageType::EchoRequest));
    // ...retried once at half the retransmit interval, without doubling...
    assert_eq!(t.until_deadline(), ms(150));
    let (to, again) = t.one();
    assert_eq!((to, again.seq), (ac1(), echo.seq));
    // ...then the AC is lost and the member that said so is joined first (ac2 is next in
    // the AC list).
    assert_eq!(t.until_deadline(), ms(150));
    let out = t.outputs();
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Event(Event::AcLost {
            ac,
            cause: LossCause::NoResponse(MessageType::EchoRequest),
            ..
        }) if *ac == ac1()
    )));
    let joins: Vec<SocketAddr> = out
        .iter()
        .filter_map(|o| match o {
            Output::Control { to, bytes } => {
                let m = ControlPacket::decode(bytes).unwrap().message;
                (m.message_type() == MessageType::JoinRequest).then_some(*to)
            }
            _ => None,
        })
        .collect();
    assert_eq!(joins, [ac3()]);
    assert_eq!(t.w.counters().lost_notices, 1);
}

#[test]
fn a_controller_lost_notice_for_another_session_or_from_a_live_ac_moves_nothing() {
    let mut t = T::one_ac();
    t.adopt(ac1(), "rfs-1", Some(fast()), &[ac1(), ac2()]);
    let session = t.w.session_id().unwrap();
    // Another session's notice, one with no session at all, and one from the AC itself.
    let other = SessionId([0xAB; 16]);
    assert!(matches!(
        t.receive(ac2(), 0, lost_notice(other)),
        Err(WtpError::WrongSession { .. })
    ));
    let bare = MessageBody::ControllerLostRequest(ControllerLostRequest::default());
    assert!(t.receive(ac2(), 0, bare).is_err());
    assert!(t.receive(ac1(), 0, lost_notice(session)).is_err());
    assert!(t.sent().is_empty());
    assert_eq!(t.w.counters().lost_notices, 0);
    // A right one whose AC answers the probe: the AP stays, and its echoes go on as before.
    t.receive(ac2(), 0, lost_notice(session)).unwrap();
    let (_, echo) = t.one();
    t.now += ms(20);
    t.receive(
        ac1(),
        echo.seq,
        MessageBody::EchoResponse(Default::default()),
    )
    .unwrap();
    assert_eq!(t.until_deadline(), ms(1000));
    let (to, m) = t.one();
    assert_eq!((to, m.message_type()), (ac1(), MessageType::EchoRequest));
    assert_eq!(t.w.ac(), Some(ac1()));
    assert_eq!(t.w.session_id(), Some(session));
}

#[test]
fn before_run_a_slow_ac_gets_the_rfcs_retransmissions_at_the_fast_interval() {
    // A controller busy with thousands of Joins is alive: one retransmission is for Run.
    let mut t = T::one_ac();
    t.discover(&[(ac1(), "rfs-1", 0, 100)]);
    let seq = t.w.pending.as_ref().unwrap().seq;
    t.outputs();
    t.receive(
        ac1(),
        seq,
        MessageBody::JoinResponse(join_response(
            ResultCode::Success,
            "rfs-1",
            ac1(),
            Some(fast()),
        )),
    )
    .unwrap();
    let (_, cs) = t.one();
    assert_eq!(cs.message_type(), MessageType::ConfigurationStatusRequest);
    let mut waits = vec![];
    for _ in 0..5 {
        waits.push(t.until_deadline());
        let (to, again) = t.one();
        assert_eq!(
            (to, again.seq),
            (ac1(), cs.seq),
            "the same request, unchanged"
        );
    }
    assert_eq!(waits, [300, 500, 500, 500, 500].map(ms));
    assert_eq!(t.until_deadline(), ms(500));
    assert!(t.outputs().iter().any(|o| matches!(
        o,
        Output::Event(Event::AcLost {
            cause: LossCause::NoResponse(MessageType::ConfigurationStatusRequest),
            ..
        })
    )));
}

#[test]
fn a_refusal_is_reported_and_the_next_ac_tried_then_later_a_new_discovery() {
    let mut t = T::new(
        ControllerList::pool1([ac1(), ac2()]),
        WtpSettings::default(),
    );
    // ac1 is less loaded (10/100 vs 50/100), so first.
    t.discover(&[(ac2(), "rfs-2", 50, 100), (ac1(), "rfs-1", 10, 100)]);
    let (to, join) = t.one();
    assert_eq!(to, ac1());
    let code = ResultCode::JoinFailureResourceDepletion;
    t.receive(
        ac1(),
        join.seq,
        MessageBody::JoinResponse(join_response(code, "rfs-1", ac1(), None)),
    )
    .unwrap();
    let out = t.outputs();
    assert!(out.contains(&Output::Event(Event::Refused {
        ac: ac1(),
        code,
        reason: "Join Failure (Resource Depletion)".into()
    })));
    let joins: Vec<SocketAddr> = out
        .iter()
        .filter_map(|o| match o {
            Output::Control { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(joins, [ac2()]);
    let (_, join2) = (ac2(), t.w.pending.as_ref().unwrap().seq);
    t.receive(
        ac2(),
        join2,
        MessageBody::JoinResponse(join_response(code, "rfs-2", ac2(), None)),
    )
    .unwrap();
    assert_eq!(t.w.state(), State::Idle);
    assert!(t.sent().is_empty());
    // DiscoveryInterval later, a new discovery round.
    assert_eq!(t.until_deadline(), secs(5));
    assert_eq!(t.w.state(), State::Discovery);
    let to: Vec<SocketAddr> = t.sent().into_iter().map(|(a, _)| a).collect();
    assert_eq!(to, [ac1(), ac2()]);
}

#[test]
fn pool_two_only_when_pool_one_is_silent_and_the_wait_for_more_responses() {
    let list: ControllerList = "pool1=10.0.0.1,10.0.0.3;pool2=10.0.0.2;level=1"
        .parse()
        .unwrap();
    let ac3 = addr("10.0.0.3:5246");
    let mut t = T::new(list, WtpSettings::default());
    let to: Vec<SocketAddr> = t.sent().into_iter().map(|(a, _)| a).collect();
    assert_eq!(to, [ac1(), ac3]);
    assert_eq!(t.until_deadline(), secs(5));
    let to: Vec<SocketAddr> = t.sent().into_iter().map(|(a, _)| a).collect();
    assert_eq!(to, [ac1(), ac3, ac2()]);
    // ac2 answers; ac1 and ac3 may still: wait DiscoveryInterval for them.
    t.now += ms(10);
    t.receive(ac2(), 1, discovery_response("rfs-2", ac2(), 0, 100, 0))
        .unwrap();
    assert_eq!(t.w.state(), State::Discovery);
    assert_eq!(t.w.poll_timeout(), Some(t.now + secs(5)));
    // ac3 answers, fuller than ac2 but in pool 1: it wins.
    t.now += ms(10);
    t.receive(ac3, 1, discovery_response("rfs-3", ac3, 90, 100, 90))
        .unwrap();
    assert_eq!(t.until_deadline(), secs(5) - ms(10));
    let (to, join) = t.one();
    assert_eq!((to, join.message_type()), (ac3, MessageType::JoinRequest));
    // A late response is counted, not acted on.
    assert!(matches!(
        t.receive(ac1(), 1, discovery_response("rfs-1", ac1(), 0, 100, 0)),
        Err(WtpError::Unexpected { .. })
    ));
}

#[test]
fn the_least_loaded_interface_and_ac_win() {
    let b = addr("10.0.0.5:5246");
    let mut t = T::new(
        ControllerList::pool1([ac1(), ac2(), b]),
        WtpSettings::default(),
    );
    t.sent();
    t.receive(ac1(), 0, discovery_response("a", ac1(), 30, 100, 30))
        .unwrap();
    t.receive(ac2(), 0, discovery_response("b", ac2(), 20, 100, 25))
        .unwrap();
    // Same load as ac2 but fewer WTPs on its (second) interface 10.0.0.9.
    let mut r = discovery_response("c", b, 20, 100, 25);
    if let MessageBody::DiscoveryResponse(d) = &mut r {
        d.control_ipv4.push(CapwapControlIpv4Address {
            address: Ipv4Addr::new(10, 0, 0, 9),
            wtp_count: 3,
        });
    }
    t.receive(b, 0, r).unwrap();
    let (to, _) = t.one();
    assert_eq!(to, addr("10.0.0.9:5246"));
}

#[test]
fn sulks_after_max_discoveries_and_ignores_everything_meanwhile() {
    let mut t = T::one_ac();
    assert_eq!(t.sent().len(), 1);
    for _ in 1..10 {
        assert_eq!(t.until_deadline(), secs(5));
        assert_eq!(t.sent().len(), 1);
    }
    assert_eq!(t.until_deadline(), secs(5));
    assert_eq!(t.w.state(), State::Sulking);
    assert!(t.sent().is_empty());
    assert!(matches!(
        t.receive(ac1(), 9, discovery_response("rfs-1", ac1(), 0, 100, 0)),
        Err(WtpError::Sulking { .. })
    ));
    assert_eq!(t.until_deadline(), secs(30));
    assert_eq!(t.w.state(), State::Discovery);
    assert_eq!(t.sent().len(), 1);
    assert_eq!(t.w.counters().sulking, 1);
}

#[test]
fn ac_requests_are_answered_once_per_sequence_number() {
    let mut t = T::one_ac();
    t.adopt(ac1(), "rfs-1", None, &[]);
    t.receive(ac1(), 10, add_wlan(1, 1, "corp")).unwrap();
    let out = t.outputs();
    let bssid = [0xB6, 0xC7, 0x99, 0x12, 0x34, 0x56];
    assert_eq!(
        out[0],
        Output::Event(Event::WlanAdded {
            radio_id: 1,
            wlan_id: 1,
            ssid: b"corp".to_vec(),
            bssid
        })
    );
    let Output::Control { to, bytes } = &out[1] else {
        panic!()
    };
    assert_eq!(*to, ac1());
    assert_eq!(
        ControlPacket::decode(bytes).unwrap().message,
        ControlMessage::new(
            10,
            MessageBody::WlanConfigurationResponse(WlanConfigurationResponse {
                result_code: ResultCode::Success,
                assigned_bssid: Some(AssignedWtpBssid {
                    radio_id: 1,
                    wlan_id: 1,
                    bssid
                }),
                vendor_specific: vec![],
                other_elements: vec![],
            })
        )
    );
    assert_eq!(t.w.wlans().len(), 1);
    assert_eq!(t.w.wlans()[0].rsn.as_deref(), Some(&[48, 2, 1, 0][..]));
    // The same sequence number again: the cached response, no second WLAN.
    t.receive(ac1(), 10, add_wlan(1, 1, "corp")).unwrap();
    assert_eq!(
        t.outputs(),
        [Output::Control {
            to: ac1(),
            bytes: bytes.clone()
        }]
    );
    // Older: ignored.
    assert!(matches!(
        t.receive(ac1(), 9, add_wlan(2, 1, "x")),
        Err(WtpError::StaleRequest {
            seq: 9,
            last: 10,
            ..
        })
    ));
    assert!(t.outputs().is_empty());
    // A radio the AP lacks: Result Code 13.
    t.receive(ac1(), 11, add_wlan(3, 1, "x")).unwrap();
    let (_, m) = t.one();
    assert!(matches!(
        m.body,
        MessageBody::WlanConfigurationResponse(WlanConfigurationResponse {
            result_code: ResultCode::ConfigurationFailureServiceNotProvided,
            assigned_bssid: None,
            ..
        })
    ));
    let update = MessageBody::WlanConfigurationRequest(WlanConfigurationRequest {
        operation: WlanOperation::Update(UpdateWlan {
            radio_id: 1,
            wlan_id: 1,
            capability: WlanCapability::ESS,
            key_index: 1,
            key_status: KeyStatus::PerStation,
            key: vec![],
        }),
        information_elements: vec![],
        vendor_specific: vec![],
        other_elements: vec![],
    });
    t.receive(ac1(), 12, update).unwrap();
    assert_eq!(
        t.events(),
        [Event::WlanUpdated {
            radio_id: 1,
            wlan_id: 1
        }]
    );
    assert_eq!(t.w.wlans()[0].capability, WlanCapability::ESS);
    let delete = MessageBody::WlanConfigurationRequest(WlanConfigurationRequest {
        operation: WlanOperation::Delete(DeleteWlan {
            radio_id: 1,
            wlan_id: 1,
        }),
        information_elements: vec![],
        vendor_specific: vec![],
        other_elements: vec![],
    });
    t.receive(ac1(), 13, delete).unwrap();
    let out = t.outputs();
    assert_eq!(
        out[0],
        Output::Event(Event::WlanDeleted {
            radio_id: 1,
            wlan_id: 1
        })
    );
    assert!(t.w.wlans().is_empty());
    // Sequence numbers wrap: 14 → ... → 255 → 0 is newer.
    t.receive(
        ac1(),
        130,
        MessageBody::Other {
            message_type: 25,
            elements: vec![],
        },
    )
    .unwrap();
    let (_, m) = t.one();
    assert_eq!(
        m,
        ControlMessage::new(
            130,
            MessageBody::Other {
                message_type: 26,
                elements: vec![RawElement {
                    element_type: 33,
                    value: vec![0, 0, 0, 19]
                }]
            }
        )
    );
}

#[test]
fn stray_and_duplicate_responses_are_discarded_and_counted() {
    let mut t = T::one_ac();
    t.adopt(ac1(), "rfs-1", None, &[]);
    t.until_deadline();
    let (_, echo) = t.one();
    let wrong = echo.seq.wrapping_add(1);
    assert!(matches!(
        t.receive(ac1(), wrong, MessageBody::EchoResponse(Default::default())),
        Err(WtpError::DuplicateResponse { .. })
    ));
    assert!(matches!(
        t.receive(
            addr("10.9.9.9:5246"),
            echo.seq,
            MessageBody::EchoResponse(Default::default())
        ),
        Err(WtpError::UnexpectedSource { .. })
    ));
    assert!(matches!(
        t.receive(
            ac1(),
            echo.seq,
            MessageBody::ChangeStateEventResponse(Default::default())
        ),
        Err(WtpError::Unexpected { .. })
    ));
    t.receive(
        ac1(),
        echo.seq,
        MessageBody::EchoResponse(Default::default()),
    )
    .unwrap();
    assert!(matches!(
        t.receive(
            ac1(),
            echo.seq,
            MessageBody::EchoResponse(Default::default())
        ),
        Err(WtpError::DuplicateResponse { .. })
    ));
    assert!(matches!(
        t.w.handle_control(ac1(), b"\x00\x10", t.now),
        Err(WtpError::Malformed { .. })
    ));
    assert!(matches!(
        t.w.handle_control(ac1(), b"\x01\x00\x00\x00", t.now),
        Err(WtpError::Malformed { .. })
    ));
    let c = *t.w.counters();
    assert_eq!((c.duplicates, c.unexpected, c.malformed), (2, 2, 2));
    assert!(t.outputs().is_empty());
    assert_eq!(t.w.state(), State::Run);
}

#[test]
fn fallback_moves_back_to_the_higher_priority_ac_without_a_reset() {
    let mut t = T::new(
        ControllerList::pool1([ac1(), ac2()]),
        WtpSettings::default(),
    );
    t.discover(&[(ac1(), "rfs-1", 0, 100), (ac2(), "rfs-2", 0, 100)]);
    t.run_from_join(ac1(), "rfs-1", Some(fast()), &[ac1(), ac2()]);
    // rfs-1 dies; the AP runs on rfs-2.
    for _ in 0..3 {
        t.until_deadline();
        t.sent();
    }
    t.run_from_join(ac2(), "rfs-2", Some(fast()), &[ac2(), ac1()]);
    // rfs-2 says rfs-1 is the primary.
    let update = ConfigurationUpdateRequest {
        ac_names_with_priority: vec![
            AcNameWithPriority {
                priority: 1,
                name: "rfs-1".into(),
            },
            AcNameWithPriority {
                priority: 2,
                name: "rfs-2".into(),
            },
        ],
        wtp_fallback: Some(WtpFallback::Enabled),
        ..Default::default()
    };
    t.receive(ac2(), 1, MessageBody::ConfigurationUpdateRequest(update))
        .unwrap();
    // The answer, and at once a Primary Discovery Request to the better AC.
    let sent = t.sent();
    let [(to_r, r), (to_p, p)] = &sent[..] else {
        panic!("{sent:?}");
    };
    assert_eq!((*to_r, *to_p), (ac2(), ac1()));
    assert!(matches!(
        r.body,
        MessageBody::ConfigurationUpdateResponse(ConfigurationUpdateResponse {
            result_code: ResultCode::Success,
            ..
        })
    ));
    assert_eq!(p.message_type(), MessageType::PrimaryDiscoveryRequest);
    // rfs-1 is still dead; at the next echo, a Primary Discovery Request goes to it again.
    assert_eq!(t.until_deadline(), ms(1000));
    let sent: Vec<(SocketAddr, MessageType)> = t
        .sent()
        .into_iter()
        .map(|(a, m)| (a, m.message_type()))
        .collect();
    assert_eq!(
        sent,
        [
            (ac2(), MessageType::EchoRequest),
            (ac1(), MessageType::PrimaryDiscoveryRequest)
        ]
    );
    // Still dead: nothing happens but the echo's own answer.
    let seq = t.w.pending.as_ref().unwrap().seq;
    t.receive(ac2(), seq, MessageBody::EchoResponse(Default::default()))
        .unwrap();
    assert_eq!(t.until_deadline(), ms(1000));
    t.sent();
    // rfs-1 is back and answers: the AP joins it.
    let MessageBody::DiscoveryResponse(d) = discovery_response("rfs-1", ac1(), 0, 100, 0) else {
        unreachable!()
    };
    t.receive(ac1(), 0, MessageBody::PrimaryDiscoveryResponse(d))
        .unwrap();
    let out = t.outputs();
    assert!(out.contains(&Output::Event(Event::FallingBack {
        from: ac2(),
        to: ac1(),
        ac_name: "rfs-1".into()
    })));
    let sent: Vec<(SocketAddr, MessageType)> = out
        .iter()
        .filter_map(|o| match o {
            Output::Control { to, bytes } => Some((
                *to,
                ControlPacket::decode(bytes).unwrap().message.message_type(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(sent, [(ac1(), MessageType::JoinRequest)]);
    // The primary refuses: back to rfs-2, and rfs-1 is not probed again for a while.
    let seq = t.w.pending.as_ref().unwrap().seq;
    t.receive(
        ac1(),
        seq,
        MessageBody::JoinResponse(join_response(
            ResultCode::JoinFailureResourceDepletion,
            "rfs-1",
            ac1(),
            None,
        )),
    )
    .unwrap();
    t.run_from_join(ac2(), "rfs-2", Some(fast()), &[ac2(), ac1()]);
    assert_eq!(t.until_deadline(), ms(1000));
    let sent: Vec<SocketAddr> = t.sent().into_iter().map(|(a, _)| a).collect();
    assert_eq!(sent, [ac2()]);
}

fn reset_request() -> MessageBody {
    MessageBody::ResetRequest(ResetRequest {
        image_identifier: ImageIdentifier {
            vendor_id: ROOST_VENDOR_ID,
            data: "5.9.1.0-roost".into(),
        },
        vendor_specific: vec![],
        other_elements: vec![],
    })
}

#[test]
fn a_reset_request_reboots_into_discovery() {
    let mut t = T::one_ac();
    t.adopt(ac1(), "rfs-1", None, &[]);
    t.receive(ac1(), 5, add_wlan(1, 2, "guest")).unwrap();
    t.outputs();
    let reset = reset_request();
    t.receive(ac1(), 6, reset).unwrap();
    let sent: Vec<(SocketAddr, ControlMessage)> = t.sent();
    assert_eq!(
        sent[0],
        (
            ac1(),
            ControlMessage::new(
                6,
                MessageBody::ResetResponse(ResetResponse {
                    result_code: Some(ResultCode::Success),
                    ..Default::default()
                })
            )
        )
    );
    assert_eq!(sent[1].1.message_type(), MessageType::DiscoveryRequest);
    assert_eq!(t.w.state(), State::Discovery);
    assert!(t.w.wlans().is_empty());
    // The next Join reports the AC-initiated reboot.
    t.receive(
        ac1(),
        sent[1].1.seq,
        discovery_response("rfs-1", ac1(), 0, 100, 0),
    )
    .unwrap();
    let (_, j) = t.one();
    let MessageBody::JoinRequest(j) = j.body else {
        panic!()
    };
    let stats = j.reboot_statistics.unwrap();
    assert_eq!(
        (stats.ac_initiated_count, stats.last_failure_type),
        (1, RebootFailureType::AcInitiated)
    );
}

#[test]
fn an_ac_asking_for_another_image_is_a_failed_join() {
    let mut t = T::one_ac();
    t.discover(&[(ac1(), "rfs-1", 0, 100)]);
    let (_, j) = t.one();
    let mut r = join_response(ResultCode::Success, "rfs-1", ac1(), None);
    r.image_identifier = Some(ImageIdentifier {
        vendor_id: 1916,
        data: "7.9.0.0".into(),
    });
    t.receive(ac1(), j.seq, MessageBody::JoinResponse(r))
        .unwrap();
    let e = t.events();
    assert!(e.iter().any(|e| matches!(e, Event::JoinFailed { ac, reason } if *ac == ac1() && reason.contains("7.9.0.0"))));
    assert_eq!(t.w.state(), State::Discovery);
}

#[test]
fn without_fast_timers_the_ap_behaves_as_a_foreign_wtp() {
    let settings = WtpSettings {
        fast_timers: false,
        ..WtpSettings::default()
    };
    let mut t = T::new(ControllerList::pool1([ac1()]), settings);
    t.discover(&[(ac1(), "rfs-1", 0, 100)]);
    let (_, j) = t.one();
    let MessageBody::JoinRequest(req) = &j.body else {
        panic!()
    };
    assert!(req.vendor_specific.is_empty());
    t.receive(
        ac1(),
        j.seq,
        MessageBody::JoinResponse(join_response(
            ResultCode::Success,
            "rfs-1",
            ac1(),
            Some(fast()),
        )),
    )
    .unwrap();
    assert_eq!(t.w.timers().retransmit_interval, secs(3));
}

#[test]
fn the_data_channel_dying_loses_the_ac() {
    let mut t = T::one_ac();
    t.adopt(ac1(), "rfs-1", None, &[]);
    let id = t.w.session_id().unwrap();
    // Echoes answered, keep-alives (every 30 s) not echoed: lost after 60 s.
    let start = t.now;
    while t.w.state() == State::Run {
        t.until_deadline();
        for (_, m) in t.sent() {
            if m.message_type() == MessageType::EchoRequest {
                t.receive(ac1(), m.seq, MessageBody::EchoResponse(Default::default()))
                    .unwrap();
            }
        }
    }
    assert_eq!(t.now - start, secs(60));
    let _ = id;
}

#[test]
fn session_ids_never_repeat() {
    let mut t = T::one_ac();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..200 {
        ids.insert(t.w.new_session_id());
    }
    assert_eq!(ids.len(), 200);
}

#[test]
fn zero_intervals_are_floored_so_the_ap_never_spins() {
    let settings = WtpSettings {
        discovery_interval: Duration::ZERO,
        keep_alive_interval: Duration::ZERO,
        ..WtpSettings::default()
    };
    let mut t = T::new(ControllerList::pool1([ac1()]), settings);
    assert_eq!(t.until_deadline(), ms(1));
}

#[test]
fn an_identity_that_cannot_be_encoded_is_refused() {
    let mut id = identity();
    id.radios.clear();
    let e = Wtp::new(
        id,
        ControllerList::pool1([ac1()]),
        WtpSettings::default(),
        SEED,
        Instant::now(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("lacks mandatory element: IEEE 802.11 WTP Radio Information"),
        "{e}"
    );
    let mut id = identity();
    id.name = "x".repeat(513);
    let e = Wtp::new(
        id,
        ControllerList::pool1([ac1()]),
        WtpSettings::default(),
        SEED,
        Instant::now(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("AP identity cannot be encoded: WTP Name"),
        "{e}"
    );
}

// -------------------------------------------------------------------------------------
// Never panics.

/// `default` cases per CI run; `PROPTEST_CASES=n` runs more locally.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One input to the AP.
#[derive(Debug, Clone)]
enum Input {
    Control(u8, Vec<u8>),
    Data(u8, Vec<u8>),
    Advance(u64),
}

/// A conversation an AC would have, as datagrams (to be mutated).
fn script() -> Vec<Vec<u8>> {
    let p = |seq, body| {
        ControlPacket::new(ControlMessage::new(seq, body))
            .encode()
            .unwrap()
    };
    let MessageBody::DiscoveryResponse(d) = discovery_response("rfs-1", ac1(), 0, 100, 0) else {
        unreachable!()
    };
    vec![
        p(0, MessageBody::DiscoveryResponse(d.clone())),
        p(
            1,
            MessageBody::JoinResponse(join_response(
                ResultCode::Success,
                "rfs-1",
                ac1(),
                Some(fast()),
            )),
        ),
        p(
            2,
            MessageBody::ConfigurationStatusResponse(configuration_status_response(
                &[ip_of(ac2())],
                Some(fast()),
            )),
        ),
        p(3, MessageBody::ChangeStateEventResponse(Default::default())),
        p(4, MessageBody::EchoResponse(Default::default())),
        p(9, add_wlan(1, 1, "corp")),
        p(10, MessageBody::PrimaryDiscoveryResponse(d)),
        p(
            11,
            MessageBody::ConfigurationUpdateRequest(ConfigurationUpdateRequest {
                ac_names_with_priority: vec![AcNameWithPriority {
                    priority: 1,
                    name: "rfs-2".into(),
                }],
                ..Default::default()
            }),
        ),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    let script = script();
    let n = script.len();
    // Now and then untouched, so that whole handshakes happen; else a sequence number and
    // a few bytes changed.
    let mutated = (
        0..n,
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        proptest::option::of(any::<u8>()),
    )
        .prop_map(move |(i, flips, seq)| {
            let mut b = script[i].clone();
            if let (Some(seq), true) = (seq, b.len() > 12) {
                b[12] = seq;
            }
            for (at, v) in flips {
                let at = at % b.len();
                b[at] = v;
            }
            b
        });
    let valid =
        roost_capwap::arbitrary::control_packet().prop_filter_map("encodes", |p| p.encode().ok());
    prop_oneof![
        4 => (0..3u8, mutated).prop_map(|(f, b)| Input::Control(f, b)),
        2 => (0..3u8, valid).prop_map(|(f, b)| Input::Control(f, b)),
        1 => (0..3u8, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(f, b)| Input::Control(f, b)),
        1 => (0..3u8, roost_capwap::arbitrary::data_packet().prop_filter_map("encodes", |p| p.encode().ok()))
            .prop_map(|(f, b)| Input::Data(f, b)),
        2 => (0..4000u64).prop_map(Input::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics_and_the_ap_always_has_a_deadline(inputs in proptest::collection::vec(input(), 1..80)) {
        let list: ControllerList = "pool1=10.0.0.1;pool2=10.0.0.2".parse().unwrap();
        let mut t = T::new(list, WtpSettings::default());
        let sources = [ac1(), ac2(), addr("10.0.0.1:5247")];
        for i in inputs {
            match i {
                Input::Control(f, b) => { let _ = t.w.handle_control(sources[f as usize], &b, t.now); }
                Input::Data(f, b) => { let _ = t.w.handle_data(sources[f as usize], &b, t.now); }
                Input::Advance(ms_) => t.advance(ms(ms_)),
            }
            prop_assert!(t.w.poll_timeout().is_some());
            for o in t.outputs() {
                match o {
                    Output::Control { bytes, .. } => { ControlPacket::decode(&bytes).unwrap(); }
                    Output::Data { bytes, .. } => { KeepAlive::decode(&bytes).unwrap(); }
                    Output::Event(_) => {}
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(64), failure_persistence: None, ..ProptestConfig::default() })]

    /// Datagrams from an address the AP is not talking to (here any AC message, mutated or
    /// not, on either channel) change nothing: each is refused, counted, and answered by
    /// nothing, and the handshake around them goes on to Run as if they had not come.
    #[test]
    fn strangers_change_nothing(noise in proptest::collection::vec((any::<bool>(), input()), 5 * 4)) {
        let stranger = addr("10.9.9.9:5246");
        let mut t = T::one_ac();
        let mut noise = noise.into_iter();
        let mut inject = |t: &mut T| {
            for (data, i) in noise.by_ref().take(4) {
                let bytes = match i {
                    Input::Control(_, b) | Input::Data(_, b) => b,
                    Input::Advance(_) => vec![0; 3],
                };
                let before = *t.w.counters();
                let r = if data {
                    t.w.handle_data(stranger, &bytes, t.now)
                } else {
                    t.w.handle_control(stranger, &bytes, t.now)
                };
                prop_assert!(r.is_err());
                prop_assert_eq!(t.w.counters().dropped() + t.w.counters().duplicates, before.dropped() + before.duplicates + 1);
                prop_assert!(t.w.poll_output().is_none());
            }
            Ok(())
        };
        let (_, d) = t.one();
        inject(&mut t)?;
        t.receive(ac1(), d.seq, discovery_response("rfs-1", ac1(), 0, 100, 0)).unwrap();
        let (_, j) = t.one();
        inject(&mut t)?;
        t.receive(ac1(), j.seq, MessageBody::JoinResponse(join_response(ResultCode::Success, "rfs-1", ac1(), None))).unwrap();
        let (_, c) = t.one();
        inject(&mut t)?;
        t.receive(ac1(), c.seq, MessageBody::ConfigurationStatusResponse(configuration_status_response(&[], None))).unwrap();
        let (_, e) = t.one();
        inject(&mut t)?;
        t.receive(ac1(), e.seq, MessageBody::ChangeStateEventResponse(Default::default())).unwrap();
        let id = t.w.session_id().unwrap();
        prop_assert_eq!(t.keepalives(), [(data_address(ac1()), id)]);
        inject(&mut t)?;
        t.data_from(data_address(ac1()), id).unwrap();
        prop_assert_eq!(t.w.state(), State::Run);
    }
}

/// A Configuration Update with CAPWAP Timers and no fast-timer element (the AC's profile for
/// this model turned them off) ends the fast timers: the echo follows CAPWAP Timers and the
/// RFC's retransmissions apply again; one with the element brings them back.
#[test]
fn timers_in_a_configuration_update_replace_the_fast_ones_or_bring_them_back() {
    let mut t = T::new(ControllerList::pool1([ac1()]), WtpSettings::default());
    t.discover(&[(ac1(), "rfs-1", 0, 100)]);
    t.run_from_join(ac1(), "rfs-1", Some(fast()), &[ac1()]);
    assert!(t.w.timers.fast);
    let update = |fast: Option<FastTimers>| ConfigurationUpdateRequest {
        timers: Some(CapwapTimers {
            discovery: 5,
            echo_request: 20,
        }),
        vendor_specific: fast.iter().map(|f| f.to_vendor()).collect(),
        ..Default::default()
    };
    t.receive(
        ac1(),
        1,
        MessageBody::ConfigurationUpdateRequest(update(None)),
    )
    .unwrap();
    t.sent();
    let rfc = Timers::from_settings(&WtpSettings::default());
    assert_eq!(
        (
            t.w.timers.fast,
            t.w.timers.echo_interval,
            t.w.timers.retransmit_interval,
            t.w.timers.max_retransmit
        ),
        (
            false,
            ms(20_000),
            rfc.retransmit_interval,
            rfc.max_retransmit
        )
    );
    // The next echo goes 20 s after the update, not 1 s.
    assert_eq!(t.until_deadline(), ms(20_000));
    let sent = t.sent();
    assert_eq!(
        sent[0].1.message_type(),
        MessageType::EchoRequest,
        "{sent:?}"
    );
    let seq = t.w.pending.as_ref().unwrap().seq;
    t.receive(ac1(), seq, MessageBody::EchoResponse(Default::default()))
        .unwrap();
    t.receive(
        ac1(),
        2,
        MessageBody::ConfigurationUpdateRequest(update(Some(fast()))),
    )
    .unwrap();
    t.sent();
    assert!(t.w.timers.fast);
    assert_eq!(t.w.timers.echo_interval, ms(1000));
    assert_eq!(t.until_deadline(), ms(1000));
}

/// Without Roost's extensions (`roost ap --no-fast-timers`) the AP is a foreign WTP: a Roost
/// Controller Lost Request is an unexpected message that moves nothing.
#[test]
fn a_foreign_wtp_ignores_a_controller_lost_notice() {
    let settings = WtpSettings {
        fast_timers: false,
        ..WtpSettings::default()
    };
    let mut t = T::new(ControllerList::pool1([ac1()]), settings);
    t.adopt(ac1(), "rfs-1", None, &[ac1(), ac2()]);
    let session = t.w.session_id().unwrap();
    assert!(t.receive(ac2(), 0, lost_notice(session)).is_err());
    assert!(t.sent().is_empty());
    assert_eq!(t.w.counters().lost_notices, 0);
    assert_eq!(t.w.state(), State::Run);
}

/// The notice arrives while an echo to the dead AC is outstanding (sent just before it died):
/// that echo becomes the probe, so the AP gives up in two probe intervals, not after its
/// whole retransmission budget (0.3 + 0.6 + 1.2 + 2.4 s with the daemon's timers).
#[test]
fn a_controller_lost_notice_during_an_outstanding_echo_turns_it_into_the_probe() {
    let timers = FastTimers {
        max_retransmit: 3,
        ..fast()
    };
    let mut t = T::one_ac();
    t.adopt(ac1(), "rfs-1", Some(timers), &[ac1(), ac2(), ac3()]);
    let session = t.w.session_id().unwrap();
    // The next echo goes out; the AC is dead and never answers.
    loop {
        t.until_deadline();
        if t.sent()
            .iter()
            .any(|(to, m)| *to == ac1() && m.message_type() == MessageType::EchoRequest)
        {
            break;
        }
    }
    assert!(t.w.pending.is_some());
    t.now += ms(20);
    t.receive(ac3(), 0, lost_notice(session)).unwrap();
    assert!(
        t.sent().is_empty(),
        "the outstanding echo is the probe: nothing new"
    );
    // One retransmission at half the retransmit interval from the notice...
    assert_eq!(t.until_deadline(), ms(150));
    let sent = t.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].0, sent[0].1.message_type()),
        (ac1(), MessageType::EchoRequest)
    );
    // ...then the AC is lost and the member that said so is joined.
    assert_eq!(t.until_deadline(), ms(150));
    let joins: Vec<SocketAddr> = t
        .sent()
        .into_iter()
        .filter(|(_, m)| m.message_type() == MessageType::JoinRequest)
        .map(|(to, _)| to)
        .collect();
    assert_eq!(joins, [ac3()]);
}

/// WiNG's `adoption start-delay`, told in a Discovery Response: a cold start waits a time
/// drawn from [min, max] before its Join (a response meanwhile does not cut it short); after
/// Run, a lost AC is re-joined at once, even through a new discovery; a Reset is a reboot, so
/// the next Join waits again; an AC that tells none is joined at once.
#[test]
fn a_cold_start_waits_its_start_delay_and_a_readoption_never_does() {
    use roost_capwap::vendor::StartDelay;
    let sd = StartDelay {
        min: secs(2),
        max: secs(4),
    };
    let with_delay = |name: &str, ac: SocketAddr| {
        let MessageBody::DiscoveryResponse(mut r) = discovery_response(name, ac, 0, 100, 0) else {
            unreachable!()
        };
        r.vendor_specific.push(sd.to_vendor());
        MessageBody::DiscoveryResponse(r)
    };
    let mut t = T::one_ac();
    let (_, req) = t.one();
    t.receive(ac1(), req.seq, with_delay("rfs-1", ac1()))
        .unwrap();
    let ev = t.events();
    let delay = ev
        .iter()
        .find_map(|e| match e {
            Event::StartDelayed { delay } => Some(*delay),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{ev:?}"));
    assert!((sd.min..=sd.max).contains(&delay), "{delay:?}");
    assert!(t.w.pending.is_none(), "no Join yet");
    // Another response in the wait changes nothing.
    t.now += ms(500);
    t.receive(ac1(), req.seq, with_delay("rfs-1", ac1()))
        .unwrap();
    assert!(t.w.pending.is_none() && t.events().is_empty());
    let start = t.now - ms(500);
    while t.w.pending.is_none() {
        t.until_deadline();
        t.outputs();
    }
    assert_eq!(t.now - start, delay, "the Join goes when the delay ends");
    t.run_from_join(ac1(), "rfs-1", Some(fast()), &[]);
    // The AC dies; with no other AC known the AP discovers again, answered with a delay
    // again: it joins at once.
    let mut rounds = 0;
    while t.w.state() != State::Discovery {
        t.until_deadline();
        rounds += 1;
        assert!(rounds < 40, "never lost the AC");
    }
    let mut joined_at = None;
    for _ in 0..200 {
        for (to, m) in t.sent() {
            if m.message_type() == MessageType::DiscoveryRequest && to == ac1() {
                t.receive(ac1(), m.seq, with_delay("rfs-1", ac1())).unwrap();
            }
        }
        if t.w
            .pending
            .as_ref()
            .is_some_and(|p| p.expect == MessageType::JoinResponse)
        {
            joined_at = Some(t.now);
            break;
        }
        t.until_deadline();
    }
    assert!(joined_at.is_some(), "re-joined");
    assert!(
        !t.events()
            .iter()
            .any(|e| matches!(e, Event::StartDelayed { .. })),
        "a re-adoption never waits"
    );
    // A different seed draws a different time in the range (the fleet spreads out).
    let mut other = T {
        w: Wtp::new(
            identity(),
            ControllerList::pool1([ac1()]),
            WtpSettings::default(),
            [0xA5; 16],
            t.now,
        )
        .unwrap(),
        now: t.now,
    };
    let (_, req) = other.one();
    other
        .receive(ac1(), req.seq, with_delay("rfs-1", ac1()))
        .unwrap();
    let d2 = other
        .events()
        .iter()
        .find_map(|e| match e {
            Event::StartDelayed { delay } => Some(*delay),
            _ => None,
        })
        .unwrap();
    assert!(
        (sd.min..=sd.max).contains(&d2) && d2 != delay,
        "{d2:?} {delay:?}"
    );
}

/// A Reset Request is a reboot: the next Join is a cold start's and waits the start delay.
#[test]
fn after_a_reset_the_next_join_waits_the_start_delay() {
    use roost_capwap::vendor::StartDelay;
    let mut t = T::one_ac();
    t.adopt(ac1(), "rfs-1", None, &[]);
    let reset = reset_request();
    t.receive(ac1(), 6, reset).unwrap();
    let sent = t.sent();
    let MessageBody::DiscoveryResponse(mut r) = discovery_response("rfs-1", ac1(), 0, 100, 0)
    else {
        unreachable!()
    };
    r.vendor_specific.push(
        StartDelay {
            min: secs(1),
            max: secs(1),
        }
        .to_vendor(),
    );
    t.receive(ac1(), sent[1].1.seq, MessageBody::DiscoveryResponse(r))
        .unwrap();
    assert!(t.events().contains(&Event::StartDelayed { delay: secs(1) }));
    assert!(t.w.pending.is_none());
    assert_eq!(t.until_deadline(), secs(1));
    assert_eq!(t.one().1.message_type(), MessageType::JoinRequest);
}
