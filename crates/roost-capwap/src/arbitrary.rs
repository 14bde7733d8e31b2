//! Proptest strategies for every value this crate encodes (feature `arbitrary`, and this
//! crate's own tests).
//!
//! Everything generated is valid: it encodes, and decodes back equal. Names are drawn both
//! short and at their RFC maximum, enumerations over all 256 (or 2^32) raw values.

use crate::data::{DataBody, DataPacket, KeepAlive};
use crate::elements::*;
use crate::header::{CapwapHeader, MacAddress};
use crate::messages::*;
use crate::types::*;
use proptest::prelude::*;
use proptest::strategy::Union;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A type with a strategy of valid values.
pub trait Arb: Sized + std::fmt::Debug + Clone + 'static {
    fn arb() -> BoxedStrategy<Self>;
}

/// The strategy of `T`.
pub fn arb<T: Arb>() -> BoxedStrategy<T> {
    T::arb()
}

/// UTF-8 text of 1..=`max` bytes: usually short (any printable characters), sometimes
/// exactly `max` bytes.
pub fn text(max: usize) -> BoxedStrategy<String> {
    prop_oneof![
        8 => "\\PC{1,12}".prop_filter("fits", move |s| s.len() <= max),
        1 => Just("x".repeat(max)),
        1 => Just("é".repeat(max / 2)),
    ]
    .boxed()
}

/// Bytes of `min..=max` length.
pub fn bytes(min: usize, max: usize) -> BoxedStrategy<Vec<u8>> {
    proptest::collection::vec(any::<u8>(), min..=max).boxed()
}

/// Like [`bytes`] but short most of the time, with the bounds themselves now and then.
fn sized_bytes(min: usize, max: usize) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        8 => bytes(min, max.min(min + 12)),
        1 => bytes(min, min),
        1 => bytes(max, max),
    ]
    .boxed()
}

pub fn mac() -> BoxedStrategy<MacAddress> {
    prop_oneof![
        any::<[u8; 6]>().prop_map(MacAddress::Eui48),
        any::<[u8; 8]>().prop_map(MacAddress::Eui64),
    ]
    .boxed()
}

fn macs() -> BoxedStrategy<Vec<MacAddress>> {
    proptest::collection::vec(mac(), 1..4).boxed()
}

fn ipv4() -> BoxedStrategy<Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from).boxed()
}

fn ipv6() -> BoxedStrategy<Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from).boxed()
}

macro_rules! arb_raw {
    ($($t:ident: $repr:ty),* $(,)?) => {
        $(
            impl Arb for $t {
                fn arb() -> BoxedStrategy<Self> {
                    any::<$repr>().prop_map($t::from_raw).boxed()
                }
            }
        )*
    };
}

arb_raw!(
    DiscoveryType: u8,
    RMacField: u8,
    WtpFallback: u8,
    WtpMacType: u8,
    EcnSupport: u8,
    CapwapTransportProtocol: u8,
    AdminState: u8,
    OperationalState: u8,
    OperationalCause: u8,
    ReturnedReason: u8,
    RebootFailureType: u8,
    RadioFailureType: u8,
    KeyStatus: u8,
    WlanQos: u8,
    AuthType: u8,
    WlanMacMode: u8,
    WlanTunnelMode: u8,
    RadioFailAlarmType: u8,
    ResultCode: u32,
);

macro_rules! arb_with {
    ($($t:ty => $s:expr;)*) => {
        $(
            impl Arb for $t {
                fn arb() -> BoxedStrategy<Self> {
                    ($s).boxed()
                }
            }
        )*
    };
}

fn vendor_subs(is_standard: fn(u32, u16) -> bool) -> BoxedStrategy<Vec<VendorSubElement>> {
    proptest::collection::vec(
        (
            any::<u32>(),
            any::<u16>(),
            sized_bytes(0, MAX_SUB_ELEMENT_LEN),
        )
            .prop_filter("not a standard sub-element", move |(v, t, _)| {
                !is_standard(*v, *t)
            })
            .prop_map(|(vendor_id, sub_type, data)| VendorSubElement {
                vendor_id,
                sub_type,
                data,
            }),
        0..3,
    )
    .boxed()
}

fn version() -> BoxedStrategy<Vec<u8>> {
    sized_bytes(0, MAX_SUB_ELEMENT_LEN)
}

arb_with! {
    WtpFrameTunnelMode => any::<u8>().prop_map(WtpFrameTunnelMode);
    AcName => text(MAX_NAME_LEN).prop_map(AcName);
    WtpName => text(MAX_NAME_LEN).prop_map(WtpName);
    LocationData => text(MAX_LOCATION_LEN).prop_map(LocationData);
    AcTimestamp => any::<u32>().prop_map(AcTimestamp);
    IdleTimeout => any::<u32>().prop_map(IdleTimeout);
    MaximumMessageLength => any::<u16>().prop_map(MaximumMessageLength);
    StatisticsTimer => any::<u16>().prop_map(StatisticsTimer);
    AcDescriptor => (
        any::<[u16; 4]>(),
        any::<u8>(),
        arb::<RMacField>(),
        any::<u8>(),
        version(),
        version(),
        vendor_subs(|v, t| v == 0 && (t == AC_INFO_HARDWARE_VERSION || t == AC_INFO_SOFTWARE_VERSION)),
    )
        .prop_map(|([stations, limit, active_wtps, max_wtps], s, r_mac, d, hw, sw, other)| {
            AcDescriptor {
                stations,
                limit,
                active_wtps,
                max_wtps,
                security: AcSecurity(s),
                r_mac,
                dtls_policy: DtlsPolicy(d),
                hardware_version: hw,
                software_version: sw,
                other_information: other,
            }
        });
    AcIpv4List => prop_oneof![
        8 => proptest::collection::vec(ipv4(), 1..5),
        1 => proptest::collection::vec(ipv4(), MAX_AC_LIST_LEN..=MAX_AC_LIST_LEN),
    ]
    .prop_map(AcIpv4List);
    AcIpv6List => proptest::collection::vec(ipv6(), 1..4).prop_map(AcIpv6List);
    AcNameWithPriority => (any::<u8>(), text(MAX_NAME_LEN))
        .prop_map(|(priority, name)| AcNameWithPriority { priority, name });
    AddMacAclEntry => macs().prop_map(AddMacAclEntry);
    DeleteMacAclEntry => macs().prop_map(DeleteMacAclEntry);
    CapwapControlIpv4Address => (ipv4(), any::<u16>())
        .prop_map(|(address, wtp_count)| CapwapControlIpv4Address { address, wtp_count });
    CapwapControlIpv6Address => (ipv6(), any::<u16>())
        .prop_map(|(address, wtp_count)| CapwapControlIpv6Address { address, wtp_count });
    CapwapLocalIpv4Address => ipv4().prop_map(CapwapLocalIpv4Address);
    CapwapLocalIpv6Address => ipv6().prop_map(CapwapLocalIpv6Address);
    CapwapTimers => (any::<u8>(), any::<u8>())
        .prop_map(|(discovery, echo_request)| CapwapTimers { discovery, echo_request });
    DecryptionErrorReport => (any::<u8>(), macs())
        .prop_map(|(radio_id, stations)| DecryptionErrorReport { radio_id, stations });
    DecryptionErrorReportPeriod => (any::<u8>(), any::<u16>()).prop_map(
        |(radio_id, report_interval)| DecryptionErrorReportPeriod { radio_id, report_interval },
    );
    DeleteStation => (any::<u8>(), mac()).prop_map(|(radio_id, mac)| DeleteStation { radio_id, mac });
    DuplicateIpv4Address => (ipv4(), any::<bool>(), mac())
        .prop_map(|(address, detected, mac)| DuplicateIpv4Address { address, detected, mac });
    DuplicateIpv6Address => (ipv6(), any::<bool>(), mac())
        .prop_map(|(address, detected, mac)| DuplicateIpv6Address { address, detected, mac });
    ImageIdentifier => (any::<u32>(), text(MAX_LOCATION_LEN))
        .prop_map(|(vendor_id, data)| ImageIdentifier { vendor_id, data });
    MtuDiscoveryPadding => (0u16..64).prop_map(|len| MtuDiscoveryPadding { len });
    RadioAdministrativeState => (any::<u8>(), arb::<AdminState>())
        .prop_map(|(radio_id, admin_state)| RadioAdministrativeState { radio_id, admin_state });
    RadioOperationalState => (any::<u8>(), arb::<OperationalState>(), arb::<OperationalCause>())
        .prop_map(|(radio_id, state, cause)| RadioOperationalState { radio_id, state, cause });
    ReturnedMessageElement => (arb::<ReturnedReason>(), sized_bytes(4, 255))
        .prop_map(|(reason, element)| ReturnedMessageElement { reason, element });
    SessionId => any::<[u8; 16]>().prop_map(SessionId);
    VendorSpecificPayload => (any::<u32>(), any::<u16>(), sized_bytes(1, MAX_VENDOR_DATA_LEN))
        .prop_map(|(vendor_id, element_id, data)| VendorSpecificPayload { vendor_id, element_id, data });
    WtpBoardData => (
        any::<u32>(),
        sized_bytes(0, MAX_SUB_ELEMENT_LEN),
        sized_bytes(0, MAX_SUB_ELEMENT_LEN),
        proptest::option::of(bytes(0, 8)),
        proptest::option::of(bytes(0, 8)),
        proptest::option::of(mac()),
        proptest::collection::vec(
            (5u16.., bytes(0, 8)).prop_map(|(sub_type, value)| BoardDataSubElement { sub_type, value }),
            0..3,
        ),
    )
        .prop_map(|(vendor_id, model_number, serial_number, board_id, board_revision, base_mac, other)| {
            WtpBoardData {
                vendor_id,
                model_number,
                serial_number,
                board_id,
                board_revision,
                base_mac,
                other,
            }
        });
    WtpDescriptor => (
        any::<u8>(),
        any::<u8>(),
        proptest::collection::vec(
            (0u8..32, any::<u16>()).prop_map(|(wbid, c)| EncryptionCapability {
                wbid,
                capabilities: EncryptionCapabilities(c),
            }),
            1..4,
        ),
        version(),
        version(),
        version(),
        proptest::option::of(version()),
        vendor_subs(|v, t| v == 0 && t <= DESCRIPTOR_OTHER_SOFTWARE_VERSION),
    )
        .prop_map(|(max_radios, radios_in_use, encryption, hw, sw, boot, other, vendor)| {
            WtpDescriptor {
                max_radios,
                radios_in_use,
                encryption,
                hardware_version: hw,
                active_software_version: sw,
                boot_version: boot,
                other_software_version: other,
                vendor_descriptors: vendor,
            }
        });
    WtpRadioStatistics => (
        any::<u8>(),
        arb::<RadioFailureType>(),
        any::<[u16; 8]>(),
        any::<i16>(),
    )
        .prop_map(|(radio_id, last_failure_type, c, current_noise_floor)| WtpRadioStatistics {
            radio_id,
            last_failure_type,
            reset_count: c[0],
            sw_failure_count: c[1],
            hw_failure_count: c[2],
            other_failure_count: c[3],
            unknown_failure_count: c[4],
            config_update_count: c[5],
            channel_change_count: c[6],
            band_change_count: c[7],
            current_noise_floor,
        });
    WtpRebootStatistics => (any::<[u16; 7]>(), arb::<RebootFailureType>())
        .prop_map(|(c, last_failure_type)| WtpRebootStatistics {
            reboot_count: c[0],
            ac_initiated_count: c[1],
            link_failure_count: c[2],
            sw_failure_count: c[3],
            hw_failure_count: c[4],
            other_failure_count: c[5],
            unknown_failure_count: c[6],
            last_failure_type,
        });
    WtpStaticIpAddressInformation => (ipv4(), ipv4(), ipv4(), any::<bool>())
        .prop_map(|(address, netmask, gateway, static_ip)| WtpStaticIpAddressInformation {
            address,
            netmask,
            gateway,
            static_ip,
        });
    AddWlan => (
        (any::<u8>(), any::<u8>(), any::<u16>(), any::<u8>(), arb::<KeyStatus>()),
        prop_oneof![Just(0usize), Just(5), Just(13), Just(16), Just(32)].prop_flat_map(|n| bytes(n, n)),
        any::<[u8; 6]>(),
        (arb::<WlanQos>(), arb::<AuthType>(), arb::<WlanMacMode>(), arb::<WlanTunnelMode>(), any::<u8>()),
        sized_bytes(1, MAX_SSID_LEN),
    )
        .prop_map(|((radio_id, wlan_id, c, key_index, key_status), key, group_tsc, (qos, auth_type, mac_mode, tunnel_mode, suppress_ssid), ssid)| {
            AddWlan {
                radio_id,
                wlan_id,
                capability: WlanCapability(c),
                key_index,
                key_status,
                key,
                group_tsc,
                qos,
                auth_type,
                mac_mode,
                tunnel_mode,
                suppress_ssid,
                ssid,
            }
        });
    UpdateWlan => (any::<u8>(), any::<u8>(), any::<u16>(), any::<u8>(), arb::<KeyStatus>(), bytes(0, 32))
        .prop_map(|(radio_id, wlan_id, c, key_index, key_status, key)| UpdateWlan {
            radio_id,
            wlan_id,
            capability: WlanCapability(c),
            key_index,
            key_status,
            key,
        });
    DeleteWlan => (any::<u8>(), any::<u8>()).prop_map(|(radio_id, wlan_id)| DeleteWlan { radio_id, wlan_id });
    AssignedWtpBssid => (any::<u8>(), any::<u8>(), any::<[u8; 6]>())
        .prop_map(|(radio_id, wlan_id, bssid)| AssignedWtpBssid { radio_id, wlan_id, bssid });
    DirectSequenceControl => (any::<u8>(), any::<u8>(), any::<u8>(), any::<u32>()).prop_map(
        |(radio_id, current_channel, current_cca, energy_detect_threshold)| DirectSequenceControl {
            radio_id,
            current_channel,
            current_cca,
            energy_detect_threshold,
        },
    );
    InformationElement => (any::<u8>(), any::<u8>(), any::<bool>(), any::<bool>(), bytes(1, 40))
        .prop_map(|(radio_id, wlan_id, beacon, probe_response, ie)| InformationElement {
            radio_id,
            wlan_id,
            beacon,
            probe_response,
            ie,
        });
    OfdmControl => (any::<u8>(), any::<u8>(), any::<u8>(), any::<u32>()).prop_map(
        |(radio_id, current_channel, band_support, ti_threshold)| OfdmControl {
            radio_id,
            current_channel,
            band_support,
            ti_threshold,
        },
    );
    TxPower => (any::<u8>(), any::<u16>())
        .prop_map(|(radio_id, current_tx_power)| TxPower { radio_id, current_tx_power });
    WtpRadioConfiguration => (any::<[u8; 4]>(), any::<[u8; 6]>(), any::<u16>(), any::<[u8; 4]>())
        .prop_map(|(a, bssid, beacon_period, country_string)| WtpRadioConfiguration {
            radio_id: a[0],
            short_preamble: a[1],
            num_bssids: a[2],
            dtim_period: a[3],
            bssid,
            beacon_period,
            country_string,
        });
    WtpRadioFailAlarm => (any::<u8>(), arb::<RadioFailAlarmType>(), any::<bool>())
        .prop_map(|(radio_id, failure, failed)| WtpRadioFailAlarm { radio_id, failure, failed });
    WtpRadioInformation => (any::<u8>(), any::<u32>())
        .prop_map(|(radio_id, t)| WtpRadioInformation { radio_id, radio_type: RadioType(t) });
}

/// An unmodelled element type number.
pub fn unmodelled_type() -> BoxedStrategy<u16> {
    prop_oneof![
        // The RFC types this crate leaves raw, then anything else.
        prop::sample::select(vec![
            8u16, 13, 14, 24, 26, 27, 1025, 1030, 1031, 1035, 1039, 1045
        ]),
        any::<u16>(),
    ]
    .prop_filter("unmodelled", |t| !Element::is_modelled(*t))
    .boxed()
}

/// A raw element of an unmodelled type.
pub fn raw_element() -> BoxedStrategy<RawElement> {
    (unmodelled_type(), bytes(0, 24))
        .prop_map(|(element_type, value)| RawElement {
            element_type,
            value,
        })
        .boxed()
}

/// 0–1 Vendor Specific Payloads, as elements.
pub fn vendor_elements() -> BoxedStrategy<Vec<Element>> {
    proptest::collection::vec(arb::<VendorSpecificPayload>().prop_map(Element::from), 0..2).boxed()
}

/// 0–1 unmodelled elements, as a foreign WTP might add.
pub fn unknown_elements() -> BoxedStrategy<Vec<Element>> {
    proptest::collection::vec(raw_element().prop_map(Element::Unknown), 0..2).boxed()
}

/// Any element, modelled or not.
pub fn any_element() -> BoxedStrategy<Element> {
    macro_rules! union {
        ($($t:ident),* $(,)?) => {
            Union::new(vec![
                $( arb::<$t>().prop_map(Element::from).boxed(), )*
                raw_element().prop_map(Element::Unknown).boxed(),
            ])
        };
    }
    union!(
        AcDescriptor,
        AcIpv4List,
        AcIpv6List,
        AcName,
        AcNameWithPriority,
        AcTimestamp,
        AddMacAclEntry,
        CapwapControlIpv4Address,
        CapwapControlIpv6Address,
        CapwapTimers,
        DecryptionErrorReport,
        DecryptionErrorReportPeriod,
        DeleteMacAclEntry,
        DeleteStation,
        DiscoveryType,
        DuplicateIpv4Address,
        DuplicateIpv6Address,
        IdleTimeout,
        ImageIdentifier,
        LocationData,
        MaximumMessageLength,
        CapwapLocalIpv4Address,
        RadioAdministrativeState,
        RadioOperationalState,
        ResultCode,
        ReturnedMessageElement,
        SessionId,
        StatisticsTimer,
        VendorSpecificPayload,
        WtpBoardData,
        WtpDescriptor,
        WtpFallback,
        WtpFrameTunnelMode,
        WtpMacType,
        WtpName,
        WtpRadioStatistics,
        WtpRebootStatistics,
        WtpStaticIpAddressInformation,
        CapwapLocalIpv6Address,
        CapwapTransportProtocol,
        MtuDiscoveryPadding,
        EcnSupport,
        AddWlan,
        AssignedWtpBssid,
        DeleteWlan,
        DirectSequenceControl,
        InformationElement,
        OfdmControl,
        TxPower,
        UpdateWlan,
        WtpRadioConfiguration,
        WtpRadioFailAlarm,
        WtpRadioInformation,
    )
    .boxed()
}

/// Message types that decode as [`MessageBody::Other`].
pub fn other_message_type() -> BoxedStrategy<u32> {
    prop_oneof![
        prop::sample::select(vec![15u32, 16, 21, 22, 23, 24, 25, 26, (13277 << 8) | 3]),
        any::<u32>(),
    ]
    .prop_filter("no typed body", |t| {
        let probe = MessageBody::Other {
            message_type: *t,
            elements: vec![],
        };
        ControlMessage::new(0, probe.clone())
            .encode()
            .ok()
            .and_then(|b| ControlMessage::decode(&b).ok())
            .is_some_and(|m| m.body == probe)
    })
    .boxed()
}

/// Any body: every typed message, and `Other` with raw elements.
pub fn message_body() -> BoxedStrategy<MessageBody> {
    use MessageBody as B;
    Union::new(vec![
        DiscoveryRequest::strategy()
            .prop_map(B::DiscoveryRequest)
            .boxed(),
        DiscoveryResponse::strategy()
            .prop_map(B::DiscoveryResponse)
            .boxed(),
        JoinRequest::strategy().prop_map(B::JoinRequest).boxed(),
        JoinResponse::strategy().prop_map(B::JoinResponse).boxed(),
        ConfigurationStatusRequest::strategy()
            .prop_map(B::ConfigurationStatusRequest)
            .boxed(),
        ConfigurationStatusResponse::strategy()
            .prop_map(B::ConfigurationStatusResponse)
            .boxed(),
        ConfigurationUpdateRequest::strategy()
            .prop_map(B::ConfigurationUpdateRequest)
            .boxed(),
        ConfigurationUpdateResponse::strategy()
            .prop_map(B::ConfigurationUpdateResponse)
            .boxed(),
        WtpEventRequest::strategy()
            .prop_map(B::WtpEventRequest)
            .boxed(),
        WtpEventResponse::strategy()
            .prop_map(B::WtpEventResponse)
            .boxed(),
        ChangeStateEventRequest::strategy()
            .prop_map(B::ChangeStateEventRequest)
            .boxed(),
        ChangeStateEventResponse::strategy()
            .prop_map(B::ChangeStateEventResponse)
            .boxed(),
        EchoRequest::strategy().prop_map(B::EchoRequest).boxed(),
        EchoResponse::strategy().prop_map(B::EchoResponse).boxed(),
        ResetRequest::strategy().prop_map(B::ResetRequest).boxed(),
        ResetResponse::strategy().prop_map(B::ResetResponse).boxed(),
        DiscoveryRequest::strategy()
            .prop_map(B::PrimaryDiscoveryRequest)
            .boxed(),
        DiscoveryResponse::strategy()
            .prop_map(B::PrimaryDiscoveryResponse)
            .boxed(),
        WlanConfigurationRequest::strategy()
            .prop_map(B::WlanConfigurationRequest)
            .boxed(),
        WlanConfigurationResponse::strategy()
            .prop_map(B::WlanConfigurationResponse)
            .boxed(),
        ControllerLostRequest::strategy()
            .prop_map(B::ControllerLostRequest)
            .boxed(),
        (
            other_message_type(),
            proptest::collection::vec(
                (any::<u16>(), bytes(0, 24)).prop_map(|(element_type, value)| RawElement {
                    element_type,
                    value,
                }),
                0..4,
            ),
        )
            .prop_map(|(message_type, elements)| B::Other {
                message_type,
                elements,
            })
            .boxed(),
    ])
    .boxed()
}

pub fn control_message() -> BoxedStrategy<ControlMessage> {
    (any::<u8>(), message_body())
        .prop_map(|(seq, body)| ControlMessage { seq, body })
        .boxed()
}

/// Any header; `keep_alive` and `fragment` as given.
pub fn header(keep_alive: bool, fragment: bool) -> BoxedStrategy<CapwapHeader> {
    (
        (0u8..32, 0u8..32, any::<bool>(), any::<bool>()),
        (any::<u16>(), 0u16..0x2000),
        proptest::option::of(mac()),
        proptest::option::of(prop_oneof![bytes(0, 12), bytes(100, 100)]),
    )
        .prop_map(
            move |(
                (radio_id, wbid, native_frame, last_fragment),
                (fid, off),
                radio_mac,
                wireless_info,
            )| {
                CapwapHeader {
                    radio_id,
                    wbid,
                    native_frame,
                    fragment,
                    last_fragment,
                    keep_alive,
                    fragment_id: fid,
                    fragment_offset: off,
                    radio_mac,
                    wireless_info,
                }
            },
        )
        .boxed()
}

pub fn control_packet() -> BoxedStrategy<ControlPacket> {
    (header(false, false), control_message())
        .prop_map(|(header, message)| ControlPacket { header, message })
        .boxed()
}

pub fn keep_alive() -> BoxedStrategy<KeepAlive> {
    (arb::<SessionId>(), unknown_elements())
        .prop_map(|(session_id, other_elements)| KeepAlive {
            session_id,
            other_elements,
        })
        .boxed()
}

pub fn data_packet() -> BoxedStrategy<DataPacket> {
    prop_oneof![
        (header(true, false), keep_alive()).prop_map(|(header, k)| DataPacket {
            header,
            body: DataBody::KeepAlive(k),
        }),
        (
            any::<bool>().prop_flat_map(|f| header(false, f)),
            bytes(0, 64)
        )
            .prop_map(|(header, frame)| DataPacket {
                header,
                body: DataBody::Frame(frame),
            }),
    ]
    .boxed()
}
