//! One test per class of malformed input: each must be an `Err` naming what is wrong, never
//! a panic. Plus the things that look odd but are not errors (unknown elements, unknown
//! message types, unnamed enumeration values), and encode-side refusals.

mod common;

use common::*;
use roost_capwap::elements::*;
use roost_capwap::messages::*;
use roost_capwap::types::*;
use roost_capwap::*;

/// A control datagram of `message_type` around `elements`, with a correct length.
fn control(message_type: u32, elements: &[u8]) -> Vec<u8> {
    let mut out = wire(CONTROL_HEADER);
    out.extend_from_slice(&message_type.to_be_bytes());
    out.push(1);
    out.extend_from_slice(&((elements.len() + 3) as u16).to_be_bytes());
    out.push(0);
    out.extend_from_slice(elements);
    out
}

/// The facts-file Discovery Request's elements, split into TLVs.
fn discovery_elements() -> Vec<Vec<u8>> {
    let bytes = discovery_request_bytes();
    let mut rest = &bytes[16..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = 4 + usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        out.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    out
}

/// The Discovery Request with element `i` replaced by `replacement` (or dropped if empty).
fn discovery_with(i: usize, replacement: &[u8]) -> Vec<u8> {
    let mut elements = discovery_elements();
    elements[i] = replacement.to_vec();
    control(1, &elements.concat())
}

fn decode(bytes: &[u8]) -> CapwapError {
    ControlPacket::decode(bytes).expect_err("must not decode")
}

#[test]
fn empty_and_truncated_headers() {
    assert!(matches!(decode(&[]), CapwapError::Truncated { .. }));
    assert!(matches!(
        decode(&wire("00 10 02 00 00")),
        CapwapError::Truncated {
            need: 8,
            have: 5,
            ..
        }
    ));
    // Everything shorter than the discovery request, cut anywhere, is refused.
    let full = discovery_request_bytes();
    for n in 0..full.len() {
        assert!(ControlPacket::decode(&full[..n]).is_err(), "cut at {n}");
    }
}

#[test]
fn wrong_preamble_version() {
    let mut bytes = echo_request_bytes();
    bytes[0] = 0x10;
    assert_eq!(decode(&bytes), CapwapError::UnsupportedVersion(1));
    assert_eq!(
        decode(&bytes).to_string(),
        "CAPWAP version 1 is not supported (only version 0 exists)"
    );
}

#[test]
fn dtls_and_unknown_payload_types() {
    let dtls = wire("01 00 00 00 16 fe ff 00");
    assert_eq!(decode(&dtls), CapwapError::DtlsNotSupported);
    assert_eq!(peek_preamble(&dtls), Ok(PayloadKind::Dtls));
    assert_eq!(
        peek_preamble(&echo_request_bytes()),
        Ok(PayloadKind::Capwap)
    );
    assert_eq!(
        decode(&wire("02 10 02 00 00 00 00 00")),
        CapwapError::UnknownPayloadType(2)
    );
}

#[test]
fn hlen_too_small() {
    let mut bytes = echo_request_bytes();
    bytes[1] = 0x08; // HLEN 1
    assert_eq!(decode(&bytes), CapwapError::HeaderTooShort { hlen: 1 });
    bytes[1] = 0x00; // HLEN 0
    assert_eq!(decode(&bytes), CapwapError::HeaderTooShort { hlen: 0 });
}

#[test]
fn hlen_disagrees_with_the_header_fields() {
    // HLEN 3 but no optional field: Wireshark's "Wrong calculate length".
    let mut bytes = echo_request_bytes();
    bytes[1] = 0x18;
    assert_eq!(
        decode(&bytes),
        CapwapError::HeaderLengthMismatch {
            declared: 12,
            actual: 8
        }
    );
    // M set and a radio MAC present, but HLEN still 2.
    let bytes = wire("00 10 02 10 00 00 00 00  06 01 02 03 04 05 06 00");
    assert_eq!(
        CapwapHeader::decode(&bytes),
        Err(CapwapError::HeaderLengthMismatch {
            declared: 8,
            actual: 16
        })
    );
}

#[test]
fn radio_mac_of_bad_length_or_cut_short() {
    let bytes = wire("00 18 02 10 00 00 00 00  05 01 02 03 04 05 00 00");
    assert!(matches!(
        CapwapHeader::decode(&bytes),
        Err(CapwapError::BadMacLength { len: 5, .. })
    ));
    let bytes = wire("00 18 02 10 00 00 00 00  06 01 02");
    assert!(matches!(
        CapwapHeader::decode(&bytes),
        Err(CapwapError::Truncated {
            what: "header radio MAC address",
            ..
        })
    ));
}

#[test]
fn fragments_and_keep_alives_on_the_control_channel() {
    let mut bytes = echo_request_bytes();
    bytes[3] = 0x80; // F
    assert!(matches!(decode(&bytes), CapwapError::Fragmented { .. }));
    assert!(decode(&keep_alive_bytes()) == CapwapError::UnexpectedKeepAlive);
}

#[test]
fn truncated_control_header() {
    let bytes = wire(&format!("{CONTROL_HEADER} 00 00 00 0d 05 00"));
    assert!(matches!(
        decode(&bytes),
        CapwapError::Truncated {
            what: "control header",
            ..
        }
    ));
}

#[test]
fn message_element_length_disagrees_with_the_datagram() {
    let good = control(13, &[]);
    // Too large: claims bytes that are not there.
    let mut bytes = good.clone();
    bytes[14] = 4;
    assert_eq!(
        decode(&bytes),
        CapwapError::MessageLengthMismatch {
            declared: 4,
            actual: 3
        }
    );
    // The trap: counting only the elements (0) instead of 3 + elements.
    bytes[14] = 0;
    assert_eq!(
        decode(&bytes),
        CapwapError::MessageLengthMismatch {
            declared: 0,
            actual: 3
        }
    );
    // Trailing bytes after what the length covers.
    let mut bytes = good;
    bytes.push(0);
    assert_eq!(
        decode(&bytes),
        CapwapError::MessageLengthMismatch {
            declared: 3,
            actual: 4
        }
    );
}

#[test]
fn element_length_past_the_end() {
    let bytes = control(13, &wire("00 25 00 10 00 00 7e d9 00 01"));
    assert_eq!(
        decode(&bytes),
        CapwapError::ElementOverrun {
            element_type: 37,
            len: 16,
            remaining: 6
        }
    );
    // Three stray bytes: not even an element header.
    let bytes = control(13, &wire("00 25 00"));
    assert!(matches!(
        decode(&bytes),
        CapwapError::Truncated {
            what: "message element header",
            ..
        }
    ));
}

#[test]
fn element_length_disagrees_with_the_fixed_layout() {
    // Discovery Type with 2 bytes.
    let e = decode(&discovery_with(0, &wire("00 14 00 02 01 00")));
    assert_eq!(
        e,
        CapwapError::BadElementLength {
            element: "Discovery Type",
            len: 2,
            expected: Expected::Exactly(1)
        }
    );
    assert_eq!(
        e.to_string(),
        "Discovery Type: length 2 is invalid, expected exactly 1"
    );
    // Radio Information with 4 bytes.
    assert!(matches!(
        decode(&discovery_with(5, &wire("04 18 00 04 01 00 00 05"))),
        CapwapError::BadElementLength {
            element: "IEEE 802.11 WTP Radio Information",
            ..
        }
    ));
    // CAPWAP Timers, Session ID, Result Code, Control IPv4 Address, AC IPv4 List.
    for (t, v) in [
        (12u16, vec![20u8]),
        (35, vec![0; 15]),
        (33, vec![0; 5]),
        (10, vec![0; 4]),
        (2, vec![0; 6]),
    ] {
        assert!(
            matches!(
                Element::decode(t, &v),
                Err(CapwapError::BadElementLength { .. })
            ),
            "type {t}"
        );
    }
}

#[test]
fn invalid_utf8_in_text_elements() {
    let bytes = control(
        4,
        &[wire("00 21 00 04 00 00 00 00"), wire("00 04 00 02 c3 28")].concat(),
    );
    // The AC Name is checked before the Join Response's missing elements are.
    assert_eq!(
        decode(&bytes),
        CapwapError::InvalidUtf8 { element: "AC Name" }
    );
    assert_eq!(
        Element::decode(45, &[0xff]),
        Err(CapwapError::InvalidUtf8 {
            element: "WTP Name"
        })
    );
    assert!(matches!(
        Element::decode(25, &wire("00 00 7e d9 80")),
        Err(CapwapError::InvalidUtf8 { .. })
    ));
}

#[test]
fn text_too_long_or_empty() {
    assert_eq!(
        Element::decode(45, &[b'a'; 513]),
        Err(CapwapError::TooLong {
            what: "WTP Name",
            len: 513,
            max: 512
        })
    );
    assert!(matches!(
        Element::decode(4, &[]),
        Err(CapwapError::BadElementLength {
            element: "AC Name",
            ..
        })
    ));
    assert!(matches!(
        Element::decode(28, &[b'x'; 1025]),
        Err(CapwapError::TooLong { .. })
    ));
}

#[test]
fn missing_and_duplicate_elements() {
    // No WTP Board Data.
    let e = decode(&discovery_with(1, &[]));
    assert_eq!(
        e,
        CapwapError::MissingElement {
            message: "Discovery Request",
            element: "WTP Board Data"
        }
    );
    assert_eq!(
        e.to_string(),
        "Discovery Request lacks mandatory element: WTP Board Data"
    );
    // No radio at all.
    assert!(matches!(
        decode(&discovery_with(5, &[])),
        CapwapError::MissingElement {
            element: "IEEE 802.11 WTP Radio Information",
            ..
        }
    ));
    // Two Discovery Types.
    assert_eq!(
        decode(&discovery_with(0, &wire("00 14 00 01 01 00 14 00 01 02"))),
        CapwapError::DuplicateElement {
            message: "Discovery Request",
            element: "Discovery Type"
        }
    );
    // The same body as a Primary Discovery Request names that message.
    let mut primary = discovery_with(1, &[]);
    primary[11] = 19;
    assert!(matches!(
        decode(&primary),
        CapwapError::MissingElement {
            message: "Primary Discovery Request",
            ..
        }
    ));
    // A Discovery Response without any CAPWAP Control address.
    let response = control(
        2,
        &[
            wire(r#"00 01 00 1e 00 00 00 00 00 00 00 00 00 02 00 02 00 00 00 00 00 04 00 01 "1" 00 00 00 00 00 05 00 01 "2""#),
            wire(r#"00 04 00 01 "a""#),
            wire("04 18 00 05 01 00 00 00 01"),
        ]
        .concat(),
    );
    assert_eq!(
        decode(&response),
        CapwapError::MissingElement {
            message: "Discovery Response",
            element: "CAPWAP Control IPv4 or IPv6 Address"
        }
    );
    // An empty WTP Event Request.
    assert!(matches!(
        decode(&control(9, &[])),
        CapwapError::MissingElement {
            message: "WTP Event Request",
            ..
        }
    ));
}

#[test]
fn wtp_descriptor_vendor_id_trap() {
    // Boot version sent with a vendor ID: it is that vendor's sub-element, so the standard
    // boot version is missing.
    let descriptor = wire(
        r#"00 27 00 2b 01 01 01 01 00 00
        00 00 00 00 00 00 00 03 "1.0"
        00 00 00 00 00 01 00 07 "5.9.1.0"
        00 00 7e d9 00 02 00 03 "1.0""#,
    );
    assert_eq!(
        decode(&discovery_with(2, &descriptor)),
        CapwapError::MissingSubElement {
            element: "WTP Descriptor",
            sub_element: "boot version"
        }
    );
    // Num Encrypt 0.
    let value = wire(
        r#"01 01 00  00 00 00 00 00 00 00 01 "1"  00 00 00 00 00 01 00 01 "1"  00 00 00 00 00 02 00 01 "1""#,
    );
    assert!(matches!(
        Element::decode(39, &value),
        Err(CapwapError::InvalidElement {
            element: "WTP Descriptor",
            ..
        })
    ));
    // A sub-element running past the element.
    let value = wire(r#"01 01 01 01 00 00  00 00 00 00 00 00 00 09 "1.0""#);
    assert!(matches!(
        Element::decode(39, &value),
        Err(CapwapError::Truncated {
            what: "WTP Descriptor sub-element",
            ..
        })
    ));
}

#[test]
fn board_data_sub_elements() {
    // No serial number.
    assert_eq!(
        Element::decode(38, &wire(r#"00 00 7e d9 00 00 00 02 "AP""#)),
        Err(CapwapError::MissingSubElement {
            element: "WTP Board Data",
            sub_element: "serial number"
        })
    );
    // Base MAC of 5 bytes.
    assert!(matches!(
        Element::decode(
            38,
            &wire(r#"00 00 7e d9 00 00 00 01 "A" 00 01 00 01 "S" 00 04 00 05 01 02 03 04 05"#)
        ),
        Err(CapwapError::BadMacLength { len: 5, .. })
    ));
    // Two model numbers.
    assert!(matches!(
        Element::decode(
            38,
            &wire(r#"00 00 7e d9 00 00 00 01 "A" 00 00 00 01 "B" 00 01 00 01 "S""#)
        ),
        Err(CapwapError::DuplicateSubElement { .. })
    ));
    // A sub-element header cut short.
    assert!(matches!(
        Element::decode(38, &wire(r#"00 00 7e d9 00 00 00 01 "A" 00"#)),
        Err(CapwapError::Truncated { .. })
    ));
}

#[test]
fn ac_descriptor_needs_both_versions() {
    let value = wire(r#"00 00 00 00 00 00 00 00 00 02 00 02  00 00 00 00 00 04 00 01 "1""#);
    assert_eq!(
        Element::decode(1, &value),
        Err(CapwapError::MissingSubElement {
            element: "AC Descriptor",
            sub_element: "software version"
        })
    );
    assert!(matches!(
        Element::decode(1, &[0; 11]),
        Err(CapwapError::BadElementLength { .. })
    ));
}

#[test]
fn add_wlan_layout() {
    let good = wire(r#"01 01 80 00 00 00 00 00  00 00 00 00 00 00  00 00 00 00 01 "s""#);
    assert!(Element::decode(1024, &good).is_ok());
    // Key Length 16 but no key.
    let mut bad = good.clone();
    bad[7] = 16;
    assert!(matches!(
        Element::decode(1024, &bad),
        Err(CapwapError::BadElementLength {
            element: "IEEE 802.11 Add WLAN",
            ..
        })
    ));
    // SSID of 33 octets.
    let mut long = good[..19].to_vec();
    long.extend_from_slice(&[b'x'; 33]);
    assert!(matches!(
        Element::decode(1024, &long),
        Err(CapwapError::TooLong { what: "SSID", .. })
    ));
    // Update WLAN whose key length disagrees with the element.
    assert!(matches!(
        Element::decode(1044, &wire("01 01 80 00 00 00 00 02 aa")),
        Err(CapwapError::BadElementLength { .. })
    ));
}

#[test]
fn wlan_configuration_request_needs_exactly_one_operation() {
    assert!(matches!(
        decode(&control(3398913, &[])),
        CapwapError::MissingElement { .. }
    ));
    let two = [wire("04 03 00 02 01 01"), wire("04 03 00 02 01 02")].concat();
    assert!(matches!(
        decode(&control(3398913, &two)),
        CapwapError::DuplicateElement { .. }
    ));
}

#[test]
fn other_element_rules() {
    // MTU padding must be 0xFF.
    assert!(matches!(
        Element::decode(52, &[0xff, 0x00]),
        Err(CapwapError::InvalidElement { .. })
    ));
    // ACL count disagrees with the entries.
    assert!(matches!(
        Element::decode(7, &wire("02 06 00 11 22 33 44 55")),
        Err(CapwapError::Truncated { .. })
    ));
    assert!(matches!(
        Element::decode(7, &wire("01 06 00 11 22 33 44 55 ff")),
        Err(CapwapError::InvalidElement { .. })
    ));
    // Returned Message Element whose inner length disagrees.
    assert!(matches!(
        Element::decode(34, &wire("01 05 00 14 00 01")),
        Err(CapwapError::BadElementLength { .. })
    ));
    // Vendor Specific without data.
    assert!(matches!(
        Element::decode(37, &wire("00 00 7e d9 00 01")),
        Err(CapwapError::BadElementLength { .. })
    ));
}

#[test]
fn keep_alive_errors() {
    let good = keep_alive_bytes();
    let mut bad = good.clone();
    bad[9] = 0x14; // Msg Element Length not counting itself
    assert_eq!(
        KeepAlive::decode(&bad),
        Err(CapwapError::MessageLengthMismatch {
            declared: 20,
            actual: 22
        })
    );
    // No Session ID.
    let bytes = wire("00 10 00 08 00 00 00 00  00 02");
    assert!(matches!(
        KeepAlive::decode(&bytes),
        Err(CapwapError::MissingElement {
            element: "Session ID",
            ..
        })
    ));
    // Not a keep-alive.
    let frame = wire("00 10 02 00 00 00 00 00 aa");
    assert_eq!(
        KeepAlive::decode(&frame),
        Err(CapwapError::KeepAliveFlagMismatch)
    );
}

#[test]
fn what_is_not_an_error() {
    // An unknown element type inside a known message.
    let mut elements = discovery_elements();
    elements.push(wire("ff ff 00 00"));
    let packet = ControlPacket::decode(&control(1, &elements.concat())).unwrap();
    let MessageBody::DiscoveryRequest(d) = packet.message.body else {
        panic!()
    };
    assert_eq!(d.other_elements.len(), 1);
    // A known element the message does not list (a Session ID in a Discovery Request).
    let mut elements = discovery_elements();
    elements.push(wire(
        "00 23 00 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
    ));
    let packet = ControlPacket::decode(&control(1, &elements.concat())).unwrap();
    let MessageBody::DiscoveryRequest(d) = packet.message.body else {
        panic!()
    };
    assert_eq!(
        d.other_elements,
        vec![Element::SessionId(SessionId([0; 16]))]
    );
    // Unnamed enumeration values.
    let packet = ControlPacket::decode(&discovery_with(0, &wire("00 14 00 01 09"))).unwrap();
    let MessageBody::DiscoveryRequest(d) = packet.message.body else {
        panic!()
    };
    assert_eq!(d.discovery_type, DiscoveryType::Unknown(9));
    assert_eq!(
        Element::decode(33, &[0, 0, 0, 99]),
        Ok(Element::ResultCode(ResultCode::Unknown(99)))
    );
    // An unknown odd message type, to be answered with type + 1 and Result Code 19.
    let packet = ControlPacket::decode(&control(0x00ab_cd01, &[])).unwrap();
    let t = packet.message.message_type();
    assert!(t.is_request());
    assert_eq!(t.response(), Some(MessageType::Unknown(0x00ab_cd02)));
    // Reserved header bits and a non-zero control Flags byte are ignored.
    let mut bytes = echo_request_bytes();
    bytes[3] |= 0x07;
    bytes[7] |= 0x07;
    bytes[15] = 0xff;
    assert_eq!(
        ControlPacket::decode(&bytes).unwrap(),
        ControlPacket::decode(&echo_request_bytes()).unwrap()
    );
}

#[test]
fn encode_refuses_what_would_not_decode() {
    let mut header = CapwapHeader::control();
    header.radio_id = 32;
    let packet = ControlPacket {
        header,
        message: ControlMessage::new(0, MessageBody::EchoRequest(EchoRequest::default())),
    };
    assert!(matches!(
        packet.encode(),
        Err(CapwapError::OutOfRange {
            what: "header RID",
            ..
        })
    ));
    let msg = ControlMessage::new(
        0,
        MessageBody::ConfigurationUpdateRequest(ConfigurationUpdateRequest {
            wtp_name: Some(WtpName("n".repeat(513))),
            ..Default::default()
        }),
    );
    assert!(matches!(msg.encode(), Err(CapwapError::TooLong { .. })));
    // More than 64 KiB of elements.
    let msg = ControlMessage::new(
        0,
        MessageBody::EchoRequest(EchoRequest {
            vendor_specific: vec![
                VendorSpecificPayload {
                    vendor_id: 1,
                    element_id: 1,
                    data: vec![0; 2048],
                };
                40
            ],
            other_elements: vec![],
        }),
    );
    assert!(matches!(
        msg.encode(),
        Err(CapwapError::TooLong {
            what: "control message",
            ..
        })
    ));
    // Wireless information beyond what HLEN (5 bits, 124 bytes) can cover.
    let mut header = CapwapHeader::control();
    header.wireless_info = Some(vec![0; 115]);
    assert_eq!(header.encoded_len(), 124);
    assert!(header.encode(&mut Vec::new()).is_ok());
    header.wireless_info = Some(vec![0; 116]);
    assert!(matches!(
        header.encode(&mut Vec::new()),
        Err(CapwapError::OutOfRange { .. })
    ));
    // Non-canonical forms that would decode differently.
    let msg = ControlMessage::new(
        0,
        MessageBody::ConfigurationUpdateRequest(ConfigurationUpdateRequest {
            other_elements: vec![Element::IdleTimeout(IdleTimeout(300))],
            ..Default::default()
        }),
    );
    assert!(matches!(
        msg.encode(),
        Err(CapwapError::InvalidElement {
            element: "Idle Timeout",
            ..
        })
    ));
    let raw = Element::Unknown(RawElement {
        element_type: 23,
        value: vec![0, 0, 1, 44],
    });
    assert!(matches!(
        raw.encode(&mut Vec::new()),
        Err(CapwapError::InvalidElement { .. })
    ));
    // A keep-alive header on the control channel.
    let packet = ControlPacket {
        header: CapwapHeader::keep_alive(),
        message: ControlMessage::new(0, MessageBody::EchoRequest(EchoRequest::default())),
    };
    assert_eq!(packet.encode(), Err(CapwapError::KeepAliveFlagMismatch));
}
