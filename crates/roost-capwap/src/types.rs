//! Enumerated and bit-field values carried inside message elements.
//!
//! The codec checks structure, not values: an enumerated field holding a number this crate
//! has no name for decodes as `Unknown(n)` instead of failing, so a newer peer's value
//! reaches the state machine, which decides. `Unknown(n)` is only ever built for unnamed
//! numbers; build values with `from_raw` to keep that true. Bit fields are newtypes over the
//! raw integer with the RFC's bits as constants; reserved bits are kept, not cleared.

use std::fmt;

macro_rules! raw_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $var:ident = $val:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $var, )*
            /// A value this crate has no name for.
            Unknown($repr),
        }

        impl $name {
            pub fn from_raw(v: $repr) -> Self {
                match v {
                    $( $val => $name::$var, )*
                    other => $name::Unknown(other),
                }
            }

            pub fn to_raw(self) -> $repr {
                match self {
                    $( $name::$var => $val, )*
                    $name::Unknown(v) => v,
                }
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                $name::from_raw(v)
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                v.to_raw()
            }
        }
    };
}

raw_enum! {
    /// How the WTP learnt of the AC (RFC 5415 4.6.21).
    pub enum DiscoveryType: u8 {
        /// 0, "Unknown" in the RFC.
        Unspecified = 0,
        Static = 1,
        Dhcp = 2,
        Dns = 3,
        /// From an AC IPv4/IPv6 List.
        AcReferral = 4,
    }
}

raw_enum! {
    /// The AC's support for the header Radio MAC field (AC Descriptor R-MAC, RFC 5415 4.6.1).
    pub enum RMacField: u8 {
        Supported = 1,
        NotSupported = 2,
    }
}

raw_enum! {
    /// Automatic return to the primary AC (RFC 5415 4.6.42). The default is enabled.
    pub enum WtpFallback: u8 {
        Enabled = 1,
        Disabled = 2,
    }
}

raw_enum! {
    /// The WTP's MAC mode (RFC 5415 4.6.44).
    pub enum WtpMacType: u8 {
        Local = 0,
        Split = 1,
        Both = 2,
    }
}

raw_enum! {
    /// ECN support (RFC 5415 4.6.25).
    pub enum EcnSupport: u8 {
        Limited = 0,
        FullAndLimited = 1,
    }
}

raw_enum! {
    /// Data channel transport (RFC 5415 4.6.14).
    pub enum CapwapTransportProtocol: u8 {
        /// Never with an IPv4 control channel.
        UdpLite = 1,
        Udp = 2,
    }
}

raw_enum! {
    /// Radio Administrative State (RFC 5415 4.6.33).
    pub enum AdminState: u8 {
        Enabled = 1,
        Disabled = 2,
    }
}

raw_enum! {
    /// The State field of Radio Operational State (RFC 5415 4.6.34).
    pub enum OperationalState: u8 {
        Enabled = 1,
        Disabled = 2,
    }
}

raw_enum! {
    /// The Cause field of Radio Operational State (RFC 5415 4.6.34).
    pub enum OperationalCause: u8 {
        Normal = 0,
        RadioFailure = 1,
        SoftwareFailure = 2,
        AdministrativelySet = 3,
    }
}

raw_enum! {
    /// Why a WTP could not apply an element (Returned Message Element, RFC 5415 4.6.36).
    pub enum ReturnedReason: u8 {
        UnknownElement = 1,
        UnsupportedElement = 2,
        UnknownElementValue = 3,
        UnsupportedElementValue = 4,
    }
}

raw_enum! {
    /// Last Failure Type of WTP Reboot Statistics (RFC 5415 4.6.47).
    pub enum RebootFailureType: u8 {
        NotSupported = 0,
        AcInitiated = 1,
        LinkFailure = 2,
        SoftwareFailure = 3,
        HardwareFailure = 4,
        OtherFailure = 5,
        /// 255, "Unknown": the WTP does not keep track.
        NotTracked = 255,
    }
}

raw_enum! {
    /// Last Failure Type of WTP Radio Statistics (RFC 5415 4.6.46).
    pub enum RadioFailureType: u8 {
        NotSupported = 0,
        SoftwareFailure = 1,
        HardwareFailure = 2,
        OtherFailure = 3,
        /// 255, "Unknown": the WTP does not keep track.
        NotTracked = 255,
    }
}

raw_enum! {
    /// Key Status of Add/Update WLAN (RFC 5416 6.1).
    pub enum KeyStatus: u8 {
        /// Per-station keys; the Key field is the group key (with an RSN IE).
        PerStation = 0,
        /// Static WEP: the key serves unicast and multicast.
        StaticWep = 1,
        /// The AC starts rekeying the GTK.
        BeginRekey = 2,
        /// The AC finished rekeying the GTK.
        CompletedRekey = 3,
    }
}

raw_enum! {
    /// Default QoS for non-WMM stations (Add WLAN, RFC 5416 6.1).
    pub enum WlanQos: u8 {
        BestEffort = 0,
        Video = 1,
        Voice = 2,
        Background = 3,
    }
}

raw_enum! {
    /// Auth Type of Add WLAN (RFC 5416 6.1).
    pub enum AuthType: u8 {
        OpenSystem = 0,
        WepSharedKey = 1,
    }
}

raw_enum! {
    /// MAC Mode of Add WLAN (RFC 5416 6.1).
    pub enum WlanMacMode: u8 {
        Local = 0,
        Split = 1,
    }
}

raw_enum! {
    /// Tunnel Mode of Add WLAN (RFC 5416 6.1).
    pub enum WlanTunnelMode: u8 {
        LocalBridging = 0,
        /// Never with Split MAC.
        Dot3Tunnel = 1,
        Dot11Tunnel = 2,
    }
}

raw_enum! {
    /// Type of IEEE 802.11 WTP Radio Fail Alarm Indication (RFC 5416 6.24).
    pub enum RadioFailAlarmType: u8 {
        Receiver = 1,
        Transmitter = 2,
    }
}

raw_enum! {
    /// Result Code (RFC 5415 4.6.35). Numbering checked against the RFC text: 1 is "AC List
    /// Message Element MUST Be Present" and 2 "Success (NAT Detected)", so the Join failures
    /// run 3–9.
    pub enum ResultCode: u32 {
        Success = 0,
        FailureAcListRequired = 1,
        SuccessNatDetected = 2,
        JoinFailureUnspecified = 3,
        /// How a Roost cluster member refuses a WTP for lack of licences or capacity.
        JoinFailureResourceDepletion = 4,
        JoinFailureUnknownSource = 5,
        JoinFailureIncorrectData = 6,
        JoinFailureSessionIdInUse = 7,
        JoinFailureHardwareNotSupported = 8,
        JoinFailureBindingNotSupported = 9,
        ResetFailureUnableToReset = 10,
        ResetFailureFirmwareWriteError = 11,
        ConfigurationFailureServiceProvided = 12,
        ConfigurationFailureServiceNotProvided = 13,
        ImageDataInvalidChecksum = 14,
        ImageDataInvalidDataLength = 15,
        ImageDataOtherError = 16,
        ImageDataAlreadyPresent = 17,
        InvalidInCurrentState = 18,
        UnrecognizedRequest = 19,
        MissingMandatoryElement = 20,
        UnrecognizedElement = 21,
        DataTransferNoInformation = 22,
    }
}

impl ResultCode {
    /// Codes 0 and 2 are successes; everything else is a failure.
    pub fn is_success(self) -> bool {
        matches!(self, ResultCode::Success | ResultCode::SuccessNatDetected)
    }

    /// The RFC's wording, for logs and `show` output.
    pub fn description(self) -> &'static str {
        match self {
            ResultCode::Success => "Success",
            ResultCode::FailureAcListRequired => "Failure (AC List Message Element MUST Be Present)",
            ResultCode::SuccessNatDetected => "Success (NAT Detected)",
            ResultCode::JoinFailureUnspecified => "Join Failure (Unspecified)",
            ResultCode::JoinFailureResourceDepletion => "Join Failure (Resource Depletion)",
            ResultCode::JoinFailureUnknownSource => "Join Failure (Unknown Source)",
            ResultCode::JoinFailureIncorrectData => "Join Failure (Incorrect Data)",
            ResultCode::JoinFailureSessionIdInUse => "Join Failure (Session ID Already in Use)",
            ResultCode::JoinFailureHardwareNotSupported => "Join Failure (WTP Hardware Not Supported)",
            ResultCode::JoinFailureBindingNotSupported => "Join Failure (Binding Not Supported)",
            ResultCode::ResetFailureUnableToReset => "Reset Failure (Unable to Reset)",
            ResultCode::ResetFailureFirmwareWriteError => "Reset Failure (Firmware Write Error)",
            ResultCode::ConfigurationFailureServiceProvided => {
                "Configuration Failure (Unable to Apply Requested Configuration - Service Provided Anyhow)"
            }
            ResultCode::ConfigurationFailureServiceNotProvided => {
                "Configuration Failure (Unable to Apply Requested Configuration - Service Not Provided)"
            }
            ResultCode::ImageDataInvalidChecksum => "Image Data Error (Invalid Checksum)",
            ResultCode::ImageDataInvalidDataLength => "Image Data Error (Invalid Data Length)",
            ResultCode::ImageDataOtherError => "Image Data Error (Other Error)",
            ResultCode::ImageDataAlreadyPresent => "Image Data Error (Image Already Present)",
            ResultCode::InvalidInCurrentState => "Message Unexpected (Invalid in Current State)",
            ResultCode::UnrecognizedRequest => "Message Unexpected (Unrecognized Request)",
            ResultCode::MissingMandatoryElement => "Failure - Missing Mandatory Message Element",
            ResultCode::UnrecognizedElement => "Failure - Unrecognized Message Element",
            ResultCode::DataTransferNoInformation => {
                "Data Transfer Error (No Information to Transfer)"
            }
            ResultCode::Unknown(_) => "Unknown result code",
        }
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.to_raw(), self.description())
    }
}

macro_rules! bits {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($repr:ty) {
            $( $(#[$cmeta:meta])* const $c:ident = $v:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* pub const $c: $name = $name($v); )*

            /// Whether every bit of `other` is set.
            pub fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
        }

        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }
    };
}

bits! {
    /// The AC Descriptor Security field: credential types the AC accepts for DTLS.
    pub struct AcSecurity(u8) {
        /// S: pre-shared key.
        const PSK = 0x04;
        /// X: X.509 certificates.
        const X509 = 0x02;
    }
}

bits! {
    /// The AC Descriptor DTLS Policy field: data channel modes the AC accepts.
    pub struct DtlsPolicy(u8) {
        /// D: DTLS-protected data channel.
        const DTLS_DATA = 0x04;
        /// C: clear-text data channel.
        const CLEAR_DATA = 0x02;
    }
}

bits! {
    /// WTP Frame Tunnel Mode (RFC 5415 4.6.43). E and L are forbidden with Split MAC.
    pub struct WtpFrameTunnelMode(u8) {
        /// N: native 802.11 frames.
        const NATIVE = 0x08;
        /// E: 802.3 frames tunnelled to the AC.
        const DOT3 = 0x04;
        /// L: local bridging, nothing tunnelled.
        const LOCAL_BRIDGING = 0x02;
    }
}

bits! {
    /// Radio Type of IEEE 802.11 WTP Radio Information (RFC 5416 6.25), 32 bits of which the
    /// low byte is defined.
    pub struct RadioType(u32) {
        const B = 0x01;
        const A = 0x02;
        const G = 0x04;
        const N = 0x08;
    }
}

bits! {
    /// Encryption Capabilities of a WTP Descriptor encryption sub-element; for WBID 1 the
    /// RFC 5416 8.1 bits (WEP is assumed and not advertised).
    pub struct EncryptionCapabilities(u16) {
        /// A: AES-CCMP.
        const AES_CCMP = 0x0008;
        /// T: TKIP and Michael.
        const TKIP = 0x0004;
    }
}

bits! {
    /// The IEEE 802.11 Capability field of Add/Update WLAN (RFC 5416 6.1), as advertised in
    /// Beacons and Probe Responses. Bit 0 in the RFC's figure is the most significant bit.
    pub struct WlanCapability(u16) {
        /// E: the AC MUST set it.
        const ESS = 0x8000;
        /// I: the AC MUST clear it.
        const IBSS = 0x4000;
        const CF_POLLABLE = 0x2000;
        const CF_POLL_REQUEST = 0x1000;
        const PRIVACY = 0x0800;
        const SHORT_PREAMBLE = 0x0400;
        const PBCC = 0x0200;
        const CHANNEL_AGILITY = 0x0100;
        const SPECTRUM_MANAGEMENT = 0x0080;
        const QOS = 0x0040;
        const SHORT_SLOT_TIME = 0x0020;
        const APSD = 0x0010;
        const DSSS_OFDM = 0x0004;
        const DELAYED_BLOCK_ACK = 0x0002;
        const IMMEDIATE_BLOCK_ACK = 0x0001;
    }
}
