//! Who an AP is: the facts it puts in WTP Board Data, WTP Descriptor, WTP Name, Location Data
//! and its radios, and the table of AP models those follow from.

use roost_capwap::elements::WtpRadioInformation;
use roost_capwap::types::RadioType;
use std::fmt;
use std::net::Ipv4Addr;

/// The software version a simulated AP reports (WTP Descriptor active software).
pub const DEFAULT_SOFTWARE_VERSION: &str = "5.9.1.0-roost";

/// One AP's identity. Everything here goes on the wire as the RFC's mandatory elements; the
/// rest of the AP (timers, learnt controllers, WLANs) is state of [`crate::Wtp`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WtpIdentity {
    /// Base MAC address (WTP Board Data sub-element 4); the BSSIDs derive from it.
    pub mac: [u8; 6],
    /// WTP Board Data model number, e.g. `AP7532`.
    pub model: String,
    pub serial: String,
    /// WTP Name (the AP's hostname).
    pub name: String,
    /// WTP Descriptor active software version.
    pub software_version: String,
    /// WTP Descriptor hardware version.
    pub hardware_version: String,
    /// WTP Descriptor boot version.
    pub boot_version: String,
    /// The AP's own address: CAPWAP Local IPv4 Address, and the source of its datagrams.
    pub ip: Ipv4Addr,
    /// Location Data (mandatory in Join; WiNG has no equivalent, so a placeholder).
    pub location: String,
    /// One IEEE 802.11 WTP Radio Information per radio, radio ids from 1.
    pub radios: Vec<WtpRadioInformation>,
    /// WTP Board Data Vendor Identifier, which the RFC says must not be 0. Roost has no IANA
    /// enterprise number, so it is RFC 5612's documentation number, as in the codec's vendor
    /// elements.
    pub vendor_id: u32,
}

impl WtpIdentity {
    /// An identity with the radios of `model` (see [`model_radios`]) and placeholder
    /// hardware and boot versions.
    pub fn new(
        mac: [u8; 6],
        model: &str,
        serial: &str,
        name: &str,
        software_version: &str,
        ip: Ipv4Addr,
    ) -> WtpIdentity {
        WtpIdentity {
            mac,
            model: model.to_owned(),
            serial: serial.to_owned(),
            name: name.to_owned(),
            software_version: software_version.to_owned(),
            hardware_version: "1.0".to_owned(),
            boot_version: "1.0".to_owned(),
            ip,
            location: "roost-sim".to_owned(),
            radios: model_radios(model),
            vendor_id: roost_capwap::vendor::ROOST_VENDOR_ID,
        }
    }

    /// WiNG's default hostname for an AP: the model in lower case and the last three MAC
    /// bytes, e.g. `ap7532-12AB34` (as the controllers' default `<model>-<MAC>`).
    pub fn default_name(model: &str, mac: [u8; 6]) -> String {
        format!(
            "{}-{:02X}{:02X}{:02X}",
            model.to_ascii_lowercase(),
            mac[3],
            mac[4],
            mac[5]
        )
    }
}

/// A MAC address in WiNG's form, `B4-C7-99-12-34-56`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WingMac(pub [u8; 6]);

impl fmt::Display for WingMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// AP models a fleet may simulate: the WiNG 5.9.1 access points and the 7.x ones adoptable
/// by the same controllers (reference notes §2.1), with how many radios each has. The radio
/// counts are ours (derived from the product families: single-radio AP6521, tri-radio
/// AP8533, dual-radio the rest); only the number of Radio Information elements follows from
/// them.
pub const AP_MODELS: &[(&str, u8)] = &[
    ("AP6521", 1),
    ("AP6522", 2),
    ("AP6532", 2),
    ("AP6562", 2),
    ("AP7161", 2),
    ("AP7502", 2),
    ("AP7522", 2),
    ("AP7532", 2),
    ("AP7562", 2),
    ("AP7602", 2),
    ("AP7612", 2),
    ("AP7622", 2),
    ("AP7632", 2),
    ("AP7662", 2),
    ("AP81XX", 2),
    ("AP8232", 2),
    ("AP8432", 2),
    ("AP8533", 3),
    ("AP505I", 2),
    ("AP510I", 2),
    ("AP560I", 2),
];

/// The model's canonical spelling if it is in [`AP_MODELS`] (case-insensitive).
pub fn known_model(model: &str) -> Option<&'static str> {
    AP_MODELS
        .iter()
        .find(|(m, _)| m.eq_ignore_ascii_case(model))
        .map(|(m, _)| *m)
}

/// The radios of a model: radio 1 is 2.4 GHz (802.11b/g/n), radio 2 and 3 are 5 GHz
/// (802.11a/n). A model not in the table gets two radios.
pub fn model_radios(model: &str) -> Vec<WtpRadioInformation> {
    let count = AP_MODELS
        .iter()
        .find(|(m, _)| m.eq_ignore_ascii_case(model))
        .map_or(2, |(_, n)| *n);
    (1..=count)
        .map(|radio_id| WtpRadioInformation {
            radio_id,
            radio_type: if radio_id == 1 {
                RadioType::B | RadioType::G | RadioType::N
            } else {
                RadioType::A | RadioType::N
            },
        })
        .collect()
}
