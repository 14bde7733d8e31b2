//! Golden vectors: datagrams written byte by byte from the RFC 5415/5416 layouts, checked
//! both ways (the typed value encodes to exactly these bytes, and these bytes decode to
//! exactly that value). The byte strings live in `common/mod.rs`, shared with `tshark.rs`.
//!
//! Independent check (tshark 4.0.17, Debian bookworm; `tests/tshark.rs`, ignored by
//! default): the Discovery Request, Join Response, Echo Request, Configuration Update and
//! WLAN Configuration Request vectors, sent as IPv4/UDP to 5246 in a raw-IPv4 pcap, and the
//! keep-alive, sent to 5247, all dissect as CAPWAP with the intended values (message types,
//! Message Element Length 103/97/3/14/80, Result Code, AC Descriptor and WTP Descriptor
//! sub-elements with vendor 0, Add WLAN key and SSID, the RSN IE inside element 1029, K=1
//! and the Session ID), with no "Malformed" and an empty `-z expert` report. The same run on
//! a header with HLEN 3 reports "Wrong calculate length", so the check does bite.

mod common;

use common::*;
use roost_capwap::elements::*;
use roost_capwap::header::{DestinationWlans, FrameInfo};
use roost_capwap::messages::*;
use roost_capwap::types::*;
use roost_capwap::*;
use std::net::Ipv4Addr;

fn check_control(packet: ControlPacket, bytes: &[u8]) {
    assert_eq!(packet.encode().unwrap(), bytes, "encode");
    assert_eq!(ControlPacket::decode(bytes).unwrap(), packet, "decode");
}

pub fn discovery_request() -> ControlPacket {
    ControlPacket::new(ControlMessage::new(
        0,
        MessageBody::DiscoveryRequest(DiscoveryRequest {
            discovery_type: DiscoveryType::Static,
            board_data: WtpBoardData {
                vendor_id: VENDOR_ID_EXAMPLE,
                model_number: b"AP7532".to_vec(),
                serial_number: b"SIM0001".to_vec(),
                board_id: None,
                board_revision: None,
                base_mac: None,
                other: vec![],
            },
            descriptor: WtpDescriptor {
                max_radios: 1,
                radios_in_use: 1,
                encryption: vec![EncryptionCapability {
                    wbid: WBID_IEEE80211,
                    capabilities: EncryptionCapabilities(0),
                }],
                hardware_version: b"1.0".to_vec(),
                active_software_version: b"5.9.1.0".to_vec(),
                boot_version: b"1.0".to_vec(),
                other_software_version: None,
                vendor_descriptors: vec![],
            },
            frame_tunnel_mode: WtpFrameTunnelMode::LOCAL_BRIDGING,
            mac_type: WtpMacType::Local,
            radios: vec![WtpRadioInformation {
                radio_id: 1,
                radio_type: RadioType::B | RadioType::G,
            }],
            mtu_discovery_padding: None,
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    ))
}

#[test]
fn discovery_request_from_the_facts_file() {
    let bytes = discovery_request_bytes();
    assert_eq!(bytes.len(), 116);
    check_control(discovery_request(), &bytes);
    let ControlPacket { message, .. } = ControlPacket::decode(&bytes).unwrap();
    let MessageBody::DiscoveryRequest(d) = message.body else {
        panic!("not a Discovery Request");
    };
    assert_eq!(d.board_data.model_str(), Some("AP7532"));
    assert_eq!(d.descriptor.active_software_version_str(), Some("5.9.1.0"));
}

pub fn join_response() -> ControlPacket {
    ControlPacket::new(ControlMessage::new(
        7,
        MessageBody::JoinResponse(JoinResponse {
            result_code: ResultCode::Success,
            ac_descriptor: AcDescriptor {
                stations: 0,
                limit: 1024,
                active_wtps: 1,
                max_wtps: 512,
                security: AcSecurity::PSK | AcSecurity::X509,
                r_mac: RMacField::NotSupported,
                dtls_policy: DtlsPolicy::CLEAR_DATA,
                hardware_version: b"VX9000".to_vec(),
                software_version: b"5.9.1.0".to_vec(),
                other_information: vec![],
            },
            ac_name: AcName::from("roost"),
            radios: vec![WtpRadioInformation {
                radio_id: 1,
                radio_type: RadioType(5),
            }],
            ecn_support: EcnSupport::Limited,
            control_ipv4: Some(CapwapControlIpv4Address {
                address: Ipv4Addr::new(192, 168, 1, 10),
                wtp_count: 3,
            }),
            control_ipv6: None,
            local_ipv4: Some(CapwapLocalIpv4Address(Ipv4Addr::new(192, 168, 1, 10))),
            local_ipv6: None,
            ac_ipv4_list: None,
            ac_ipv6_list: None,
            transport_protocol: None,
            image_identifier: None,
            maximum_message_length: None,
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    ))
}

#[test]
fn golden_join_response() {
    let bytes = join_response_bytes();
    assert_eq!(bytes.len(), 16 + 94);
    check_control(join_response(), &bytes);
}

pub fn echo_request() -> ControlPacket {
    ControlPacket::new(ControlMessage::new(
        5,
        MessageBody::EchoRequest(EchoRequest::default()),
    ))
}

#[test]
fn golden_echo_request() {
    check_control(echo_request(), &echo_request_bytes());
}

#[test]
fn echo_request_with_vendor_payload() {
    // Vendor 32473, element 1, data "hi": 4 + 2 + 2 = 8 bytes of value.
    let bytes = wire(&format!(
        r#"{CONTROL_HEADER} 00 00 00 0e 05 00 0f 00  00 25 00 08 00 00 7e d9 00 01 "hi""#
    ));
    let packet = ControlPacket::new(ControlMessage::new(
        5,
        MessageBody::EchoResponse(EchoResponse {
            vendor_specific: vec![VendorSpecificPayload {
                vendor_id: VENDOR_ID_EXAMPLE,
                element_id: 1,
                data: b"hi".to_vec(),
            }],
            other_elements: vec![],
        }),
    ));
    check_control(packet, &bytes);
}

pub fn configuration_update() -> ControlPacket {
    ControlPacket::new(ControlMessage::new(
        9,
        MessageBody::ConfigurationUpdateRequest(ConfigurationUpdateRequest {
            timers: Some(CapwapTimers {
                discovery: 20,
                echo_request: 30,
            }),
            wtp_fallback: Some(WtpFallback::Enabled),
            ..Default::default()
        }),
    ))
}

#[test]
fn configuration_update_with_capwap_timers() {
    check_control(configuration_update(), &configuration_update_bytes());
}

pub const RSN_IE: [u8; 22] = [
    0x30, 0x14, 0x01, 0x00, 0x00, 0x0f, 0xac, 0x04, 0x01, 0x00, 0x00, 0x0f, 0xac, 0x04, 0x01, 0x00,
    0x00, 0x0f, 0xac, 0x02, 0x0c, 0x00,
];

pub fn add_wlan() -> ControlPacket {
    ControlPacket::new(ControlMessage::new(
        0x2a,
        MessageBody::WlanConfigurationRequest(WlanConfigurationRequest {
            operation: WlanOperation::Add(AddWlan {
                radio_id: 1,
                wlan_id: 1,
                capability: WlanCapability::ESS | WlanCapability::PRIVACY,
                key_index: 2,
                key_status: KeyStatus::PerStation,
                key: (0..16).collect(),
                group_tsc: [0; 6],
                qos: WlanQos::BestEffort,
                auth_type: AuthType::OpenSystem,
                mac_mode: WlanMacMode::Local,
                tunnel_mode: WlanTunnelMode::LocalBridging,
                suppress_ssid: 1,
                ssid: b"roost-lab".to_vec(),
            }),
            information_elements: vec![InformationElement {
                radio_id: 1,
                wlan_id: 1,
                beacon: true,
                probe_response: true,
                ie: RSN_IE.to_vec(),
            }],
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    ))
}

#[test]
fn add_wlan_with_key_and_rsn_ie() {
    let bytes = add_wlan_bytes();
    check_control(add_wlan(), &bytes);
    assert_eq!(
        MessageType::from_u32(u32::from_be_bytes(bytes[8..12].try_into().unwrap())),
        MessageType::WlanConfigurationRequest
    );
}

#[test]
fn wlan_configuration_response_with_bssid() {
    let bytes = wire(&format!(
        "{CONTROL_HEADER} 00 33 dd 02 2a 00 17 00  00 21 00 04 00 00 00 00  \
         04 02 00 08 01 01 00 11 22 33 44 51"
    ));
    let packet = ControlPacket::new(ControlMessage::new(
        0x2a,
        MessageBody::WlanConfigurationResponse(WlanConfigurationResponse {
            result_code: ResultCode::Success,
            assigned_bssid: Some(AssignedWtpBssid {
                radio_id: 1,
                wlan_id: 1,
                bssid: [0x00, 0x11, 0x22, 0x33, 0x44, 0x51],
            }),
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    ));
    check_control(packet, &bytes);
}

#[test]
fn update_and_delete_wlan() {
    let update = wire(&format!(
        "{CONTROL_HEADER} 00 33 dd 01 01 00 0f 00  04 14 00 08 01 03 88 00 01 03 00 00"
    ));
    let packet = ControlPacket::new(ControlMessage::new(
        1,
        MessageBody::WlanConfigurationRequest(WlanConfigurationRequest {
            operation: WlanOperation::Update(UpdateWlan {
                radio_id: 1,
                wlan_id: 3,
                capability: WlanCapability(0x8800),
                key_index: 1,
                key_status: KeyStatus::CompletedRekey,
                key: vec![],
            }),
            information_elements: vec![],
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    ));
    check_control(packet, &update);

    let delete = wire(&format!(
        "{CONTROL_HEADER} 00 33 dd 01 02 00 09 00  04 03 00 02 02 05"
    ));
    let packet = ControlPacket::new(ControlMessage::new(
        2,
        MessageBody::WlanConfigurationRequest(WlanConfigurationRequest {
            operation: WlanOperation::Delete(DeleteWlan {
                radio_id: 2,
                wlan_id: 5,
            }),
            information_elements: vec![],
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    ));
    check_control(packet, &delete);
}

pub const SESSION: [u8; 16] = [
    0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
];

#[test]
fn data_keep_alive() {
    let bytes = keep_alive_bytes();
    let k = KeepAlive::new(elements::SessionId(SESSION));
    assert_eq!(k.encode().unwrap(), bytes);
    assert_eq!(KeepAlive::decode(&bytes).unwrap(), k);
    // FreeWTP sets WBID 1 in its keep-alives; accepted all the same.
    let mut freewtp = bytes.clone();
    freewtp[2] = 0x02;
    assert_eq!(KeepAlive::decode(&freewtp).unwrap(), k);
}

#[test]
fn header_with_radio_mac_and_frame_info() {
    // RID 1, WBID 1, T, W, M: HLEN 6 = 8 fixed + 8 (len 6, MAC, 1 pad) + 8 (len 4, info, 3 pad).
    // Each optional field is padded on its own; tshark 4.0.17 parses this header (sent to
    // 5247) the same way: "MAC length: 6", "Padding for 4 Byte Alignment: 00", Frame Info
    // RSSI -60 SNR 30, "Padding for 4 Byte Alignment: 000000", no header expert item.
    let bytes = wire(
        "00 30 43 30 12 34 00 00  06 aa bb cc dd ee ff 00  04 c4 1e 00 36 00 00 00  \
         08 01 02 03",
    );
    let packet = DataPacket {
        header: CapwapHeader {
            radio_id: 1,
            wbid: 1,
            native_frame: true,
            fragment: false,
            last_fragment: false,
            keep_alive: false,
            fragment_id: 0x1234,
            fragment_offset: 0,
            radio_mac: Some(MacAddress::Eui48([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])),
            wireless_info: Some(
                FrameInfo {
                    rssi: -60,
                    snr: 30,
                    data_rate: 54,
                }
                .to_bytes(),
            ),
        },
        body: DataBody::Frame(vec![0x08, 0x01, 0x02, 0x03]),
    };
    assert_eq!(packet.encode().unwrap(), bytes);
    let decoded = DataPacket::decode(&bytes).unwrap();
    assert_eq!(decoded, packet);
    let info = FrameInfo::from_bytes(decoded.header.wireless_info.as_deref().unwrap()).unwrap();
    assert_eq!(info.rssi, -60);
}

#[test]
fn fragment_fields() {
    // F and L set, fragment 7 at offset 185 (x 8 = 1480 bytes): 185 << 3 = 0x05c8.
    let bytes = wire("00 10 02 c0 00 07 05 c8  de ad");
    let (h, len) = CapwapHeader::decode(&bytes).unwrap();
    assert_eq!(len, 8);
    assert!(h.fragment && h.last_fragment);
    assert_eq!((h.fragment_id, h.fragment_offset), (7, 185));
    let mut out = Vec::new();
    h.encode(&mut out).unwrap();
    assert_eq!(out, bytes[..8]);
}

#[test]
fn destination_wlans_bitmap() {
    let d = DestinationWlans::of(&[1, 3, 16]);
    assert_eq!(d.wlan_bitmap, 0x8005);
    assert_eq!(d.to_bytes(), [0x80, 0x05, 0, 0]);
    assert!(d.contains(3) && !d.contains(2));
}

#[test]
fn discovery_response_with_two_interfaces() {
    let bytes = wire(&format!(
        r#"{CONTROL_HEADER}
        00 00 00 02  00  00 4b  00
        00 01 00 1e  00 05 00 40 00 02 00 80  02 01 00 02
            00 00 00 00 00 04 00 01 "1"
            00 00 00 00 00 05 00 01 "2"
        00 04 00 05 "roost"
        04 18 00 05 01 00 00 00 0f
        00 0a 00 06 0a 00 00 01 00 02
        00 0a 00 06 0a 00 00 02 00 00"#
    ));
    let packet = ControlPacket::new(ControlMessage::new(
        0,
        MessageBody::DiscoveryResponse(DiscoveryResponse {
            ac_descriptor: AcDescriptor {
                stations: 5,
                limit: 64,
                active_wtps: 2,
                max_wtps: 128,
                security: AcSecurity::X509,
                r_mac: RMacField::Supported,
                dtls_policy: DtlsPolicy::CLEAR_DATA,
                hardware_version: b"1".to_vec(),
                software_version: b"2".to_vec(),
                other_information: vec![],
            },
            ac_name: AcName::from("roost"),
            radios: vec![WtpRadioInformation {
                radio_id: 1,
                radio_type: RadioType::A | RadioType::B | RadioType::G | RadioType::N,
            }],
            control_ipv4: vec![
                CapwapControlIpv4Address {
                    address: Ipv4Addr::new(10, 0, 0, 1),
                    wtp_count: 2,
                },
                CapwapControlIpv4Address {
                    address: Ipv4Addr::new(10, 0, 0, 2),
                    wtp_count: 0,
                },
            ],
            control_ipv6: vec![],
            vendor_specific: vec![],
            other_elements: vec![],
        }),
    ));
    check_control(packet, &bytes);
}

#[test]
fn elements_in_any_order_and_foreign_extras() {
    // The facts-file Discovery Request with its elements reversed and an unknown element
    // (type 60000) and an RFC 5416 Antenna element (1025, not modelled) added.
    let original = discovery_request_bytes();
    let tlvs = &original[16..];
    let mut parts = Vec::new();
    let mut rest = tlvs;
    while !rest.is_empty() {
        let len = 4 + usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        parts.push(&rest[..len]);
        rest = &rest[len..];
    }
    parts.reverse();
    let extra = wire("ea 60 00 03 01 02 03  04 01 00 05 01 00 03 01 01");
    let mut elements: Vec<u8> = parts.concat();
    elements.extend_from_slice(&extra);
    let mut bytes = original[..16].to_vec();
    bytes[13..15].copy_from_slice(&((elements.len() + 3) as u16).to_be_bytes());
    bytes.extend_from_slice(&elements);

    let decoded = ControlPacket::decode(&bytes).unwrap();
    let MessageBody::DiscoveryRequest(d) = &decoded.message.body else {
        panic!("not a Discovery Request");
    };
    assert_eq!(
        d.other_elements,
        vec![
            Element::Unknown(RawElement {
                element_type: 60000,
                value: vec![1, 2, 3],
            }),
            Element::Unknown(RawElement {
                element_type: 1025,
                value: vec![1, 0, 3, 1, 1],
            }),
        ]
    );
    // Re-encoded in field order, the extras after the fields.
    let mut canonical = discovery_request_bytes();
    canonical[13..15].copy_from_slice(&((100 + extra.len() + 3) as u16).to_be_bytes());
    canonical.extend_from_slice(&extra);
    assert_eq!(decoded.encode().unwrap(), canonical);
}

#[test]
fn unknown_message_type_is_kept() {
    // Station Configuration Request (25) with an Add Station (8) element: no typed body.
    let bytes = wire(&format!(
        "{CONTROL_HEADER} 00 00 00 19 03 00 0f 00  00 08 00 08 01 06 00 11 22 33 44 55"
    ));
    let packet = ControlPacket::decode(&bytes).unwrap();
    assert_eq!(
        packet.message.body,
        MessageBody::Other {
            message_type: 25,
            elements: vec![RawElement {
                element_type: 8,
                value: wire("01 06 00 11 22 33 44 55"),
            }],
        }
    );
    assert_eq!(
        packet.message.message_type(),
        MessageType::StationConfigurationRequest
    );
    assert_eq!(
        packet.message.message_type().response(),
        Some(MessageType::StationConfigurationResponse)
    );
    assert_eq!(packet.encode().unwrap(), bytes);
}
