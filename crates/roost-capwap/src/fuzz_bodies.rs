//! Bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs`), kept in the library so that the
//! libFuzzer targets and the stable tests (the never-panics property tests) run exactly the
//! same code.
//!
//! Each body feeds arbitrary bytes to a decoder, which must return rather than panic, and
//! checks that whatever was accepted survives a re-encode/decode round trip. A panic here
//! (from a decoder or a failed `assert`) is a finding.

use crate::{ControlMessage, ControlPacket, DataPacket};

/// [`ControlPacket::decode`] (a whole control datagram) on arbitrary bytes.
pub fn control_packet(data: &[u8]) {
    if let Ok(packet) = ControlPacket::decode(data) {
        let bytes = packet
            .encode()
            .expect("a decoded control packet re-encodes");
        assert_eq!(
            ControlPacket::decode(&bytes).as_ref(),
            Ok(&packet),
            "control packet round trip"
        );
    }
}

/// [`ControlMessage::decode`] (a control header and elements, no CAPWAP header).
pub fn control_message(data: &[u8]) {
    if let Ok(msg) = ControlMessage::decode(data) {
        let bytes = msg.encode().expect("a decoded control message re-encodes");
        assert_eq!(
            ControlMessage::decode(&bytes).as_ref(),
            Ok(&msg),
            "control message round trip"
        );
    }
}

/// [`DataPacket::decode`] (a whole data channel datagram).
pub fn data_packet(data: &[u8]) {
    if let Ok(packet) = DataPacket::decode(data) {
        let bytes = packet.encode().expect("a decoded data packet re-encodes");
        assert_eq!(
            DataPacket::decode(&bytes).as_ref(),
            Ok(&packet),
            "data packet round trip"
        );
    }
}

/// All decoders on the same input: what the single `decode` fuzz target runs.
pub fn decode_any(data: &[u8]) {
    control_packet(data);
    control_message(data);
    data_packet(data);
}
