//! Property tests: every typed value encodes and decodes back equal (one test per message
//! type, each inside a whole datagram with an arbitrary header), and no input, random or
//! a mutated valid encoding, makes a decoder panic.

use crate::arbitrary::*;
use crate::codec::split_tlvs;
use crate::fuzz_bodies;
use crate::messages::*;
use crate::{ControlPacket, DataPacket, Element};
use proptest::prelude::*;

fn round_trip(seq: u8, body: MessageBody, header: crate::CapwapHeader) {
    let packet = ControlPacket {
        header,
        message: ControlMessage { seq, body },
    };
    let bytes = packet.encode().expect("generated values encode");
    assert!(bytes.len() >= packet.header.encoded_len() + CONTROL_HEADER_LEN);
    assert_eq!(ControlPacket::decode(&bytes), Ok(packet.clone()));
    // The message alone decodes the same, after the header.
    let hlen = packet.header.encoded_len();
    assert_eq!(ControlMessage::decode(&bytes[hlen..]), Ok(packet.message));
}

macro_rules! round_trip_tests {
    ($( $test:ident: $variant:ident($strategy:expr); )*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            $(
                #[test]
                fn $test(seq in any::<u8>(), body in $strategy, header in header(false, false)) {
                    round_trip(seq, MessageBody::$variant(body), header);
                }
            )*
        }
    };
}

round_trip_tests! {
    discovery_request: DiscoveryRequest(DiscoveryRequest::strategy());
    discovery_response: DiscoveryResponse(DiscoveryResponse::strategy());
    join_request: JoinRequest(JoinRequest::strategy());
    join_response: JoinResponse(JoinResponse::strategy());
    configuration_status_request: ConfigurationStatusRequest(ConfigurationStatusRequest::strategy());
    configuration_status_response: ConfigurationStatusResponse(ConfigurationStatusResponse::strategy());
    configuration_update_request: ConfigurationUpdateRequest(ConfigurationUpdateRequest::strategy());
    configuration_update_response: ConfigurationUpdateResponse(ConfigurationUpdateResponse::strategy());
    wtp_event_request: WtpEventRequest(WtpEventRequest::strategy());
    wtp_event_response: WtpEventResponse(WtpEventResponse::strategy());
    change_state_event_request: ChangeStateEventRequest(ChangeStateEventRequest::strategy());
    change_state_event_response: ChangeStateEventResponse(ChangeStateEventResponse::strategy());
    echo_request: EchoRequest(EchoRequest::strategy());
    echo_response: EchoResponse(EchoResponse::strategy());
    reset_request: ResetRequest(ResetRequest::strategy());
    reset_response: ResetResponse(ResetResponse::strategy());
    primary_discovery_request: PrimaryDiscoveryRequest(DiscoveryRequest::strategy());
    primary_discovery_response: PrimaryDiscoveryResponse(DiscoveryResponse::strategy());
    wlan_configuration_request: WlanConfigurationRequest(WlanConfigurationRequest::strategy());
    wlan_configuration_response: WlanConfigurationResponse(WlanConfigurationResponse::strategy());
    controller_lost_request: ControllerLostRequest(ControllerLostRequest::strategy());
}

/// Applies one mutation chosen by `kind` at `at` (both taken modulo what fits).
fn mutate(mut bytes: Vec<u8>, kind: u8, at: usize, value: u8) -> Vec<u8> {
    if bytes.is_empty() {
        return vec![value];
    }
    let i = at % bytes.len();
    match kind % 6 {
        0 => bytes[i] ^= 1 << (value % 8),
        1 => bytes[i] = [0x00, 0xFF, 0x7F, 0x80, 0x01][usize::from(value) % 5],
        2 => bytes.truncate(i),
        3 => bytes.insert(i, value),
        4 => {
            bytes.remove(i);
        }
        _ => {
            let tail = bytes[i..].to_vec();
            bytes.extend_from_slice(&tail[..tail.len().min(16)]);
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn other_messages_round_trip(message in control_message()) {
        let bytes = message.encode().unwrap();
        prop_assert_eq!(ControlMessage::decode(&bytes), Ok(message));
    }

    #[test]
    fn every_element_round_trips(element in any_element()) {
        let mut bytes = Vec::new();
        element.encode(&mut bytes).unwrap();
        let tlvs = split_tlvs(&bytes).unwrap();
        prop_assert_eq!(tlvs.len(), 1);
        let (t, v) = tlvs[0];
        prop_assert_eq!(t, element.element_type());
        prop_assert_eq!(Element::decode(t, v), Ok(element));
    }

    #[test]
    fn headers_round_trip(h in prop_oneof![header(false, false), header(false, true), header(true, false)]) {
        let mut bytes = Vec::new();
        h.encode(&mut bytes).unwrap();
        prop_assert_eq!(bytes.len(), h.encoded_len());
        prop_assert_eq!(bytes.len() % 4, 0);
        prop_assert_eq!(crate::CapwapHeader::decode(&bytes), Ok((h.clone(), bytes.len())));
    }

    #[test]
    fn data_packets_round_trip(p in data_packet()) {
        let bytes = p.encode().unwrap();
        prop_assert_eq!(DataPacket::decode(&bytes), Ok(p));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        fuzz_bodies::decode_any(&data);
    }

    /// Random bytes rarely get past the header; a valid header in front lets them reach the
    /// element decoders.
    #[test]
    fn arbitrary_elements_never_panic(
        message_type in prop_oneof![1u32..=26, Just(3398913), Just(3398914)],
        elements in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut data = vec![0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0];
        data.extend_from_slice(&message_type.to_be_bytes());
        data.push(0);
        data.extend_from_slice(&((elements.len() + 3) as u16).to_be_bytes());
        data.push(0);
        data.extend_from_slice(&elements);
        fuzz_bodies::decode_any(&data);
    }

    #[test]
    fn mutated_control_packets_never_panic(
        packet in control_packet(),
        mutations in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = packet.encode().unwrap();
        for (kind, at, value) in mutations {
            bytes = mutate(bytes, kind, at, value);
        }
        fuzz_bodies::decode_any(&bytes);
    }

    #[test]
    fn mutated_data_packets_never_panic(
        packet in data_packet(),
        kind in any::<u8>(), at in any::<usize>(), value in any::<u8>(),
    ) {
        let bytes = mutate(packet.encode().unwrap(), kind, at, value);
        fuzz_bodies::decode_any(&bytes);
    }
}

#[test]
fn modelled_types_are_distinct() {
    let mut types = Element::MODELLED_TYPES.to_vec();
    types.sort_unstable();
    let n = types.len();
    types.dedup();
    assert_eq!(types.len(), n, "two element structs share a type number");
}
