//! CAPWAP wire codec: RFC 5415 (the control and data protocol) with the RFC 5416 IEEE 802.11
//! binding, as Roost's access controller and its simulated APs speak it.
//!
//! The layers, outermost first, as they sit in a UDP datagram:
//!
//! * UDP 5246 carries control ([`CONTROL_PORT`]), UDP 5247 data ([`DATA_PORT`]). Sockets,
//!   DSCP marking ([`TOS_CS6`]) and timers live in the daemon; this crate only has bytes.
//! * [`header`]: the preamble and the CAPWAP header (HLEN, RID, WBID, flags, fragment
//!   fields, optional Radio MAC and Wireless Specific Information).
//! * [`messages`]: a [`ControlPacket`] is the header plus a [`ControlMessage`] (control
//!   header: Message Type, Seq Num, Msg Element Length, Flags) whose [`MessageBody`] is typed
//!   per message: Discovery, Join, Configuration Status/Update, Change State Event, Echo, WTP
//!   Event, Reset, Primary Discovery and IEEE 802.11 WLAN Configuration.
//! * [`elements`]: the message elements (TLVs), each a typed struct; an element type not
//!   modelled here is kept as [`RawElement`] so a foreign WTP's extras round-trip.
//! * [`data`]: a [`DataPacket`] is a keep-alive (K flag, Session ID) or a tunnelled frame.
//! * [`Sequence`]: the modulo-256 sequence number rules for retransmissions.
//!
//! DTLS is not implemented yet: the control channel is plaintext (lab mode), and a packet
//! with the DTLS preamble (type 1) is [`CapwapError::DtlsNotSupported`]; [`peek_preamble`]
//! lets a receive loop tell the two apart first. RFC 5415 says a plaintext control packet
//! other than Discovery must be dropped; that is the daemon's policy to apply, since in lab
//! mode everything is plaintext.
//!
//! Decoding never panics: truncated or inconsistent input is a [`CapwapError`]. The codec
//! is strict about structure (lengths, layouts, UTF-8 where the RFC says text, mandatory
//! elements) and lenient about values (an enumerated value without a name decodes as
//! `Unknown(n)`; reserved bits are ignored). Whatever `encode` accepts decodes back to an
//! equal value, as long as every `Unknown(n)` enumeration value is one without a name (build
//! them with `from_raw`); encode refuses the other non-canonical forms (an element in
//! `other_elements` that has a field, a raw element of a modelled type).
//!
//! ```
//! use roost_capwap::messages::{EchoRequest, EchoResponse};
//! use roost_capwap::{ControlMessage, ControlPacket, MessageBody, MessageType};
//!
//! // A WTP's Echo Request with sequence number 5 ...
//! let request = ControlPacket::new(ControlMessage::new(
//!     5,
//!     MessageBody::EchoRequest(EchoRequest::default()),
//! ));
//! let datagram = request.encode()?;
//! assert_eq!(datagram, [0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 13, 5, 0, 3, 0]);
//!
//! // ... and the AC's answer: the response type, the same sequence number.
//! let received = ControlPacket::decode(&datagram)?;
//! let kind = received.message.message_type();
//! assert_eq!(kind.response(), Some(MessageType::EchoResponse));
//! let response = ControlPacket::new(ControlMessage::new(
//!     received.message.seq,
//!     MessageBody::EchoResponse(EchoResponse::default()),
//! ));
//! assert_eq!(response.encode()?[11], 14);
//! # Ok::<(), roost_capwap::CapwapError>(())
//! ```
//!
//! Not here: fragmentation and reassembly (a fragment is [`CapwapError::Fragmented`] on
//! the control channel, and passed through as a frame on the data channel), the Image Data,
//! Data Transfer, Clear Configuration and Station Configuration bodies (they decode as
//! [`MessageBody::Other`]), and the RFC 5416 elements for stations, QoS, rates, antennas,
//! MAC operation, multi-domain, statistics, MIC countermeasures and RSNA errors (they decode
//! as [`RawElement`]).

// Nothing here needs unsafe code.
#![forbid(unsafe_code)]

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
mod codec;
pub mod data;
pub mod elements;
pub mod error;
pub mod fuzz_bodies;
pub mod header;
pub mod messages;
#[cfg(test)]
mod proptests;
pub mod sequence;
pub mod types;
pub mod vendor;

pub use data::{DataBody, DataPacket, KeepAlive};
pub use elements::{Element, ElementBody, RawElement};
pub use error::{CapwapError, Expected};
pub use header::{peek_preamble, CapwapHeader, MacAddress, PayloadKind};
pub use messages::{ControlMessage, ControlPacket, MessageBody, MessageType};
pub use sequence::{RequestOrder, Sequence};

/// UDP port of the control channel.
pub const CONTROL_PORT: u16 = 5246;
/// UDP port of the data channel.
pub const DATA_PORT: u16 = 5247;

/// DSCP class selector 6, which RFC 5415 4.5.2.1 recommends for control messages.
pub const DSCP_CS6: u8 = 48;
/// The IPv4 TOS / IPv6 traffic class byte for [`DSCP_CS6`] (DSCP << 2, ECN bits 0), as
/// passed to `IP_TOS` / `IPV6_TCLASS`.
pub const TOS_CS6: u8 = DSCP_CS6 << 2;
/// 802.1p priority for control messages (RFC 5415 4.5.2.1).
pub const DOT1P_PRIORITY: u8 = 7;

/// CAPWAP protocol version in the preamble; the only one defined.
pub const PROTOCOL_VERSION: u8 = 0;
/// Wireless binding identifier of IEEE 802.11 (header WBID, descriptor encryption WBID).
pub const WBID_IEEE80211: u8 = 1;
/// IANA enterprise number of the IEEE 802.11 binding's message types.
pub const IEEE80211_ENTERPRISE: u32 = 13277;
/// RFC 5612's documentation enterprise number, used in examples and tests.
pub const VENDOR_ID_EXAMPLE: u32 = 32473;

/// Default timers and counters (RFC 5415 4.7, 4.8), in seconds unless named otherwise.
pub mod defaults {
    pub const CHANGE_STATE_PENDING_TIMER: u32 = 25;
    pub const DATA_CHANNEL_KEEP_ALIVE: u32 = 30;
    /// Must be at least twice the keep-alive interval and at most 240.
    pub const DATA_CHANNEL_DEAD_INTERVAL: u32 = 60;
    pub const DATA_CHECK_TIMER: u32 = 30;
    pub const DISCOVERY_INTERVAL: u32 = 5;
    pub const DTLS_SESSION_DELETE: u32 = 5;
    pub const ECHO_INTERVAL: u32 = 30;
    pub const IDLE_TIMEOUT: u32 = 300;
    pub const IMAGE_DATA_START_TIMER: u32 = 30;
    /// Range 2–180.
    pub const MAX_DISCOVERY_INTERVAL: u32 = 20;
    pub const REPORT_INTERVAL: u32 = 120;
    /// The first retransmission; it doubles each time, capped at half the EchoInterval.
    pub const RETRANSMIT_INTERVAL: u32 = 3;
    pub const SILENT_INTERVAL: u32 = 30;
    pub const STATISTICS_TIMER: u32 = 120;
    /// Must be above 30.
    pub const WAIT_DTLS: u32 = 60;
    /// Must be above 20.
    pub const WAIT_JOIN: u32 = 60;
    /// Count.
    pub const MAX_DISCOVERIES: u32 = 10;
    /// Count.
    pub const MAX_FAILED_DTLS_SESSION_RETRY: u32 = 3;
    /// Count.
    pub const MAX_RETRANSMIT: u32 = 5;
}
