//! Message elements: the TLVs (type u16, length u16, value) that carry everything in a
//! control message (RFC 5415 4.6, RFC 5416 6).
//!
//! Each modelled element is a struct (or enum) implementing [`ElementBody`]; [`Element`] is
//! the sum of them. An element type this crate does not model decodes as
//! [`Element::Unknown`] holding its raw bytes, so a foreign WTP's extras round-trip and are
//! never an error. A modelled element whose value disagrees with its layout is an error.
//!
//! Text: names the RFC defines as UTF-8 strings (AC Name, AC Name with Priority, WTP Name,
//! Location Data, Image Identifier) are `String`, and invalid UTF-8 is [`CapwapError::InvalidUtf8`]. Board data
//! and the version strings in the WTP and AC descriptors stay bytes: the RFC only calls
//! them "vendor-specific", and some vendors' APs put binary version numbers there, which an
//! AC must not refuse.

use crate::codec::{at_least, at_most, check_text, exact, fits, text, write_tlv, Put, Reader};
use crate::error::{CapwapError, Expected};
use crate::header::MacAddress;
use crate::types::*;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest AC Name, WTP Name or AC Name with Priority name (RFC 5415 4.6.4, 4.6.45).
pub const MAX_NAME_LEN: usize = 512;
/// Longest Location Data and Image Identifier string.
pub const MAX_LOCATION_LEN: usize = 1024;
/// Longest board data, descriptor or AC information sub-element value.
pub const MAX_SUB_ELEMENT_LEN: usize = 1024;
/// Longest Vendor Specific Payload data.
pub const MAX_VENDOR_DATA_LEN: usize = 2048;
/// Most addresses in an AC IPv4/IPv6 List.
pub const MAX_AC_LIST_LEN: usize = 1024;
/// Longest SSID (IEEE 802.11).
pub const MAX_SSID_LEN: usize = 32;

/// One message element type: its number, its RFC name and its value codec.
pub trait ElementBody: Sized {
    /// The Type field (1–1023 base protocol, 1024–2047 IEEE 802.11).
    const TYPE: u16;
    /// The RFC's name, used in errors.
    const NAME: &'static str;

    /// Appends the value (without type and length).
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError>;

    /// Decodes the value; `value` is exactly the bytes the length field covered.
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError>;

    /// Appends type, length and value.
    fn encode_element(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        write_tlv(out, Self::TYPE, Self::NAME, |o| self.encode_value(o))
    }
}

/// An element kept as bytes: a type this crate does not model (a vendor's, or one of the
/// RFC 5416 elements listed in the crate docs as not typed yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawElement {
    pub element_type: u16,
    pub value: Vec<u8>,
}

impl RawElement {
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        write_tlv(out, self.element_type, "message element", |o| {
            o.put_bytes(&self.value);
            Ok(())
        })
    }
}

macro_rules! element_enum {
    ( $( $var:ident, )* ) => {
        /// Any message element.
        ///
        /// `Unknown` holds only types that are not modelled ([`Element::is_modelled`]);
        /// encoding refuses an `Unknown` of a modelled type, which would decode as the
        /// typed variant.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Element {
            $( $var($var), )*
            Unknown(RawElement),
        }

        impl Element {
            pub fn element_type(&self) -> u16 {
                match self {
                    $( Element::$var(_) => <$var as ElementBody>::TYPE, )*
                    Element::Unknown(raw) => raw.element_type,
                }
            }

            /// The RFC name, or "unknown element".
            pub fn name(&self) -> &'static str {
                match self {
                    $( Element::$var(_) => <$var as ElementBody>::NAME, )*
                    Element::Unknown(_) => "unknown element",
                }
            }

            /// Appends type, length and value.
            pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
                match self {
                    $( Element::$var(v) => v.encode_element(out), )*
                    Element::Unknown(raw) => {
                        if Element::is_modelled(raw.element_type) {
                            return Err(CapwapError::InvalidElement {
                                element: "message element",
                                reason: "a raw element of a modelled type; use its typed variant",
                            });
                        }
                        raw.encode(out)
                    }
                }
            }

            /// Decodes one element's value given its type; unmodelled types become
            /// [`Element::Unknown`].
            pub fn decode(element_type: u16, value: &[u8]) -> Result<Element, CapwapError> {
                $(
                    if element_type == <$var as ElementBody>::TYPE {
                        return Ok(Element::$var(<$var as ElementBody>::decode_value(value)?));
                    }
                )*
                Ok(Element::Unknown(RawElement { element_type, value: value.to_vec() }))
            }

            /// Whether this crate decodes `element_type` into a typed variant.
            pub fn is_modelled(element_type: u16) -> bool {
                $( element_type == <$var as ElementBody>::TYPE || )* false
            }

            /// Every modelled type number, for tests and tooling.
            pub const MODELLED_TYPES: &'static [u16] = &[ $( <$var as ElementBody>::TYPE, )* ];
        }

        $(
            impl From<$var> for Element {
                fn from(v: $var) -> Element {
                    Element::$var(v)
                }
            }
        )*
    };
}

element_enum! {
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
}

// ---------------------------------------------------------------------------------------
// Helpers for the many one-field elements.

/// Elements whose whole value is one `raw_enum!` value.
macro_rules! enum_element {
    ($ty:ident, $num:literal, $name:literal, u8) => {
        impl ElementBody for $ty {
            const TYPE: u16 = $num;
            const NAME: &'static str = $name;
            fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
                out.put_u8(self.to_raw());
                Ok(())
            }
            fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
                exact(Self::NAME, value, 1)?;
                Ok($ty::from_raw(value[0]))
            }
        }
    };
    ($ty:ident, $num:literal, $name:literal, u32) => {
        impl ElementBody for $ty {
            const TYPE: u16 = $num;
            const NAME: &'static str = $name;
            fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
                out.put_u32(self.to_raw());
                Ok(())
            }
            fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
                exact(Self::NAME, value, 4)?;
                Ok($ty::from_raw(Reader::new(value, $name).u32()?))
            }
        }
    };
}

enum_element!(DiscoveryType, 20, "Discovery Type", u8);
enum_element!(WtpFallback, 40, "WTP Fallback", u8);
enum_element!(WtpMacType, 44, "WTP MAC Type", u8);
enum_element!(CapwapTransportProtocol, 51, "CAPWAP Transport Protocol", u8);
enum_element!(EcnSupport, 53, "ECN Support", u8);
enum_element!(ResultCode, 33, "Result Code", u32);

impl ElementBody for WtpFrameTunnelMode {
    const TYPE: u16 = 41;
    const NAME: &'static str = "WTP Frame Tunnel Mode";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.0);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 1)?;
        Ok(WtpFrameTunnelMode(value[0]))
    }
}

/// Elements that are one UTF-8 string: a newtype over `String`.
macro_rules! text_element {
    ($(#[$meta:meta])* $ty:ident, $num:literal, $name:literal, $max:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub String);

        impl ElementBody for $ty {
            const TYPE: u16 = $num;
            const NAME: &'static str = $name;
            fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
                check_text(Self::NAME, self.0.len(), 1, $max)?;
                out.put_bytes(self.0.as_bytes());
                Ok(())
            }
            fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
                Ok($ty(text(Self::NAME, value, 1, $max)?))
            }
        }

        impl From<&str> for $ty {
            fn from(s: &str) -> $ty {
                $ty(s.to_owned())
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_element!(
    /// The AC's name (RFC 5415 4.6.4), 1–512 bytes.
    AcName, 4, "AC Name", MAX_NAME_LEN
);
text_element!(
    /// The WTP's name (RFC 5415 4.6.45), 1–512 bytes.
    WtpName, 45, "WTP Name", MAX_NAME_LEN
);
text_element!(
    /// Operator-set location of the WTP (RFC 5415 4.6.30), 1–1024 bytes.
    LocationData, 28, "Location Data", MAX_LOCATION_LEN
);

/// Elements that are one big-endian integer: a newtype over it.
macro_rules! int_element {
    ($(#[$meta:meta])* $ty:ident($int:ident), $num:literal, $name:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $ty(pub $int);

        impl ElementBody for $ty {
            const TYPE: u16 = $num;
            const NAME: &'static str = $name;
            fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
                out.put_bytes(&self.0.to_be_bytes());
                Ok(())
            }
            fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
                exact(Self::NAME, value, std::mem::size_of::<$int>())?;
                let mut r = Reader::new(value, $name);
                Ok($ty($int::from_be_bytes(r.array()?)))
            }
        }
    };
}

int_element!(
    /// NTP seconds (the most significant 32 bits) to set the WTP clock (RFC 5415 4.6.6).
    AcTimestamp(u32), 6, "AC Timestamp"
);
int_element!(
    /// Seconds a station may idle before the WTP drops it (RFC 5415 4.6.24); default 300.
    IdleTimeout(u32), 23, "Idle Timeout"
);
int_element!(
    /// Largest CAPWAP message the sender accepts (RFC 5415 4.6.31).
    MaximumMessageLength(u16), 29, "Maximum Message Length"
);
int_element!(
    /// Seconds between WTP statistics reports (RFC 5415 4.6.38); default 120.
    StatisticsTimer(u16), 36, "Statistics Timer"
);

// ---------------------------------------------------------------------------------------
// RFC 5415 elements.

/// One AC Information sub-element of the AC Descriptor, or one Descriptor sub-element of the
/// WTP Descriptor: `vendor(4) type(2) length(2) data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorSubElement {
    pub vendor_id: u32,
    pub sub_type: u16,
    pub data: Vec<u8>,
}

/// Reads `vendor(4) type(2) length(2) data` sub-elements until `r` is empty.
fn read_vendor_sub_elements(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<Vec<VendorSubElement>, CapwapError> {
    let mut out = Vec::new();
    r.set_what(what);
    while !r.is_empty() {
        let vendor_id = r.u32()?;
        let sub_type = r.u16()?;
        let len = r.u16()? as usize;
        at_most(what, len, MAX_SUB_ELEMENT_LEN)?;
        let data = r.take(len)?.to_vec();
        out.push(VendorSubElement {
            vendor_id,
            sub_type,
            data,
        });
    }
    Ok(out)
}

fn write_vendor_sub_element(
    out: &mut Vec<u8>,
    what: &'static str,
    vendor_id: u32,
    sub_type: u16,
    data: &[u8],
) -> Result<(), CapwapError> {
    at_most(what, data.len(), MAX_SUB_ELEMENT_LEN)?;
    out.put_u32(vendor_id);
    out.put_u16(sub_type);
    out.put_u16(data.len() as u16);
    out.put_bytes(data);
    Ok(())
}

/// Takes the standard sub-element `(vendor 0, sub_type)` out of `subs`, at most once.
fn take_standard(
    subs: &mut Vec<VendorSubElement>,
    element: &'static str,
    sub_type: u16,
    sub_name: &'static str,
) -> Result<Option<Vec<u8>>, CapwapError> {
    let mut found = None;
    let mut rest = Vec::with_capacity(subs.len());
    for s in subs.drain(..) {
        if s.vendor_id == 0 && s.sub_type == sub_type {
            if found.is_some() {
                return Err(CapwapError::DuplicateSubElement {
                    element,
                    sub_element: sub_name,
                });
            }
            found = Some(s.data);
        } else {
            rest.push(s);
        }
    }
    *subs = rest;
    Ok(found)
}

fn require(
    v: Option<Vec<u8>>,
    element: &'static str,
    sub_element: &'static str,
) -> Result<Vec<u8>, CapwapError> {
    v.ok_or(CapwapError::MissingSubElement {
        element,
        sub_element,
    })
}

/// The AC's state and capabilities (RFC 5415 4.6.1), in Discovery and Join Responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcDescriptor {
    /// Stations currently served.
    pub stations: u16,
    /// Most stations supported.
    pub limit: u16,
    /// WTPs currently attached; a WTP compares ACs by it (travelping's AC always sends 0).
    pub active_wtps: u16,
    pub max_wtps: u16,
    pub security: AcSecurity,
    pub r_mac: RMacField,
    pub dtls_policy: DtlsPolicy,
    /// AC Information type 4 with vendor 0 (mandatory).
    pub hardware_version: Vec<u8>,
    /// AC Information type 5 with vendor 0 (mandatory).
    pub software_version: Vec<u8>,
    /// Other AC Information sub-elements (vendor namespaces). Never vendor 0 with type 4/5.
    pub other_information: Vec<VendorSubElement>,
}

/// AC Information type of the hardware version (vendor 0).
pub const AC_INFO_HARDWARE_VERSION: u16 = 4;
/// AC Information type of the software version (vendor 0).
pub const AC_INFO_SOFTWARE_VERSION: u16 = 5;

impl ElementBody for AcDescriptor {
    const TYPE: u16 = 1;
    const NAME: &'static str = "AC Descriptor";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        const SUB: &str = "AC Descriptor AC Information";
        out.put_u16(self.stations);
        out.put_u16(self.limit);
        out.put_u16(self.active_wtps);
        out.put_u16(self.max_wtps);
        out.put_u8(self.security.0);
        out.put_u8(self.r_mac.to_raw());
        out.put_u8(0);
        out.put_u8(self.dtls_policy.0);
        write_vendor_sub_element(
            out,
            SUB,
            0,
            AC_INFO_HARDWARE_VERSION,
            &self.hardware_version,
        )?;
        write_vendor_sub_element(
            out,
            SUB,
            0,
            AC_INFO_SOFTWARE_VERSION,
            &self.software_version,
        )?;
        for s in &self.other_information {
            if s.vendor_id == 0
                && matches!(
                    s.sub_type,
                    AC_INFO_HARDWARE_VERSION | AC_INFO_SOFTWARE_VERSION
                )
            {
                return Err(CapwapError::InvalidElement {
                    element: Self::NAME,
                    reason: "vendor 0 types 4 and 5 belong in their named fields",
                });
            }
            write_vendor_sub_element(out, SUB, s.vendor_id, s.sub_type, &s.data)?;
        }
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 12)?;
        let mut r = Reader::new(value, Self::NAME);
        let stations = r.u16()?;
        let limit = r.u16()?;
        let active_wtps = r.u16()?;
        let max_wtps = r.u16()?;
        let security = AcSecurity(r.u8()?);
        let r_mac = RMacField::from_raw(r.u8()?);
        let _reserved = r.u8()?;
        let dtls_policy = DtlsPolicy(r.u8()?);
        let mut subs = read_vendor_sub_elements(&mut r, "AC Descriptor AC Information")?;
        let hw = take_standard(
            &mut subs,
            Self::NAME,
            AC_INFO_HARDWARE_VERSION,
            "hardware version",
        )?;
        let sw = take_standard(
            &mut subs,
            Self::NAME,
            AC_INFO_SOFTWARE_VERSION,
            "software version",
        )?;
        Ok(AcDescriptor {
            stations,
            limit,
            active_wtps,
            max_wtps,
            security,
            r_mac,
            dtls_policy,
            hardware_version: require(hw, Self::NAME, "hardware version")?,
            software_version: require(sw, Self::NAME, "software version")?,
            other_information: subs,
        })
    }
}

fn decode_list<const N: usize, T>(
    element: &'static str,
    value: &[u8],
    make: impl Fn([u8; N]) -> T,
) -> Result<Vec<T>, CapwapError> {
    if value.is_empty() || value.len() % N != 0 {
        return Err(CapwapError::BadElementLength {
            element,
            len: value.len(),
            expected: Expected::MultipleOf(N),
        });
    }
    at_most(element, value.len() / N, MAX_AC_LIST_LEN)?;
    let mut r = Reader::new(value, element);
    let mut out = Vec::with_capacity(value.len() / N);
    while !r.is_empty() {
        out.push(make(r.array()?));
    }
    Ok(out)
}

fn check_list(element: &'static str, len: usize) -> Result<(), CapwapError> {
    if len == 0 {
        return Err(CapwapError::BadElementLength {
            element,
            len: 0,
            expected: Expected::AtLeast(1),
        });
    }
    at_most(element, len, MAX_AC_LIST_LEN)
}

/// ACs the WTP may join (RFC 5415 4.6.2), 1–1024 addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcIpv4List(pub Vec<Ipv4Addr>);

impl ElementBody for AcIpv4List {
    const TYPE: u16 = 2;
    const NAME: &'static str = "AC IPv4 List";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        check_list(Self::NAME, self.0.len())?;
        for a in &self.0 {
            out.put_bytes(&a.octets());
        }
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        Ok(AcIpv4List(decode_list(Self::NAME, value, Ipv4Addr::from)?))
    }
}

/// ACs the WTP may join (RFC 5415 4.6.3), 1–1024 addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcIpv6List(pub Vec<Ipv6Addr>);

impl ElementBody for AcIpv6List {
    const TYPE: u16 = 3;
    const NAME: &'static str = "AC IPv6 List";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        check_list(Self::NAME, self.0.len())?;
        for a in &self.0 {
            out.put_bytes(&a.octets());
        }
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        Ok(AcIpv6List(decode_list(Self::NAME, value, Ipv6Addr::from)?))
    }
}

/// One preferred AC (RFC 5415 4.6.5): priority 1 is the primary, 2 the secondary, ... One
/// element per configured AC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcNameWithPriority {
    pub priority: u8,
    pub name: String,
}

impl ElementBody for AcNameWithPriority {
    const TYPE: u16 = 5;
    const NAME: &'static str = "AC Name with Priority";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        check_text(Self::NAME, self.name.len(), 1, MAX_NAME_LEN)?;
        out.put_u8(self.priority);
        out.put_bytes(self.name.as_bytes());
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 2)?;
        Ok(AcNameWithPriority {
            priority: value[0],
            name: text(Self::NAME, &value[1..], 1, MAX_NAME_LEN)?,
        })
    }
}

/// `count(1)` then `count × [length(1) MAC]`, the layout of the ACL and decryption-error
/// lists. The count must match what follows exactly.
fn read_mac_list(
    r: &mut Reader<'_>,
    element: &'static str,
) -> Result<Vec<MacAddress>, CapwapError> {
    let count = r.u8()?;
    if count == 0 {
        return Err(CapwapError::InvalidElement {
            element,
            reason: "Num of Entries is 0",
        });
    }
    let mut macs = Vec::with_capacity(count.into());
    for _ in 0..count {
        macs.push(MacAddress::read_prefixed(r, element)?);
    }
    if !r.is_empty() {
        return Err(CapwapError::InvalidElement {
            element,
            reason: "bytes left over after Num of Entries MAC addresses",
        });
    }
    Ok(macs)
}

fn write_mac_list(
    out: &mut Vec<u8>,
    element: &'static str,
    macs: &[MacAddress],
) -> Result<(), CapwapError> {
    if macs.is_empty() {
        return Err(CapwapError::InvalidElement {
            element,
            reason: "Num of Entries is 0",
        });
    }
    fits("Num of Entries", macs.len() as u64, 255)?;
    out.put_u8(macs.len() as u8);
    for m in macs {
        m.write_prefixed(out);
    }
    Ok(())
}

/// Stations the WTP must stop serving (RFC 5415 4.6.7), 1–255.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddMacAclEntry(pub Vec<MacAddress>);

impl ElementBody for AddMacAclEntry {
    const TYPE: u16 = 7;
    const NAME: &'static str = "Add MAC ACL Entry";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        write_mac_list(out, Self::NAME, &self.0)
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 8)?;
        Ok(AddMacAclEntry(read_mac_list(
            &mut Reader::new(value, Self::NAME),
            Self::NAME,
        )?))
    }
}

/// Stations the WTP may serve again (RFC 5415 4.6.19), 1–255.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteMacAclEntry(pub Vec<MacAddress>);

impl ElementBody for DeleteMacAclEntry {
    const TYPE: u16 = 17;
    const NAME: &'static str = "Delete MAC ACL Entry";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        write_mac_list(out, Self::NAME, &self.0)
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 8)?;
        Ok(DeleteMacAclEntry(read_mac_list(
            &mut Reader::new(value, Self::NAME),
            Self::NAME,
        )?))
    }
}

/// One AC interface and its load (RFC 5415 4.6.9); the WTP should join the one with the
/// fewest WTPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapwapControlIpv4Address {
    pub address: Ipv4Addr,
    pub wtp_count: u16,
}

impl ElementBody for CapwapControlIpv4Address {
    const TYPE: u16 = 10;
    const NAME: &'static str = "CAPWAP Control IPv4 Address";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_bytes(&self.address.octets());
        out.put_u16(self.wtp_count);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 6)?;
        let mut r = Reader::new(value, Self::NAME);
        Ok(CapwapControlIpv4Address {
            address: Ipv4Addr::from(r.array::<4>()?),
            wtp_count: r.u16()?,
        })
    }
}

/// One AC interface and its load (RFC 5415 4.6.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapwapControlIpv6Address {
    pub address: Ipv6Addr,
    pub wtp_count: u16,
}

impl ElementBody for CapwapControlIpv6Address {
    const TYPE: u16 = 11;
    const NAME: &'static str = "CAPWAP Control IPv6 Address";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_bytes(&self.address.octets());
        out.put_u16(self.wtp_count);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 18)?;
        let mut r = Reader::new(value, Self::NAME);
        Ok(CapwapControlIpv6Address {
            address: Ipv6Addr::from(r.array::<16>()?),
            wtp_count: r.u16()?,
        })
    }
}

/// The sender's own address (RFC 5415 4.6.11); the receiver compares it with the packet's
/// source to detect NAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapwapLocalIpv4Address(pub Ipv4Addr);

impl ElementBody for CapwapLocalIpv4Address {
    const TYPE: u16 = 30;
    const NAME: &'static str = "CAPWAP Local IPv4 Address";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_bytes(&self.0.octets());
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 4)?;
        Ok(CapwapLocalIpv4Address(Ipv4Addr::from(
            Reader::new(value, Self::NAME).array::<4>()?,
        )))
    }
}

/// The sender's own address (RFC 5415 4.6.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapwapLocalIpv6Address(pub Ipv6Addr);

impl ElementBody for CapwapLocalIpv6Address {
    const TYPE: u16 = 50;
    const NAME: &'static str = "CAPWAP Local IPv6 Address";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_bytes(&self.0.octets());
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 16)?;
        Ok(CapwapLocalIpv6Address(Ipv6Addr::from(
            Reader::new(value, Self::NAME).array::<16>()?,
        )))
    }
}

/// Discovery and echo intervals, whole seconds (RFC 5415 4.6.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapwapTimers {
    /// Configures MaxDiscoveryInterval (default 20).
    pub discovery: u8,
    /// Configures EchoInterval (default 30).
    pub echo_request: u8,
}

impl ElementBody for CapwapTimers {
    const TYPE: u16 = 12;
    const NAME: &'static str = "CAPWAP Timers";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.discovery);
        out.put_u8(self.echo_request);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 2)?;
        Ok(CapwapTimers {
            discovery: value[0],
            echo_request: value[1],
        })
    }
}

/// Stations that caused decryption errors on a radio (RFC 5415 4.6.17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptionErrorReport {
    pub radio_id: u8,
    pub stations: Vec<MacAddress>,
}

impl ElementBody for DecryptionErrorReport {
    const TYPE: u16 = 15;
    const NAME: &'static str = "Decryption Error Report";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        write_mac_list(out, Self::NAME, &self.stations)
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 9)?;
        let mut r = Reader::new(value, Self::NAME);
        let radio_id = r.u8()?;
        Ok(DecryptionErrorReport {
            radio_id,
            stations: read_mac_list(&mut r, Self::NAME)?,
        })
    }
}

/// How often a radio reports decryption errors, seconds (RFC 5415 4.6.18); default 120.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecryptionErrorReportPeriod {
    pub radio_id: u8,
    pub report_interval: u16,
}

impl ElementBody for DecryptionErrorReportPeriod {
    const TYPE: u16 = 16;
    const NAME: &'static str = "Decryption Error Report Period";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u16(self.report_interval);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 3)?;
        let mut r = Reader::new(value, Self::NAME);
        Ok(DecryptionErrorReportPeriod {
            radio_id: r.u8()?,
            report_interval: r.u16()?,
        })
    }
}

/// A station to stop serving (RFC 5415 4.6.20), from the AC, or one the WTP dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteStation {
    pub radio_id: u8,
    pub mac: MacAddress,
}

impl ElementBody for DeleteStation {
    const TYPE: u16 = 18;
    const NAME: &'static str = "Delete Station";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        self.mac.write_prefixed(out);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 8)?;
        let mut r = Reader::new(value, Self::NAME);
        let radio_id = r.u8()?;
        let mac = MacAddress::read_prefixed(&mut r, Self::NAME)?;
        exact(Self::NAME, value, 2 + mac.as_bytes().len())?;
        Ok(DeleteStation { radio_id, mac })
    }
}

/// A duplicate of the WTP's IPv4 address was seen (`detected`) or has gone (RFC 5415 4.6.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateIpv4Address {
    pub address: Ipv4Addr,
    /// Status 1 (detected) or 0 (cleared); any non-zero value decodes as detected.
    pub detected: bool,
    /// The offending device.
    pub mac: MacAddress,
}

impl ElementBody for DuplicateIpv4Address {
    const TYPE: u16 = 21;
    const NAME: &'static str = "Duplicate IPv4 Address";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_bytes(&self.address.octets());
        out.put_u8(self.detected.into());
        self.mac.write_prefixed(out);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 12)?;
        let mut r = Reader::new(value, Self::NAME);
        let address = Ipv4Addr::from(r.array::<4>()?);
        let detected = r.u8()? != 0;
        let mac = MacAddress::read_prefixed(&mut r, Self::NAME)?;
        exact(Self::NAME, value, 6 + mac.as_bytes().len())?;
        Ok(DuplicateIpv4Address {
            address,
            detected,
            mac,
        })
    }
}

/// A duplicate of the WTP's IPv6 address was seen or has gone (RFC 5415 4.6.23).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateIpv6Address {
    pub address: Ipv6Addr,
    pub detected: bool,
    pub mac: MacAddress,
}

impl ElementBody for DuplicateIpv6Address {
    const TYPE: u16 = 22;
    const NAME: &'static str = "Duplicate IPv6 Address";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_bytes(&self.address.octets());
        out.put_u8(self.detected.into());
        self.mac.write_prefixed(out);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 24)?;
        let mut r = Reader::new(value, Self::NAME);
        let address = Ipv6Addr::from(r.array::<16>()?);
        let detected = r.u8()? != 0;
        let mac = MacAddress::read_prefixed(&mut r, Self::NAME)?;
        exact(Self::NAME, value, 18 + mac.as_bytes().len())?;
        Ok(DuplicateIpv6Address {
            address,
            detected,
            mac,
        })
    }
}

/// The firmware the WTP must run (from the AC) or asks for (from the WTP), RFC 5415 4.6.27.
/// A Join Response carrying one that differs from the running image sends the WTP to Image
/// Data: the standard hook for WiNG's `enforce-version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIdentifier {
    pub vendor_id: u32,
    /// 1–1024 bytes of UTF-8.
    pub data: String,
}

impl ElementBody for ImageIdentifier {
    const TYPE: u16 = 25;
    const NAME: &'static str = "Image Identifier";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        check_text(Self::NAME, self.data.len(), 1, MAX_LOCATION_LEN)?;
        out.put_u32(self.vendor_id);
        out.put_bytes(self.data.as_bytes());
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 5)?;
        let mut r = Reader::new(value, Self::NAME);
        let vendor_id = r.u32()?;
        Ok(ImageIdentifier {
            vendor_id,
            data: text(Self::NAME, r.rest(), 1, MAX_LOCATION_LEN)?,
        })
    }
}

/// Padding for path MTU discovery (RFC 5415 4.6.32): `len` bytes of 0xFF. Other content is
/// refused, so a value never hides data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtuDiscoveryPadding {
    pub len: u16,
}

impl ElementBody for MtuDiscoveryPadding {
    const TYPE: u16 = 52;
    const NAME: &'static str = "MTU Discovery Padding";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.resize(out.len() + usize::from(self.len), 0xFF);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        if value.iter().any(|&b| b != 0xFF) {
            return Err(CapwapError::InvalidElement {
                element: Self::NAME,
                reason: "padding must be all 0xFF",
            });
        }
        Ok(MtuDiscoveryPadding {
            len: value.len() as u16,
        })
    }
}

/// Radio ID that addresses the whole WTP in Radio Administrative State.
pub const RADIO_ID_WTP: u8 = 0xFF;

/// Enable or disable a radio, or with [`RADIO_ID_WTP`] the whole WTP (RFC 5415 4.6.33).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadioAdministrativeState {
    pub radio_id: u8,
    pub admin_state: AdminState,
}

impl ElementBody for RadioAdministrativeState {
    const TYPE: u16 = 31;
    const NAME: &'static str = "Radio Administrative State";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u8(self.admin_state.to_raw());
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 2)?;
        Ok(RadioAdministrativeState {
            radio_id: value[0],
            admin_state: AdminState::from_raw(value[1]),
        })
    }
}

/// A radio's actual state and why (RFC 5415 4.6.34).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadioOperationalState {
    pub radio_id: u8,
    pub state: OperationalState,
    pub cause: OperationalCause,
}

impl ElementBody for RadioOperationalState {
    const TYPE: u16 = 32;
    const NAME: &'static str = "Radio Operational State";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u8(self.state.to_raw());
        out.put_u8(self.cause.to_raw());
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 3)?;
        Ok(RadioOperationalState {
            radio_id: value[0],
            state: OperationalState::from_raw(value[1]),
            cause: OperationalCause::from_raw(value[2]),
        })
    }
}

/// An element the WTP could not apply, sent back whole (RFC 5415 4.6.36).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedMessageElement {
    pub reason: ReturnedReason,
    /// The offending element as it was received, type and length included (4–255 bytes).
    /// Kept as bytes: it may be exactly the kind of element this codec would refuse.
    pub element: Vec<u8>,
}

impl ElementBody for ReturnedMessageElement {
    const TYPE: u16 = 34;
    const NAME: &'static str = "Returned Message Element";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        check_text(Self::NAME, self.element.len(), 4, 255)?;
        out.put_u8(self.reason.to_raw());
        out.put_u8(self.element.len() as u8);
        out.put_bytes(&self.element);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 6)?;
        let len = usize::from(value[1]);
        exact(Self::NAME, value, 2 + len)?;
        Ok(ReturnedMessageElement {
            reason: ReturnedReason::from_raw(value[0]),
            element: value[2..].to_vec(),
        })
    }
}

/// The 128-bit random session identifier the WTP picks in Join (RFC 5415 4.6.37); the data
/// channel keep-alive carries it to bind the data channel to the control session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; 16]);

impl ElementBody for SessionId {
    const TYPE: u16 = 35;
    const NAME: &'static str = "Session ID";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_bytes(&self.0);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 16)?;
        Ok(SessionId(Reader::new(value, Self::NAME).array()?))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Vendor data (RFC 5415 4.6.39), allowed in every message; it must not change the base
/// protocol's behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorSpecificPayload {
    /// IANA private enterprise number.
    pub vendor_id: u32,
    pub element_id: u16,
    /// 1–2048 bytes.
    pub data: Vec<u8>,
}

impl ElementBody for VendorSpecificPayload {
    const TYPE: u16 = 37;
    const NAME: &'static str = "Vendor Specific Payload";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        check_text(Self::NAME, self.data.len(), 1, MAX_VENDOR_DATA_LEN)?;
        out.put_u32(self.vendor_id);
        out.put_u16(self.element_id);
        out.put_bytes(&self.data);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 7)?;
        let mut r = Reader::new(value, Self::NAME);
        let vendor_id = r.u32()?;
        let element_id = r.u16()?;
        let data = r.rest();
        at_most(Self::NAME, data.len(), MAX_VENDOR_DATA_LEN)?;
        Ok(VendorSpecificPayload {
            vendor_id,
            element_id,
            data: data.to_vec(),
        })
    }
}

/// A board data sub-element of a type this crate does not name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardDataSubElement {
    pub sub_type: u16,
    pub value: Vec<u8>,
}

/// The WTP's hardware (RFC 5415 4.6.40). Unlike the descriptor sub-elements, board data
/// sub-elements carry no vendor ID of their own: the element's one Vendor ID (which MUST NOT
/// be 0; not enforced here, the join policy decides) covers them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WtpBoardData {
    pub vendor_id: u32,
    /// Sub-element 0 (mandatory), e.g. `AP7532`.
    pub model_number: Vec<u8>,
    /// Sub-element 1 (mandatory).
    pub serial_number: Vec<u8>,
    /// Sub-element 2.
    pub board_id: Option<Vec<u8>>,
    /// Sub-element 3.
    pub board_revision: Option<Vec<u8>>,
    /// Sub-element 4.
    pub base_mac: Option<MacAddress>,
    /// Sub-elements of other types (5 and up), kept in order.
    pub other: Vec<BoardDataSubElement>,
}

impl WtpBoardData {
    /// The model number as text, if it is UTF-8.
    pub fn model_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.model_number).ok()
    }

    /// The serial number as text, if it is UTF-8.
    pub fn serial_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.serial_number).ok()
    }
}

impl ElementBody for WtpBoardData {
    const TYPE: u16 = 38;
    const NAME: &'static str = "WTP Board Data";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        fn sub(out: &mut Vec<u8>, sub_type: u16, value: &[u8]) -> Result<(), CapwapError> {
            at_most(
                "WTP Board Data sub-element",
                value.len(),
                MAX_SUB_ELEMENT_LEN,
            )?;
            out.put_u16(sub_type);
            out.put_u16(value.len() as u16);
            out.put_bytes(value);
            Ok(())
        }
        out.put_u32(self.vendor_id);
        sub(out, 0, &self.model_number)?;
        sub(out, 1, &self.serial_number)?;
        if let Some(v) = &self.board_id {
            sub(out, 2, v)?;
        }
        if let Some(v) = &self.board_revision {
            sub(out, 3, v)?;
        }
        if let Some(m) = &self.base_mac {
            sub(out, 4, m.as_bytes())?;
        }
        for s in &self.other {
            if s.sub_type <= 4 {
                return Err(CapwapError::InvalidElement {
                    element: Self::NAME,
                    reason: "sub-elements 0-4 belong in their named fields, not in `other`",
                });
            }
            sub(out, s.sub_type, &s.value)?;
        }
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        const SUB: &str = "WTP Board Data sub-element";
        let mut r = Reader::new(value, Self::NAME);
        let vendor_id = r.u32()?;
        r.set_what(SUB);
        let mut slots: [Option<Vec<u8>>; 5] = Default::default();
        const NAMES: [&str; 5] = [
            "model number",
            "serial number",
            "board ID",
            "board revision",
            "base MAC address",
        ];
        let mut other = Vec::new();
        while !r.is_empty() {
            let sub_type = r.u16()?;
            let len = r.u16()? as usize;
            at_most(SUB, len, MAX_SUB_ELEMENT_LEN)?;
            let v = r.take(len)?.to_vec();
            match usize::from(sub_type) {
                i @ 0..=4 => {
                    if slots[i].replace(v).is_some() {
                        return Err(CapwapError::DuplicateSubElement {
                            element: Self::NAME,
                            sub_element: NAMES[i],
                        });
                    }
                }
                _ => other.push(BoardDataSubElement { sub_type, value: v }),
            }
        }
        let [model, serial, board_id, board_revision, base_mac] = slots;
        let base_mac = match base_mac {
            None => None,
            Some(b) => Some(MacAddress::from_bytes(&b).ok_or(CapwapError::BadMacLength {
                what: "WTP Board Data base MAC address",
                len: b.len(),
            })?),
        };
        Ok(WtpBoardData {
            vendor_id,
            model_number: require(model, Self::NAME, NAMES[0])?,
            serial_number: require(serial, Self::NAME, NAMES[1])?,
            board_id,
            board_revision,
            base_mac,
            other,
        })
    }
}

/// One encryption sub-element of the WTP Descriptor: what the WTP can encrypt for a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptionCapability {
    /// 5 bits; 1 = IEEE 802.11.
    pub wbid: u8,
    pub capabilities: EncryptionCapabilities,
}

/// Descriptor type of the hardware version (vendor 0, mandatory).
pub const DESCRIPTOR_HARDWARE_VERSION: u16 = 0;
/// Descriptor type of the running software version (vendor 0, mandatory).
pub const DESCRIPTOR_ACTIVE_SOFTWARE_VERSION: u16 = 1;
/// Descriptor type of the boot loader version (vendor 0, mandatory).
pub const DESCRIPTOR_BOOT_VERSION: u16 = 2;
/// Descriptor type of a non-running software version (vendor 0, optional).
pub const DESCRIPTOR_OTHER_SOFTWARE_VERSION: u16 = 3;

/// The WTP's radios, encryption and versions (RFC 5415 4.6.41).
///
/// The trap: each descriptor sub-element carries its own 4-byte Vendor ID *before* its type,
/// and the standard types 0–3 are only those with Vendor ID 0. A type-1 sub-element with a
/// vendor's ID is that vendor's private data, kept in `vendor_descriptors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WtpDescriptor {
    pub max_radios: u8,
    pub radios_in_use: u8,
    /// 1–255 sub-elements, one per binding the WTP supports.
    pub encryption: Vec<EncryptionCapability>,
    pub hardware_version: Vec<u8>,
    pub active_software_version: Vec<u8>,
    pub boot_version: Vec<u8>,
    pub other_software_version: Option<Vec<u8>>,
    /// Sub-elements with a non-zero vendor ID, or vendor 0 with a type above 3.
    pub vendor_descriptors: Vec<VendorSubElement>,
}

impl WtpDescriptor {
    /// The running software version as text, if it is UTF-8.
    pub fn active_software_version_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.active_software_version).ok()
    }
}

impl ElementBody for WtpDescriptor {
    const TYPE: u16 = 39;
    const NAME: &'static str = "WTP Descriptor";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        const SUB: &str = "WTP Descriptor sub-element";
        if self.encryption.is_empty() {
            return Err(CapwapError::InvalidElement {
                element: Self::NAME,
                reason: "Num Encrypt is 0; at least one encryption sub-element is required",
            });
        }
        fits(
            "WTP Descriptor Num Encrypt",
            self.encryption.len() as u64,
            255,
        )?;
        out.put_u8(self.max_radios);
        out.put_u8(self.radios_in_use);
        out.put_u8(self.encryption.len() as u8);
        for e in &self.encryption {
            fits("WTP Descriptor encryption WBID", e.wbid.into(), 31)?;
            out.put_u8(e.wbid);
            out.put_u16(e.capabilities.0);
        }
        write_vendor_sub_element(
            out,
            SUB,
            0,
            DESCRIPTOR_HARDWARE_VERSION,
            &self.hardware_version,
        )?;
        write_vendor_sub_element(
            out,
            SUB,
            0,
            DESCRIPTOR_ACTIVE_SOFTWARE_VERSION,
            &self.active_software_version,
        )?;
        write_vendor_sub_element(out, SUB, 0, DESCRIPTOR_BOOT_VERSION, &self.boot_version)?;
        if let Some(v) = &self.other_software_version {
            write_vendor_sub_element(out, SUB, 0, DESCRIPTOR_OTHER_SOFTWARE_VERSION, v)?;
        }
        for s in &self.vendor_descriptors {
            if s.vendor_id == 0 && s.sub_type <= DESCRIPTOR_OTHER_SOFTWARE_VERSION {
                return Err(CapwapError::InvalidElement {
                    element: Self::NAME,
                    reason: "vendor 0 types 0-3 belong in their named fields",
                });
            }
            write_vendor_sub_element(out, SUB, s.vendor_id, s.sub_type, &s.data)?;
        }
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        let mut r = Reader::new(value, Self::NAME);
        let max_radios = r.u8()?;
        let radios_in_use = r.u8()?;
        let num_encrypt = r.u8()?;
        if num_encrypt == 0 {
            return Err(CapwapError::InvalidElement {
                element: Self::NAME,
                reason: "Num Encrypt is 0; at least one encryption sub-element is required",
            });
        }
        r.set_what("WTP Descriptor encryption sub-element");
        let mut encryption = Vec::with_capacity(num_encrypt.into());
        for _ in 0..num_encrypt {
            let wbid = r.u8()? & 0x1F;
            let capabilities = EncryptionCapabilities(r.u16()?);
            encryption.push(EncryptionCapability { wbid, capabilities });
        }
        let mut subs = read_vendor_sub_elements(&mut r, "WTP Descriptor sub-element")?;
        let n = Self::NAME;
        let hw = take_standard(
            &mut subs,
            n,
            DESCRIPTOR_HARDWARE_VERSION,
            "hardware version",
        )?;
        let sw = take_standard(
            &mut subs,
            n,
            DESCRIPTOR_ACTIVE_SOFTWARE_VERSION,
            "active software version",
        )?;
        let boot = take_standard(&mut subs, n, DESCRIPTOR_BOOT_VERSION, "boot version")?;
        let other = take_standard(
            &mut subs,
            n,
            DESCRIPTOR_OTHER_SOFTWARE_VERSION,
            "other software version",
        )?;
        Ok(WtpDescriptor {
            max_radios,
            radios_in_use,
            encryption,
            hardware_version: require(hw, n, "hardware version")?,
            active_software_version: require(sw, n, "active software version")?,
            boot_version: require(boot, n, "boot version")?,
            other_software_version: other,
            vendor_descriptors: subs,
        })
    }
}

/// Per-radio failure counters (RFC 5415 4.6.46).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WtpRadioStatistics {
    pub radio_id: u8,
    pub last_failure_type: RadioFailureType,
    pub reset_count: u16,
    pub sw_failure_count: u16,
    pub hw_failure_count: u16,
    pub other_failure_count: u16,
    pub unknown_failure_count: u16,
    pub config_update_count: u16,
    pub channel_change_count: u16,
    pub band_change_count: u16,
    /// dBm.
    pub current_noise_floor: i16,
}

impl ElementBody for WtpRadioStatistics {
    const TYPE: u16 = 47;
    const NAME: &'static str = "WTP Radio Statistics";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u8(self.last_failure_type.to_raw());
        for c in [
            self.reset_count,
            self.sw_failure_count,
            self.hw_failure_count,
            self.other_failure_count,
            self.unknown_failure_count,
            self.config_update_count,
            self.channel_change_count,
            self.band_change_count,
            self.current_noise_floor as u16,
        ] {
            out.put_u16(c);
        }
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 20)?;
        let mut r = Reader::new(value, Self::NAME);
        Ok(WtpRadioStatistics {
            radio_id: r.u8()?,
            last_failure_type: RadioFailureType::from_raw(r.u8()?),
            reset_count: r.u16()?,
            sw_failure_count: r.u16()?,
            hw_failure_count: r.u16()?,
            other_failure_count: r.u16()?,
            unknown_failure_count: r.u16()?,
            config_update_count: r.u16()?,
            channel_change_count: r.u16()?,
            band_change_count: r.u16()?,
            current_noise_floor: r.u16()? as i16,
        })
    }
}

/// Why the WTP rebooted or lost its AC, counters that roll over (RFC 5415 4.6.47). 65535 in
/// the first two means "not available".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WtpRebootStatistics {
    pub reboot_count: u16,
    pub ac_initiated_count: u16,
    pub link_failure_count: u16,
    pub sw_failure_count: u16,
    pub hw_failure_count: u16,
    pub other_failure_count: u16,
    pub unknown_failure_count: u16,
    pub last_failure_type: RebootFailureType,
}

impl ElementBody for WtpRebootStatistics {
    const TYPE: u16 = 48;
    const NAME: &'static str = "WTP Reboot Statistics";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        for c in [
            self.reboot_count,
            self.ac_initiated_count,
            self.link_failure_count,
            self.sw_failure_count,
            self.hw_failure_count,
            self.other_failure_count,
            self.unknown_failure_count,
        ] {
            out.put_u16(c);
        }
        out.put_u8(self.last_failure_type.to_raw());
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 15)?;
        let mut r = Reader::new(value, Self::NAME);
        Ok(WtpRebootStatistics {
            reboot_count: r.u16()?,
            ac_initiated_count: r.u16()?,
            link_failure_count: r.u16()?,
            sw_failure_count: r.u16()?,
            hw_failure_count: r.u16()?,
            other_failure_count: r.u16()?,
            unknown_failure_count: r.u16()?,
            last_failure_type: RebootFailureType::from_raw(r.u8()?),
        })
    }
}

/// Set or clear a static IPv4 configuration on the WTP (RFC 5415 4.6.48).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WtpStaticIpAddressInformation {
    pub address: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub gateway: Ipv4Addr,
    /// Static 1: use the address; 0: back to DHCP. Non-zero decodes as true.
    pub static_ip: bool,
}

impl ElementBody for WtpStaticIpAddressInformation {
    const TYPE: u16 = 49;
    const NAME: &'static str = "WTP Static IP Address Information";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_bytes(&self.address.octets());
        out.put_bytes(&self.netmask.octets());
        out.put_bytes(&self.gateway.octets());
        out.put_u8(self.static_ip.into());
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 13)?;
        let mut r = Reader::new(value, Self::NAME);
        Ok(WtpStaticIpAddressInformation {
            address: Ipv4Addr::from(r.array::<4>()?),
            netmask: Ipv4Addr::from(r.array::<4>()?),
            gateway: Ipv4Addr::from(r.array::<4>()?),
            static_ip: r.u8()? != 0,
        })
    }
}

// ---------------------------------------------------------------------------------------
// RFC 5416 (IEEE 802.11 binding) elements.

/// Create a WLAN on a radio (RFC 5416 6.1).
///
/// The RSN, WPA, WMM, EDCA, QoS Capability and Power Constraint IEs that go with it are not
/// part of this element: they travel as [`InformationElement`]s (type 1029) in the same
/// WLAN Configuration Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddWlan {
    pub radio_id: u8,
    /// 1–16.
    pub wlan_id: u8,
    pub capability: WlanCapability,
    pub key_index: u8,
    pub key_status: KeyStatus,
    /// The group key (CCMP: 16-byte GTK; TKIP: 32 bytes; WEP: the broadcast key); empty for
    /// an open WLAN. Key Length is its length.
    pub key: Vec<u8>,
    /// 48-bit transmit sequence counter for the group key.
    pub group_tsc: [u8; 6],
    pub qos: WlanQos,
    pub auth_type: AuthType,
    pub mac_mode: WlanMacMode,
    pub tunnel_mode: WlanTunnelMode,
    /// Kept raw because its sense is contested: RFC 5416 6.1 says 0 suppresses the SSID in
    /// beacons and 1 advertises it, but FreeWTP hides the SSID when the value is non-zero
    /// and Wireshark 4.0 shows 1 as "Suppress SSID: Yes".
    pub suppress_ssid: u8,
    /// 1–32 octets, not necessarily UTF-8.
    pub ssid: Vec<u8>,
}

fn check_ssid(element: &'static str, ssid: &[u8]) -> Result<(), CapwapError> {
    if ssid.is_empty() {
        return Err(CapwapError::InvalidElement {
            element,
            reason: "SSID is empty",
        });
    }
    at_most("SSID", ssid.len(), MAX_SSID_LEN)
}

impl ElementBody for AddWlan {
    const TYPE: u16 = 1024;
    const NAME: &'static str = "IEEE 802.11 Add WLAN";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        check_ssid(Self::NAME, &self.ssid)?;
        at_most("Add WLAN key", self.key.len(), u16::MAX.into())?;
        out.put_u8(self.radio_id);
        out.put_u8(self.wlan_id);
        out.put_u16(self.capability.0);
        out.put_u8(self.key_index);
        out.put_u8(self.key_status.to_raw());
        out.put_u16(self.key.len() as u16);
        out.put_bytes(&self.key);
        out.put_bytes(&self.group_tsc);
        out.put_u8(self.qos.to_raw());
        out.put_u8(self.auth_type.to_raw());
        out.put_u8(self.mac_mode.to_raw());
        out.put_u8(self.tunnel_mode.to_raw());
        out.put_u8(self.suppress_ssid);
        out.put_bytes(&self.ssid);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 20)?;
        let mut r = Reader::new(value, Self::NAME);
        let radio_id = r.u8()?;
        let wlan_id = r.u8()?;
        let capability = WlanCapability(r.u16()?);
        let key_index = r.u8()?;
        let key_status = KeyStatus::from_raw(r.u8()?);
        let key_len = r.u16()? as usize;
        // Key, Group TSC (6), five 1-byte fields and at least one SSID byte must follow.
        if r.remaining() < key_len + 12 {
            return Err(CapwapError::BadElementLength {
                element: Self::NAME,
                len: value.len(),
                expected: Expected::AtLeast(20 + key_len),
            });
        }
        let key = r.take(key_len)?.to_vec();
        let group_tsc = r.array::<6>()?;
        let qos = WlanQos::from_raw(r.u8()?);
        let auth_type = AuthType::from_raw(r.u8()?);
        let mac_mode = WlanMacMode::from_raw(r.u8()?);
        let tunnel_mode = WlanTunnelMode::from_raw(r.u8()?);
        let suppress_ssid = r.u8()?;
        let ssid = r.rest().to_vec();
        check_ssid(Self::NAME, &ssid)?;
        Ok(AddWlan {
            radio_id,
            wlan_id,
            capability,
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
        })
    }
}

/// Change a WLAN's capability or key (RFC 5416 6.21).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateWlan {
    pub radio_id: u8,
    pub wlan_id: u8,
    pub capability: WlanCapability,
    pub key_index: u8,
    pub key_status: KeyStatus,
    pub key: Vec<u8>,
}

impl ElementBody for UpdateWlan {
    const TYPE: u16 = 1044;
    const NAME: &'static str = "IEEE 802.11 Update WLAN";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        at_most("Update WLAN key", self.key.len(), usize::from(u16::MAX) - 8)?;
        out.put_u8(self.radio_id);
        out.put_u8(self.wlan_id);
        out.put_u16(self.capability.0);
        out.put_u8(self.key_index);
        out.put_u8(self.key_status.to_raw());
        out.put_u16(self.key.len() as u16);
        out.put_bytes(&self.key);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 8)?;
        let key_len = usize::from(u16::from_be_bytes([value[6], value[7]]));
        exact(Self::NAME, value, 8 + key_len)?;
        Ok(UpdateWlan {
            radio_id: value[0],
            wlan_id: value[1],
            capability: WlanCapability(u16::from_be_bytes([value[2], value[3]])),
            key_index: value[4],
            key_status: KeyStatus::from_raw(value[5]),
            key: value[8..].to_vec(),
        })
    }
}

/// Remove a WLAN (RFC 5416 6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteWlan {
    pub radio_id: u8,
    pub wlan_id: u8,
}

impl ElementBody for DeleteWlan {
    const TYPE: u16 = 1027;
    const NAME: &'static str = "IEEE 802.11 Delete WLAN";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u8(self.wlan_id);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 2)?;
        Ok(DeleteWlan {
            radio_id: value[0],
            wlan_id: value[1],
        })
    }
}

/// The BSSID the WTP gave a WLAN it created (RFC 5416 6.3), in the WLAN Configuration
/// Response to an Add WLAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssignedWtpBssid {
    pub radio_id: u8,
    pub wlan_id: u8,
    pub bssid: [u8; 6],
}

impl ElementBody for AssignedWtpBssid {
    const TYPE: u16 = 1026;
    const NAME: &'static str = "IEEE 802.11 Assigned WTP BSSID";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u8(self.wlan_id);
        out.put_bytes(&self.bssid);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 8)?;
        let mut r = Reader::new(value, Self::NAME);
        Ok(AssignedWtpBssid {
            radio_id: r.u8()?,
            wlan_id: r.u8()?,
            bssid: r.array()?,
        })
    }
}

/// DSSS (802.11b) channel settings (RFC 5416 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectSequenceControl {
    pub radio_id: u8,
    pub current_channel: u8,
    /// 1 ED only, 2 CS only, 4 ED and CS, 8 CS with timer, 16 HR CS and ED.
    pub current_cca: u8,
    pub energy_detect_threshold: u32,
}

impl ElementBody for DirectSequenceControl {
    const TYPE: u16 = 1028;
    const NAME: &'static str = "IEEE 802.11 Direct Sequence Control";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u8(0);
        out.put_u8(self.current_channel);
        out.put_u8(self.current_cca);
        out.put_u32(self.energy_detect_threshold);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 8)?;
        let mut r = Reader::new(value, Self::NAME);
        let radio_id = r.u8()?;
        let _reserved = r.u8()?;
        Ok(DirectSequenceControl {
            radio_id,
            current_channel: r.u8()?,
            current_cca: r.u8()?,
            energy_detect_threshold: r.u32()?,
        })
    }
}

/// Beacon flag of [`InformationElement`].
const IE_FLAG_BEACON: u8 = 0x80;
/// Probe Response flag of [`InformationElement`].
const IE_FLAG_PROBE_RESPONSE: u8 = 0x40;

/// IEEE 802.11 element ID of the RSN information element.
pub const IE_ID_RSN: u8 = 48;

/// A raw IEEE 802.11 information element for a WLAN's beacons and/or probe responses
/// (RFC 5416 6.6): how the RSN IE (the cipher suites that go with an Add WLAN key) reaches
/// the WTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformationElement {
    pub radio_id: u8,
    pub wlan_id: u8,
    /// B: include in beacons.
    pub beacon: bool,
    /// P: include in probe responses.
    pub probe_response: bool,
    /// The IE exactly as in a management frame: element ID, length, body.
    pub ie: Vec<u8>,
}

impl ElementBody for InformationElement {
    const TYPE: u16 = 1029;
    const NAME: &'static str = "IEEE 802.11 Information Element";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        check_text(Self::NAME, self.ie.len(), 1, usize::from(u16::MAX) - 3)?;
        out.put_u8(self.radio_id);
        out.put_u8(self.wlan_id);
        let mut flags = 0;
        if self.beacon {
            flags |= IE_FLAG_BEACON;
        }
        if self.probe_response {
            flags |= IE_FLAG_PROBE_RESPONSE;
        }
        out.put_u8(flags);
        out.put_bytes(&self.ie);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        at_least(Self::NAME, value, 4)?;
        Ok(InformationElement {
            radio_id: value[0],
            wlan_id: value[1],
            beacon: value[2] & IE_FLAG_BEACON != 0,
            probe_response: value[2] & IE_FLAG_PROBE_RESPONSE != 0,
            ie: value[3..].to_vec(),
        })
    }
}

/// OFDM (802.11a) channel settings (RFC 5416 6.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfdmControl {
    pub radio_id: u8,
    pub current_channel: u8,
    /// U-NII band bit field (bit 0 = 5.15–5.25 GHz, ...).
    pub band_support: u8,
    pub ti_threshold: u32,
}

impl ElementBody for OfdmControl {
    const TYPE: u16 = 1033;
    const NAME: &'static str = "IEEE 802.11 OFDM Control";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u8(0);
        out.put_u8(self.current_channel);
        out.put_u8(self.band_support);
        out.put_u32(self.ti_threshold);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 8)?;
        let mut r = Reader::new(value, Self::NAME);
        let radio_id = r.u8()?;
        let _reserved = r.u8()?;
        Ok(OfdmControl {
            radio_id,
            current_channel: r.u8()?,
            band_support: r.u8()?,
            ti_threshold: r.u32()?,
        })
    }
}

/// Transmit power in mW (RFC 5416 6.18): the current value from the WTP, the one to use from
/// the AC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxPower {
    pub radio_id: u8,
    pub current_tx_power: u16,
}

impl ElementBody for TxPower {
    const TYPE: u16 = 1041;
    const NAME: &'static str = "IEEE 802.11 Tx Power";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u8(0);
        out.put_u16(self.current_tx_power);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 4)?;
        Ok(TxPower {
            radio_id: value[0],
            current_tx_power: u16::from_be_bytes([value[2], value[3]]),
        })
    }
}

/// A radio's BSS parameters (RFC 5416 6.23).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WtpRadioConfiguration {
    pub radio_id: u8,
    /// 0 not supported, 1 supported.
    pub short_preamble: u8,
    /// Most BSSIDs the radio supports, 1–16.
    pub num_bssids: u8,
    pub dtim_period: u8,
    /// The radio's base MAC address.
    pub bssid: [u8; 6],
    /// In TUs.
    pub beacon_period: u16,
    /// ISO 3166 code, environment byte (' ', 'O', 'I', 'X' or 0xFF = unused), then NUL.
    pub country_string: [u8; 4],
}

impl ElementBody for WtpRadioConfiguration {
    const TYPE: u16 = 1046;
    const NAME: &'static str = "IEEE 802.11 WTP Radio Configuration";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u8(self.short_preamble);
        out.put_u8(self.num_bssids);
        out.put_u8(self.dtim_period);
        out.put_bytes(&self.bssid);
        out.put_u16(self.beacon_period);
        out.put_bytes(&self.country_string);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 16)?;
        let mut r = Reader::new(value, Self::NAME);
        Ok(WtpRadioConfiguration {
            radio_id: r.u8()?,
            short_preamble: r.u8()?,
            num_bssids: r.u8()?,
            dtim_period: r.u8()?,
            bssid: r.array()?,
            beacon_period: r.u16()?,
            country_string: r.array()?,
        })
    }
}

/// A radio's receiver or transmitter failed or recovered (RFC 5416 6.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WtpRadioFailAlarm {
    pub radio_id: u8,
    pub failure: RadioFailAlarmType,
    /// Status 1 reports the failure, 0 clears it; non-zero decodes as true.
    pub failed: bool,
}

impl ElementBody for WtpRadioFailAlarm {
    const TYPE: u16 = 1047;
    const NAME: &'static str = "IEEE 802.11 WTP Radio Fail Alarm Indication";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u8(self.failure.to_raw());
        out.put_u8(self.failed.into());
        out.put_u8(0);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 4)?;
        Ok(WtpRadioFailAlarm {
            radio_id: value[0],
            failure: RadioFailAlarmType::from_raw(value[1]),
            failed: value[2] != 0,
        })
    }
}

/// One 802.11 radio and its PHYs (RFC 5416 6.25); one per radio in Discovery and Join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WtpRadioInformation {
    pub radio_id: u8,
    pub radio_type: RadioType,
}

impl ElementBody for WtpRadioInformation {
    const TYPE: u16 = 1048;
    const NAME: &'static str = "IEEE 802.11 WTP Radio Information";
    fn encode_value(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        out.put_u8(self.radio_id);
        out.put_u32(self.radio_type.0);
        Ok(())
    }
    fn decode_value(value: &[u8]) -> Result<Self, CapwapError> {
        exact(Self::NAME, value, 5)?;
        let mut r = Reader::new(value, Self::NAME);
        Ok(WtpRadioInformation {
            radio_id: r.u8()?,
            radio_type: RadioType(r.u32()?),
        })
    }
}
