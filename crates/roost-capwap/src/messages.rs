//! Control messages (RFC 5415 4.5, 5–10; RFC 5416 3): the control header and one typed body
//! per message type.
//!
//! ```text
//! | Message Type (32) | Seq Num (8) | Msg Element Length (16) | Flags (8) | elements...
//! ```
//!
//! Message Type is `IANA enterprise << 8 | type` (enterprise 0 for the base protocol, 13277
//! for IEEE 802.11). Msg Element Length counts the bytes after Seq Num, i.e. 3 (itself and
//! Flags) plus the elements: the field is computed on encode and must agree with the
//! datagram on decode.
//!
//! A typed body has a field per element the RFC lists for that message, in the RFC's order
//! (which is the encode order), plus `vendor_specific` and `other_elements` (elements valid
//! in themselves but not listed for this message, or unmodelled). Decoding accepts elements
//! in any order. A missing mandatory element is [`CapwapError::MissingElement`], which the
//! caller answers with Result Code 20 where the RFC asks for it; an element listed once that
//! appears twice is [`CapwapError::DuplicateElement`]. Message types without a typed body
//! decode as [`MessageBody::Other`] with raw elements, so an unknown request can still be
//! answered with "Unrecognized Request" (Result Code 19).

use crate::codec::{split_tlvs, Put, Reader};
use crate::elements::*;
use crate::error::CapwapError;
use crate::header::CapwapHeader;
use crate::types::*;

macro_rules! message_types {
    ( $( $(#[$m:meta])* $var:ident = $val:literal, $name:literal; )* ) => {
        /// A control message type. Requests are odd, their responses the next even number.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum MessageType {
            $( $(#[$m])* $var, )*
            /// A type this crate has no name for.
            Unknown(u32),
        }

        impl MessageType {
            pub fn from_u32(v: u32) -> MessageType {
                match v {
                    $( $val => MessageType::$var, )*
                    other => MessageType::Unknown(other),
                }
            }

            pub fn to_u32(self) -> u32 {
                match self {
                    $( MessageType::$var => $val, )*
                    MessageType::Unknown(v) => v,
                }
            }

            /// The RFC's name.
            pub fn name(self) -> &'static str {
                match self {
                    $( MessageType::$var => $name, )*
                    MessageType::Unknown(_) => "unknown message",
                }
            }
        }
    };
}

message_types! {
    DiscoveryRequest = 1, "Discovery Request";
    DiscoveryResponse = 2, "Discovery Response";
    JoinRequest = 3, "Join Request";
    JoinResponse = 4, "Join Response";
    ConfigurationStatusRequest = 5, "Configuration Status Request";
    ConfigurationStatusResponse = 6, "Configuration Status Response";
    ConfigurationUpdateRequest = 7, "Configuration Update Request";
    ConfigurationUpdateResponse = 8, "Configuration Update Response";
    WtpEventRequest = 9, "WTP Event Request";
    WtpEventResponse = 10, "WTP Event Response";
    ChangeStateEventRequest = 11, "Change State Event Request";
    ChangeStateEventResponse = 12, "Change State Event Response";
    EchoRequest = 13, "Echo Request";
    EchoResponse = 14, "Echo Response";
    ImageDataRequest = 15, "Image Data Request";
    ImageDataResponse = 16, "Image Data Response";
    ResetRequest = 17, "Reset Request";
    ResetResponse = 18, "Reset Response";
    PrimaryDiscoveryRequest = 19, "Primary Discovery Request";
    PrimaryDiscoveryResponse = 20, "Primary Discovery Response";
    DataTransferRequest = 21, "Data Transfer Request";
    DataTransferResponse = 22, "Data Transfer Response";
    ClearConfigurationRequest = 23, "Clear Configuration Request";
    ClearConfigurationResponse = 24, "Clear Configuration Response";
    StationConfigurationRequest = 25, "Station Configuration Request";
    StationConfigurationResponse = 26, "Station Configuration Response";
    /// 13277 << 8 | 1.
    WlanConfigurationRequest = 3398913, "IEEE 802.11 WLAN Configuration Request";
    /// 13277 << 8 | 2.
    WlanConfigurationResponse = 3398914, "IEEE 802.11 WLAN Configuration Response";
    /// 32473 << 8 | 1: Roost's own (see [`crate::vendor::LostSession`]).
    ControllerLostRequest = 8313089, "Roost Controller Lost Request";
}

impl MessageType {
    /// Requests have odd numbers.
    pub fn is_request(self) -> bool {
        self.to_u32() % 2 == 1
    }

    /// The response type of a request (type + 1), also for unknown requests, which the RFC
    /// answers with that type and Result Code 19.
    pub fn response(self) -> Option<MessageType> {
        let v = self.to_u32();
        (v % 2 == 1).then(|| MessageType::from_u32(v + 1))
    }

    /// The request type of a response (type − 1).
    pub fn request(self) -> Option<MessageType> {
        let v = self.to_u32();
        (v % 2 == 0 && v != 0).then(|| MessageType::from_u32(v - 1))
    }

    /// The IANA enterprise number: 0 for RFC 5415, 13277 for IEEE 802.11.
    pub fn enterprise(self) -> u32 {
        self.to_u32() >> 8
    }
}

/// The encode error for an element in `other_elements` that has a field of its own: it
/// would decode into that field, not back into `other_elements`.
fn not_other(e: &Element) -> CapwapError {
    CapwapError::InvalidElement {
        element: e.name(),
        reason: "this message has a field for it; it cannot go in other_elements",
    }
}

/// `Option` and `Vec` fields both answer "is the element there".
trait Presence {
    fn present(&self) -> bool;
}

impl<T> Presence for Option<T> {
    fn present(&self) -> bool {
        self.is_some()
    }
}

impl<T> Presence for Vec<T> {
    fn present(&self) -> bool {
        !self.is_empty()
    }
}

/// Defines a typed message body. Each field is `kind name: ElementType` where kind is
/// `one` (mandatory, once), `opt` (optional, once), `many` (any number) or `some` (at least
/// one); `require_any` lists fields of which at least one must be present.
macro_rules! message {
    (@ty one $t:ident) => { $t };
    (@ty opt $t:ident) => { Option<$t> };
    (@ty many $t:ident) => { Vec<$t> };
    (@ty some $t:ident) => { Vec<$t> };

    (@slot one $t:ident) => { Option<$t> };
    (@slot opt $t:ident) => { Option<$t> };
    (@slot many $t:ident) => { Vec<$t> };
    (@slot some $t:ident) => { Vec<$t> };

    (@enc one $out:ident $v:expr) => { $v.encode_element($out)?; };
    (@enc opt $out:ident $v:expr) => { if let Some(x) = &$v { x.encode_element($out)?; } };
    (@enc many $out:ident $v:expr) => { for x in &$v { x.encode_element($out)?; } };
    (@enc some $out:ident $v:expr) => { for x in &$v { x.encode_element($out)?; } };

    (@put one $msg:ident $slot:ident $v:ident $t:ident) => {
        if $slot.replace($v).is_some() {
            return Err(CapwapError::DuplicateElement {
                message: $msg,
                element: <$t as ElementBody>::NAME,
            });
        }
    };
    (@put opt $msg:ident $slot:ident $v:ident $t:ident) => {
        message!(@put one $msg $slot $v $t)
    };
    (@put many $msg:ident $slot:ident $v:ident $t:ident) => { $slot.push($v) };
    (@put some $msg:ident $slot:ident $v:ident $t:ident) => { $slot.push($v) };

    (@finish one $msg:ident $slot:ident $t:ident) => {
        match $slot {
            Some(v) => v,
            None => {
                return Err(CapwapError::MissingElement {
                    message: $msg,
                    element: <$t as ElementBody>::NAME,
                })
            }
        }
    };
    (@finish opt $msg:ident $slot:ident $t:ident) => { $slot };
    (@finish many $msg:ident $slot:ident $t:ident) => { $slot };
    (@finish some $msg:ident $slot:ident $t:ident) => {
        if $slot.is_empty() {
            return Err(CapwapError::MissingElement {
                message: $msg,
                element: <$t as ElementBody>::NAME,
            });
        } else {
            $slot
        }
    };

    (@arb one $t:ident) => {
        arb::<$t>().prop_map(|v| vec![Element::from(v)]).boxed()
    };
    (@arb opt $t:ident) => {
        proptest::option::of(arb::<$t>())
            .prop_map(|v| v.into_iter().map(Element::from).collect())
            .boxed()
    };
    (@arb many $t:ident) => {
        proptest::collection::vec(arb::<$t>(), 0..3)
            .prop_map(|v| v.into_iter().map(Element::from).collect())
            .boxed()
    };
    (@arb some $t:ident) => {
        proptest::collection::vec(arb::<$t>(), 1..3)
            .prop_map(|v| v.into_iter().map(Element::from).collect())
            .boxed()
    };

    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $kind:ident $field:ident : $t:ident, )*
        }
        $( require_any($label:literal: $( $any:ident ),+ ); )*
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: message!(@ty $kind $t), )*
            /// Vendor Specific Payload elements, allowed in every message.
            pub vendor_specific: Vec<VendorSpecificPayload>,
            /// Elements this message has no field for (valid, or unmodelled and raw); they
            /// are encoded after the fields. Encoding refuses one that has a field here.
            pub other_elements: Vec<Element>,
        }

        impl $name {
            pub(crate) fn encode_elements(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
                $( message!(@enc $kind out self.$field); )*
                for v in &self.vendor_specific {
                    v.encode_element(out)?;
                }
                for e in &self.other_elements {
                    let t = e.element_type();
                    if [$( <$t as ElementBody>::TYPE, )* VendorSpecificPayload::TYPE].contains(&t) {
                        return Err(not_other(e));
                    }
                    e.encode(out)?;
                }
                Ok(())
            }

            /// Sorts decoded elements into fields; `message` names the message in errors.
            pub(crate) fn decode_elements(
                message: &'static str,
                elements: Vec<Element>,
            ) -> Result<$name, CapwapError> {
                let _ = message;
                $( let mut $field: message!(@slot $kind $t) = Default::default(); )*
                let mut vendor_specific = Vec::new();
                let mut other_elements = Vec::new();
                for element in elements {
                    match element {
                        $( Element::$t(v) => { message!(@put $kind message $field v $t); } )*
                        Element::VendorSpecificPayload(v) => vendor_specific.push(v),
                        other => other_elements.push(other),
                    }
                }
                let decoded = $name {
                    $( $field: message!(@finish $kind message $field $t), )*
                    vendor_specific,
                    other_elements,
                };
                $(
                    if ![ $( Presence::present(&decoded.$any) ),+ ].contains(&true) {
                        return Err(CapwapError::MissingElement { message, element: $label });
                    }
                )*
                Ok(decoded)
            }
        }

        #[cfg(any(test, feature = "arbitrary"))]
        impl $name {
            /// Valid values of this body, for property tests.
            pub fn strategy() -> proptest::strategy::BoxedStrategy<$name> {
                #[allow(unused_imports)]
                use crate::arbitrary::arb;
                use proptest::prelude::*;
                let parts: Vec<BoxedStrategy<Vec<Element>>> = vec![
                    $( message!(@arb $kind $t), )*
                    crate::arbitrary::vendor_elements(),
                    crate::arbitrary::unknown_elements(),
                ];
                parts
                    .prop_filter_map("message constraints", |groups| {
                        $name::decode_elements(stringify!($name), groups.into_iter().flatten().collect()).ok()
                    })
                    .boxed()
            }
        }
    };
}

message! {
    /// Discovery Request (RFC 5415 5.1), also the body of a Primary Discovery Request (5.3).
    pub struct DiscoveryRequest {
        one discovery_type: DiscoveryType,
        one board_data: WtpBoardData,
        one descriptor: WtpDescriptor,
        one frame_tunnel_mode: WtpFrameTunnelMode,
        one mac_type: WtpMacType,
        /// One per radio.
        some radios: WtpRadioInformation,
        opt mtu_discovery_padding: MtuDiscoveryPadding,
    }
}

message! {
    /// Discovery Response (RFC 5415 5.2), also the body of a Primary Discovery Response (5.4).
    pub struct DiscoveryResponse {
        one ac_descriptor: AcDescriptor,
        one ac_name: AcName,
        some radios: WtpRadioInformation,
        /// One per AC interface, with its WTP count for load balancing.
        many control_ipv4: CapwapControlIpv4Address,
        many control_ipv6: CapwapControlIpv6Address,
    }
    require_any("CAPWAP Control IPv4 or IPv6 Address": control_ipv4, control_ipv6);
}

message! {
    /// Join Request (RFC 5415 6.1). The RFC drops a malformed one silently: no response.
    pub struct JoinRequest {
        one location: LocationData,
        one board_data: WtpBoardData,
        one descriptor: WtpDescriptor,
        one wtp_name: WtpName,
        one session_id: SessionId,
        one frame_tunnel_mode: WtpFrameTunnelMode,
        one mac_type: WtpMacType,
        some radios: WtpRadioInformation,
        one ecn_support: EcnSupport,
        opt local_ipv4: CapwapLocalIpv4Address,
        opt local_ipv6: CapwapLocalIpv6Address,
        opt transport_protocol: CapwapTransportProtocol,
        opt maximum_message_length: MaximumMessageLength,
        opt reboot_statistics: WtpRebootStatistics,
    }
    require_any("CAPWAP Local IPv4 or IPv6 Address": local_ipv4, local_ipv6);
}

message! {
    /// Join Response (RFC 5415 6.2). An Image Identifier that differs from the WTP's running
    /// image sends it to Image Data instead of Configure.
    pub struct JoinResponse {
        one result_code: ResultCode,
        one ac_descriptor: AcDescriptor,
        one ac_name: AcName,
        some radios: WtpRadioInformation,
        one ecn_support: EcnSupport,
        opt control_ipv4: CapwapControlIpv4Address,
        opt control_ipv6: CapwapControlIpv6Address,
        opt local_ipv4: CapwapLocalIpv4Address,
        opt local_ipv6: CapwapLocalIpv6Address,
        opt ac_ipv4_list: AcIpv4List,
        opt ac_ipv6_list: AcIpv6List,
        opt transport_protocol: CapwapTransportProtocol,
        opt image_identifier: ImageIdentifier,
        opt maximum_message_length: MaximumMessageLength,
    }
    require_any("CAPWAP Control IPv4 or IPv6 Address": control_ipv4, control_ipv6);
    require_any("CAPWAP Local IPv4 or IPv6 Address": local_ipv4, local_ipv6);
}

message! {
    /// Configuration Status Request (RFC 5415 8.2, RFC 5416 5.7).
    pub struct ConfigurationStatusRequest {
        one ac_name: AcName,
        /// One with Radio ID 0xFF for the WTP, plus one per radio.
        some radio_admin_states: RadioAdministrativeState,
        one statistics_timer: StatisticsTimer,
        one reboot_statistics: WtpRebootStatistics,
        many ac_names_with_priority: AcNameWithPriority,
        opt transport_protocol: CapwapTransportProtocol,
        opt static_ip: WtpStaticIpAddressInformation,
        /// RFC 5416 asks for one per radio; not enforced, as the base RFC does not list it.
        many radios: WtpRadioInformation,
        many radio_configurations: WtpRadioConfiguration,
        many tx_powers: TxPower,
        many dsss_controls: DirectSequenceControl,
        many ofdm_controls: OfdmControl,
    }
}

message! {
    /// Configuration Status Response (RFC 5415 8.3, RFC 5416 5.8).
    pub struct ConfigurationStatusResponse {
        one timers: CapwapTimers,
        some decryption_error_report_periods: DecryptionErrorReportPeriod,
        one idle_timeout: IdleTimeout,
        one wtp_fallback: WtpFallback,
        opt ac_ipv4_list: AcIpv4List,
        opt ac_ipv6_list: AcIpv6List,
        opt static_ip: WtpStaticIpAddressInformation,
        many radio_configurations: WtpRadioConfiguration,
        many tx_powers: TxPower,
        many dsss_controls: DirectSequenceControl,
        many ofdm_controls: OfdmControl,
    }
    require_any("AC IPv4 or IPv6 List": ac_ipv4_list, ac_ipv6_list);
}

message! {
    /// Configuration Update Request (RFC 5415 8.4, RFC 5416 5.9): every element optional.
    #[derive(Default)]
    pub struct ConfigurationUpdateRequest {
        many ac_names_with_priority: AcNameWithPriority,
        opt ac_timestamp: AcTimestamp,
        opt add_mac_acl: AddMacAclEntry,
        opt timers: CapwapTimers,
        many decryption_error_report_periods: DecryptionErrorReportPeriod,
        opt delete_mac_acl: DeleteMacAclEntry,
        opt idle_timeout: IdleTimeout,
        opt location: LocationData,
        many radio_admin_states: RadioAdministrativeState,
        opt statistics_timer: StatisticsTimer,
        opt wtp_fallback: WtpFallback,
        opt wtp_name: WtpName,
        opt static_ip: WtpStaticIpAddressInformation,
        opt image_identifier: ImageIdentifier,
        many radio_configurations: WtpRadioConfiguration,
        many tx_powers: TxPower,
        many dsss_controls: DirectSequenceControl,
        many ofdm_controls: OfdmControl,
    }
}

message! {
    /// Configuration Update Response (RFC 5415 8.5). Radio Operational State reports a
    /// radio whose admin-state change could not be applied.
    pub struct ConfigurationUpdateResponse {
        one result_code: ResultCode,
        many radio_operational_states: RadioOperationalState,
    }
}

message! {
    /// Change State Event Request (RFC 5415 8.6, RFC 5416 5.11).
    pub struct ChangeStateEventRequest {
        /// One per radio.
        some radio_operational_states: RadioOperationalState,
        one result_code: ResultCode,
        many returned_elements: ReturnedMessageElement,
        many radio_fail_alarms: WtpRadioFailAlarm,
    }
}

message! {
    /// Change State Event Response (RFC 5415 8.7).
    #[derive(Default)]
    pub struct ChangeStateEventResponse {}
}

message! {
    /// Echo Request (RFC 5415 7.1): keeps the control channel alive in Run.
    #[derive(Default)]
    pub struct EchoRequest {}
}

message! {
    /// Echo Response (RFC 5415 7.2).
    #[derive(Default)]
    pub struct EchoResponse {}
}

message! {
    /// Roost Controller Lost Request, a Roost vendor message (RFC 5415 4.5.1.1: Enterprise
    /// Number << 8 | 1): a member that saw another member die tells that member's APs, so
    /// that they probe their controller at once instead of at their next echo. Its Vendor
    /// Specific element [`crate::vendor::LostSession`] names the session, which the AP checks
    /// against its own; the AP answers nothing (a WTP that does not know the message may
    /// answer Result Code 19, which the AC ignores).
    #[derive(Default)]
    pub struct ControllerLostRequest {}
}

message! {
    /// WTP Event Request (RFC 5415 9.4, RFC 5416 5.12): at least one event element. The
    /// 802.11 MIC Countermeasures, RSNA Error Report and Statistics elements are not modelled
    /// and arrive raw in `other_elements`.
    #[derive(Default)]
    pub struct WtpEventRequest {
        many decryption_error_reports: DecryptionErrorReport,
        opt duplicate_ipv4: DuplicateIpv4Address,
        opt duplicate_ipv6: DuplicateIpv6Address,
        many radio_statistics: WtpRadioStatistics,
        opt reboot_statistics: WtpRebootStatistics,
        many delete_stations: DeleteStation,
    }
    require_any("at least one event element": decryption_error_reports, duplicate_ipv4,
        duplicate_ipv6, radio_statistics, reboot_statistics, delete_stations,
        vendor_specific, other_elements);
}

message! {
    /// WTP Event Response (RFC 5415 9.5).
    #[derive(Default)]
    pub struct WtpEventResponse {}
}

message! {
    /// Reset Request (RFC 5415 9.2): reboot into the identified image.
    pub struct ResetRequest {
        one image_identifier: ImageIdentifier,
    }
}

message! {
    /// Reset Response (RFC 5415 9.3).
    #[derive(Default)]
    pub struct ResetResponse {
        opt result_code: ResultCode,
    }
}

message! {
    /// IEEE 802.11 WLAN Configuration Response (RFC 5416 3.2).
    pub struct WlanConfigurationResponse {
        one result_code: ResultCode,
        /// Present when the request added a WLAN.
        opt assigned_bssid: AssignedWtpBssid,
    }
}

/// The one WLAN operation of a WLAN Configuration Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WlanOperation {
    Add(AddWlan),
    Update(UpdateWlan),
    Delete(DeleteWlan),
}

/// IEEE 802.11 WLAN Configuration Request (RFC 5416 3.1): exactly one of Add, Update or
/// Delete WLAN, plus the information elements (RSN, WPA, WMM, ...) that go with it. Sent
/// after the Configuration Update Response when WLANs are pushed automatically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WlanConfigurationRequest {
    pub operation: WlanOperation,
    pub information_elements: Vec<InformationElement>,
    pub vendor_specific: Vec<VendorSpecificPayload>,
    pub other_elements: Vec<Element>,
}

const WLAN_OPERATION: &str = "IEEE 802.11 Add, Update or Delete WLAN";

impl WlanConfigurationRequest {
    pub(crate) fn encode_elements(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        match &self.operation {
            WlanOperation::Add(v) => v.encode_element(out)?,
            WlanOperation::Update(v) => v.encode_element(out)?,
            WlanOperation::Delete(v) => v.encode_element(out)?,
        }
        for v in &self.information_elements {
            v.encode_element(out)?;
        }
        for v in &self.vendor_specific {
            v.encode_element(out)?;
        }
        for e in &self.other_elements {
            if [
                AddWlan::TYPE,
                UpdateWlan::TYPE,
                DeleteWlan::TYPE,
                InformationElement::TYPE,
                VendorSpecificPayload::TYPE,
            ]
            .contains(&e.element_type())
            {
                return Err(not_other(e));
            }
            e.encode(out)?;
        }
        Ok(())
    }

    pub(crate) fn decode_elements(
        message: &'static str,
        elements: Vec<Element>,
    ) -> Result<WlanConfigurationRequest, CapwapError> {
        let mut operation = None;
        let mut information_elements = Vec::new();
        let mut vendor_specific = Vec::new();
        let mut other_elements = Vec::new();
        for element in elements {
            let op = match element {
                Element::AddWlan(v) => WlanOperation::Add(v),
                Element::UpdateWlan(v) => WlanOperation::Update(v),
                Element::DeleteWlan(v) => WlanOperation::Delete(v),
                Element::InformationElement(v) => {
                    information_elements.push(v);
                    continue;
                }
                Element::VendorSpecificPayload(v) => {
                    vendor_specific.push(v);
                    continue;
                }
                other => {
                    other_elements.push(other);
                    continue;
                }
            };
            if operation.replace(op).is_some() {
                return Err(CapwapError::DuplicateElement {
                    message,
                    element: WLAN_OPERATION,
                });
            }
        }
        Ok(WlanConfigurationRequest {
            operation: operation.ok_or(CapwapError::MissingElement {
                message,
                element: WLAN_OPERATION,
            })?,
            information_elements,
            vendor_specific,
            other_elements,
        })
    }

    /// Valid values of this body, for property tests.
    #[cfg(any(test, feature = "arbitrary"))]
    pub fn strategy() -> proptest::strategy::BoxedStrategy<WlanConfigurationRequest> {
        use crate::arbitrary::{arb, unknown_elements, vendor_elements};
        use proptest::prelude::*;
        let operation = prop_oneof![
            arb::<AddWlan>().prop_map(WlanOperation::Add),
            arb::<UpdateWlan>().prop_map(WlanOperation::Update),
            arb::<DeleteWlan>().prop_map(WlanOperation::Delete),
        ];
        (
            operation,
            proptest::collection::vec(arb::<InformationElement>(), 0..3),
            vendor_elements(),
            unknown_elements(),
        )
            .prop_map(
                |(operation, information_elements, vendor, other)| WlanConfigurationRequest {
                    operation,
                    information_elements,
                    vendor_specific: vendor
                        .into_iter()
                        .filter_map(|e| match e {
                            Element::VendorSpecificPayload(v) => Some(v),
                            _ => None,
                        })
                        .collect(),
                    other_elements: other,
                },
            )
            .boxed()
    }
}

macro_rules! bodies {
    ( $( $(#[$m:meta])* $var:ident($t:ident), )* ) => {
        /// The typed body of a control message; the variant decides the Message Type.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum MessageBody {
            $( $(#[$m])* $var($t), )*
            /// A message type without a typed body here (Image Data, Data Transfer, Clear
            /// Configuration, Station Configuration, vendor types), elements kept raw. Its
            /// `message_type` should not be one of the typed ones: such a value encodes,
            /// but decodes as the typed variant.
            Other {
                message_type: u32,
                elements: Vec<RawElement>,
            },
        }

        impl MessageBody {
            pub fn message_type(&self) -> MessageType {
                match self {
                    $( MessageBody::$var(_) => MessageType::$var, )*
                    MessageBody::Other { message_type, .. } => MessageType::from_u32(*message_type),
                }
            }

            fn encode_elements(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
                match self {
                    $( MessageBody::$var(b) => b.encode_elements(out), )*
                    MessageBody::Other { elements, .. } => {
                        for e in elements {
                            e.encode(out)?;
                        }
                        Ok(())
                    }
                }
            }

            fn decode(message_type: u32, elements: &[u8]) -> Result<MessageBody, CapwapError> {
                let tlvs = split_tlvs(elements)?;
                let kind = MessageType::from_u32(message_type);
                match kind {
                    $(
                        MessageType::$var => {
                            let typed = tlvs
                                .into_iter()
                                .map(|(t, v)| Element::decode(t, v))
                                .collect::<Result<Vec<_>, _>>()?;
                            Ok(MessageBody::$var($t::decode_elements(kind.name(), typed)?))
                        }
                    )*
                    _ => Ok(MessageBody::Other {
                        message_type,
                        elements: tlvs
                            .into_iter()
                            .map(|(element_type, v)| RawElement { element_type, value: v.to_vec() })
                            .collect(),
                    }),
                }
            }
        }
    };
}

bodies! {
    DiscoveryRequest(DiscoveryRequest),
    DiscoveryResponse(DiscoveryResponse),
    JoinRequest(JoinRequest),
    JoinResponse(JoinResponse),
    ConfigurationStatusRequest(ConfigurationStatusRequest),
    ConfigurationStatusResponse(ConfigurationStatusResponse),
    ConfigurationUpdateRequest(ConfigurationUpdateRequest),
    ConfigurationUpdateResponse(ConfigurationUpdateResponse),
    WtpEventRequest(WtpEventRequest),
    WtpEventResponse(WtpEventResponse),
    ChangeStateEventRequest(ChangeStateEventRequest),
    ChangeStateEventResponse(ChangeStateEventResponse),
    EchoRequest(EchoRequest),
    EchoResponse(EchoResponse),
    ResetRequest(ResetRequest),
    ResetResponse(ResetResponse),
    PrimaryDiscoveryRequest(DiscoveryRequest),
    PrimaryDiscoveryResponse(DiscoveryResponse),
    WlanConfigurationRequest(WlanConfigurationRequest),
    WlanConfigurationResponse(WlanConfigurationResponse),
    ControllerLostRequest(ControllerLostRequest),
}

/// Bytes of the control header.
pub const CONTROL_HEADER_LEN: usize = 8;

/// A control message: sequence number and typed body, without the CAPWAP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMessage {
    /// Copied from the request into its response; see [`crate::Sequence`].
    pub seq: u8,
    pub body: MessageBody,
}

impl ControlMessage {
    pub fn new(seq: u8, body: MessageBody) -> ControlMessage {
        ControlMessage { seq, body }
    }

    pub fn message_type(&self) -> MessageType {
        self.body.message_type()
    }

    /// Control header and elements. Fails if an element or the whole message is too long
    /// for its length field, or a value breaks its element's layout.
    pub fn encode(&self) -> Result<Vec<u8>, CapwapError> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        let start = out.len();
        out.put_u32(self.message_type().to_u32());
        out.put_u8(self.seq);
        out.put_u16(0);
        out.put_u8(0);
        self.body.encode_elements(out)?;
        // Msg Element Length: everything after Seq Num (itself, Flags, the elements).
        let len = out.len() - start - 5;
        let len16 = u16::try_from(len).map_err(|_| CapwapError::TooLong {
            what: "control message",
            len,
            max: u16::MAX.into(),
        })?;
        out[start + 5..start + 7].copy_from_slice(&len16.to_be_bytes());
        Ok(())
    }

    /// Decodes a control header and its elements; `bytes` is the UDP payload after the
    /// CAPWAP header, and the Msg Element Length must account for all of it. The Flags
    /// byte is ignored.
    pub fn decode(bytes: &[u8]) -> Result<ControlMessage, CapwapError> {
        let mut r = Reader::new(bytes, "control header");
        let message_type = r.u32()?;
        let seq = r.u8()?;
        let declared = usize::from(r.u16()?);
        let _flags = r.u8()?;
        let actual = bytes.len() - 5;
        if declared != actual {
            return Err(CapwapError::MessageLengthMismatch { declared, actual });
        }
        Ok(ControlMessage {
            seq,
            body: MessageBody::decode(message_type, r.rest())?,
        })
    }
}

/// A whole control datagram (the UDP 5246 payload): CAPWAP header and control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPacket {
    pub header: CapwapHeader,
    pub message: ControlMessage,
}

impl ControlPacket {
    /// The message behind the standard control header ([`CapwapHeader::control`]).
    pub fn new(message: ControlMessage) -> ControlPacket {
        ControlPacket {
            header: CapwapHeader::control(),
            message,
        }
    }

    /// Fails for a header with the K or F flag: keep-alives belong on the data channel, and
    /// fragmentation is not implemented.
    pub fn encode(&self) -> Result<Vec<u8>, CapwapError> {
        if self.header.keep_alive {
            return Err(CapwapError::KeepAliveFlagMismatch);
        }
        if self.header.fragment {
            return Err(CapwapError::Fragmented {
                id: self.header.fragment_id,
                offset: self.header.fragment_offset,
            });
        }
        let mut out = Vec::with_capacity(self.header.encoded_len() + 64);
        self.header.encode(&mut out)?;
        self.message.encode_into(&mut out)?;
        Ok(out)
    }

    pub fn decode(datagram: &[u8]) -> Result<ControlPacket, CapwapError> {
        let (header, hlen) = CapwapHeader::decode(datagram)?;
        if header.keep_alive {
            return Err(CapwapError::UnexpectedKeepAlive);
        }
        if header.fragment {
            return Err(CapwapError::Fragmented {
                id: header.fragment_id,
                offset: header.fragment_offset,
            });
        }
        let message = ControlMessage::decode(&datagram[hlen..])?;
        Ok(ControlPacket { header, message })
    }
}
