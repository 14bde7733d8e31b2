//! A minimal access controller for the fleet's tests, written from the RFC with the codec
//! alone (the real AC is `roost-adoption`, which these tests must not lean on): Discovery,
//! Join (optionally refused), Configuration Status with an AC IPv4 List and Roost's fast
//! timers, Change State Event, keep-alive echo, Echo, and one WLAN pushed to each AP in Run.
//! It binds loopback only and stops when killed (its task aborted, its sockets closed).

use roost_capwap::elements::*;
use roost_capwap::messages::*;
use roost_capwap::types::*;
use roost_capwap::vendor::FastTimers;
use roost_capwap::{ControlMessage, ControlPacket, DataBody, DataPacket, MessageBody};
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;

#[derive(Clone)]
pub struct FakeAcConfig {
    pub name: String,
    pub ip: Ipv4Addr,
    pub ac_list: Vec<Ipv4Addr>,
    pub fast: Option<FastTimers>,
    /// Refuse (Resource Depletion) every AP whose MAC ends in an even byte.
    pub refuse_even: bool,
    /// Push this WLAN (radio 1, WLAN 1) to every AP that reaches Run.
    pub wlan: Option<String>,
    /// Push this AC Name with Priority list (and WTP Fallback enabled) to every AP that
    /// reaches Run, in a Configuration Update Request.
    pub priorities: Vec<AcNameWithPriority>,
    /// Control port (0: any free one whose next port is free too).
    pub port: u16,
}

#[derive(Clone, Debug, Default)]
pub struct AcStats {
    pub discovery_requests: usize,
    pub join_requests: usize,
    pub refused: usize,
    /// Base MACs of the APs in Run here.
    pub run: HashSet<[u8; 6]>,
    pub wlan_responses: usize,
    pub update_responses: usize,
    pub primary_discovery_requests: usize,
    pub bad: usize,
}

pub struct FakeAc {
    pub control: SocketAddr,
    stats: Arc<Mutex<AcStats>>,
    task: tokio::task::JoinHandle<()>,
}

struct Session {
    mac: [u8; 6],
    id: SessionId,
    control: SocketAddr,
    last: Option<(u8, Vec<u8>)>,
    run: bool,
}

impl FakeAc {
    pub async fn start(cfg: FakeAcConfig) -> FakeAc {
        // Control on a free port P, data on P + 1 (the convention for ports other than 5246).
        let (control, data) = 'bind: {
            for _ in 0..50 {
                let c = UdpSocket::bind((cfg.ip, cfg.port)).await.unwrap();
                let port = c.local_addr().unwrap().port();
                if port == u16::MAX {
                    continue;
                }
                if let Ok(d) = UdpSocket::bind((cfg.ip, port + 1)).await {
                    break 'bind (c, d);
                }
            }
            panic!("no free port pair on {}", cfg.ip);
        };
        // Large buffers, as a controller facing thousands of APs needs (best effort).
        for s in [&control, &data] {
            let _ = nix::sys::socket::setsockopt(
                s,
                nix::sys::socket::sockopt::RcvBufForce,
                &(32 << 20),
            );
        }
        let addr = control.local_addr().unwrap();
        let stats = Arc::new(Mutex::new(AcStats::default()));
        let task = tokio::spawn(serve(cfg, control, data, stats.clone()));
        FakeAc {
            control: addr,
            stats,
            task,
        }
    }

    pub fn stats(&self) -> AcStats {
        self.stats.lock().unwrap().clone()
    }

    /// Kills it: the task stops and its sockets close, mid-session, as a crash would.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

fn descriptor(active: usize) -> AcDescriptor {
    AcDescriptor {
        stations: 0,
        limit: 0,
        active_wtps: active as u16,
        max_wtps: 1000,
        security: AcSecurity::X509,
        r_mac: RMacField::NotSupported,
        dtls_policy: DtlsPolicy::CLEAR_DATA,
        hardware_version: b"fake".to_vec(),
        software_version: b"0".to_vec(),
        other_information: vec![],
    }
}

fn encode(seq: u8, body: MessageBody) -> Vec<u8> {
    ControlPacket::new(ControlMessage::new(seq, body))
        .encode()
        .unwrap()
}

async fn serve(cfg: FakeAcConfig, control: UdpSocket, data: UdpSocket, stats: Arc<Mutex<AcStats>>) {
    let mut sessions: HashMap<SocketAddr, Session> = HashMap::new();
    let mut by_id: HashMap<SessionId, SocketAddr> = HashMap::new();
    let mut active = 0usize;
    let mut next_seq: u8 = 100;
    let mut cbuf = vec![0u8; 65536];
    let mut dbuf = vec![0u8; 65536];
    loop {
        tokio::select! {
            r = control.recv_from(&mut cbuf) => {
                let Ok((n, from)) = r else { continue };
                let Ok(p) = ControlPacket::decode(&cbuf[..n]) else {
                    stats.lock().unwrap().bad += 1;
                    continue;
                };
                let seq = p.message.seq;
                let kind = p.message.message_type();
                // A repeat of the last request gets the same answer.
                if let Some(s) = sessions.get(&from) {
                    if let Some((q, bytes)) = &s.last {
                        if *q == seq && kind.is_request() {
                            let _ = control.send_to(bytes, from).await;
                            continue;
                        }
                    }
                }
                let reply = match p.message.body {
                    MessageBody::DiscoveryRequest(r) | MessageBody::PrimaryDiscoveryRequest(r) => {
                        let primary = kind == roost_capwap::MessageType::PrimaryDiscoveryRequest;
                        let mut st = stats.lock().unwrap();
                        if primary {
                            st.primary_discovery_requests += 1;
                        } else {
                            st.discovery_requests += 1;
                        }
                        let response = DiscoveryResponse {
                            ac_descriptor: descriptor(active),
                            ac_name: AcName(cfg.name.clone()),
                            radios: r.radios,
                            control_ipv4: vec![CapwapControlIpv4Address { address: cfg.ip, wtp_count: active as u16 }],
                            control_ipv6: vec![],
                            vendor_specific: vec![],
                            other_elements: vec![],
                        };
                        Some(if primary {
                            MessageBody::PrimaryDiscoveryResponse(response)
                        } else {
                            MessageBody::DiscoveryResponse(response)
                        })
                    }
                    MessageBody::JoinRequest(r) => {
                        let mut st = stats.lock().unwrap();
                        st.join_requests += 1;
                        let mac = match r.board_data.base_mac {
                            Some(roost_capwap::MacAddress::Eui48(m)) => m,
                            _ => [0; 6],
                        };
                        let refuse = cfg.refuse_even && mac[5] % 2 == 0;
                        let code = if refuse {
                            st.refused += 1;
                            ResultCode::JoinFailureResourceDepletion
                        } else {
                            let old = sessions.insert(from, Session { mac, id: r.session_id, control: from, last: None, run: false });
                            if let Some(old) = old {
                                by_id.remove(&old.id);
                                if old.run {
                                    active -= 1;
                                }
                            }
                            by_id.insert(r.session_id, from);
                            ResultCode::Success
                        };
                        Some(MessageBody::JoinResponse(JoinResponse {
                            result_code: code,
                            ac_descriptor: descriptor(active),
                            ac_name: AcName(cfg.name.clone()),
                            radios: r.radios,
                            ecn_support: EcnSupport::Limited,
                            control_ipv4: Some(CapwapControlIpv4Address { address: cfg.ip, wtp_count: active as u16 }),
                            control_ipv6: None,
                            local_ipv4: Some(CapwapLocalIpv4Address(cfg.ip)),
                            local_ipv6: None,
                            ac_ipv4_list: None,
                            ac_ipv6_list: None,
                            transport_protocol: None,
                            image_identifier: None,
                            maximum_message_length: None,
                            vendor_specific: cfg.fast.iter().map(|f| f.to_vendor()).collect(),
                            other_elements: vec![],
                        }))
                    }
                    MessageBody::ConfigurationStatusRequest(_) if sessions.contains_key(&from) => {
                        Some(MessageBody::ConfigurationStatusResponse(ConfigurationStatusResponse {
                            timers: CapwapTimers { discovery: 20, echo_request: 30 },
                            decryption_error_report_periods: vec![DecryptionErrorReportPeriod { radio_id: 1, report_interval: 120 }],
                            idle_timeout: IdleTimeout(300),
                            wtp_fallback: WtpFallback::Enabled,
                            ac_ipv4_list: Some(AcIpv4List(cfg.ac_list.clone())),
                            ac_ipv6_list: None,
                            static_ip: None,
                            radio_configurations: vec![],
                            tx_powers: vec![],
                            dsss_controls: vec![],
                            ofdm_controls: vec![],
                            vendor_specific: cfg.fast.iter().map(|f| f.to_vendor()).collect(),
                            other_elements: vec![],
                        }))
                    }
                    MessageBody::ChangeStateEventRequest(_) if sessions.contains_key(&from) => {
                        Some(MessageBody::ChangeStateEventResponse(Default::default()))
                    }
                    MessageBody::EchoRequest(_) if sessions.contains_key(&from) => {
                        Some(MessageBody::EchoResponse(Default::default()))
                    }
                    MessageBody::ConfigurationUpdateResponse(r) => {
                        if r.result_code == ResultCode::Success {
                            stats.lock().unwrap().update_responses += 1;
                        }
                        None
                    }
                    MessageBody::WlanConfigurationResponse(r) => {
                        if r.result_code == ResultCode::Success && r.assigned_bssid.is_some() {
                            stats.lock().unwrap().wlan_responses += 1;
                        }
                        None
                    }
                    _ => {
                        stats.lock().unwrap().bad += 1;
                        None
                    }
                };
                if let Some(body) = reply {
                    let bytes = encode(seq, body);
                    if let Some(s) = sessions.get_mut(&from) {
                        s.last = Some((seq, bytes.clone()));
                    }
                    let _ = control.send_to(&bytes, from).await;
                }
            }
            r = data.recv_from(&mut dbuf) => {
                let Ok((n, from)) = r else { continue };
                let Ok(DataPacket { body: DataBody::KeepAlive(k), .. }) = DataPacket::decode(&dbuf[..n]) else {
                    stats.lock().unwrap().bad += 1;
                    continue;
                };
                let Some(s) = by_id.get(&k.session_id).and_then(|a| sessions.get_mut(a)) else { continue };
                let _ = data.send_to(&dbuf[..n], from).await;
                if !s.run {
                    s.run = true;
                    active += 1;
                    stats.lock().unwrap().run.insert(s.mac);
                    if !cfg.priorities.is_empty() {
                        next_seq = next_seq.wrapping_add(1);
                        let update = MessageBody::ConfigurationUpdateRequest(ConfigurationUpdateRequest {
                            ac_names_with_priority: cfg.priorities.clone(),
                            wtp_fallback: Some(WtpFallback::Enabled),
                            ..Default::default()
                        });
                        let _ = control.send_to(&encode(next_seq, update), s.control).await;
                    }
                    if let Some(ssid) = &cfg.wlan {
                        next_seq = next_seq.wrapping_add(1);
                        let add = MessageBody::WlanConfigurationRequest(WlanConfigurationRequest {
                            operation: WlanOperation::Add(AddWlan {
                                radio_id: 1,
                                wlan_id: 1,
                                capability: WlanCapability::ESS,
                                key_index: 0,
                                key_status: KeyStatus::PerStation,
                                key: vec![],
                                group_tsc: [0; 6],
                                qos: WlanQos::BestEffort,
                                auth_type: AuthType::OpenSystem,
                                mac_mode: WlanMacMode::Local,
                                tunnel_mode: WlanTunnelMode::LocalBridging,
                                suppress_ssid: 1,
                                ssid: ssid.as_bytes().to_vec(),
                            }),
                            information_elements: vec![],
                            vendor_specific: vec![],
                            other_elements: vec![],
                        });
                        let _ = control.send_to(&encode(next_seq, add), s.control).await;
                    }
                }
            }
        }
    }
}
