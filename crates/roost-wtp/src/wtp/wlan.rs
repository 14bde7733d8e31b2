//! IEEE 802.11 WLAN Configuration (RFC 5416 3): the WLANs an AC puts on the AP's radios.
//!
//! Add creates (or replaces) a WLAN on a radio the AP has, with WLAN ID 1–16, and answers
//! with the BSSID the AP gives it; Update changes an existing one's capability and key;
//! Delete removes one and succeeds also when there was none (the WLAN is gone either way, as
//! after a failover the new AC cannot know what the old one left). Anything the AP cannot
//! apply is Result Code 13, "Configuration Failure (Service Not Provided)".

use super::{Event, Wtp};
use roost_capwap::elements::{AssignedWtpBssid, IE_ID_RSN};
use roost_capwap::messages::{WlanConfigurationRequest, WlanConfigurationResponse, WlanOperation};
use roost_capwap::types::{KeyStatus, ResultCode, WlanCapability};

/// A WLAN the AP serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wlan {
    pub radio_id: u8,
    pub wlan_id: u8,
    pub ssid: Vec<u8>,
    pub bssid: [u8; 6],
    pub capability: WlanCapability,
    pub key_status: KeyStatus,
    /// Length of the group key the AC sent (the key itself is not kept).
    pub key_len: usize,
    /// The RSN information element sent with it, if any (cipher suites, AKM).
    pub rsn: Option<Vec<u8>>,
}

/// The BSSID of a WLAN: the base MAC with the locally administered bit, the last byte
/// offset by radio and WLAN, so every (radio, WLAN) pair of one AP differs.
pub(super) fn bssid(mac: [u8; 6], radio_id: u8, wlan_id: u8) -> [u8; 6] {
    let mut b = mac;
    b[0] |= 0x02;
    let slot = (radio_id.wrapping_sub(1) << 4) | (wlan_id.wrapping_sub(1) & 0x0F);
    b[5] = b[5].wrapping_add(slot);
    b
}

impl Wtp {
    pub(super) fn apply_wlan(&mut self, r: WlanConfigurationRequest) -> WlanConfigurationResponse {
        let fail = WlanConfigurationResponse {
            result_code: ResultCode::ConfigurationFailureServiceNotProvided,
            assigned_bssid: None,
            vendor_specific: Vec::new(),
            other_elements: Vec::new(),
        };
        let ok = |assigned_bssid| WlanConfigurationResponse {
            result_code: ResultCode::Success,
            assigned_bssid,
            vendor_specific: Vec::new(),
            other_elements: Vec::new(),
        };
        let has_radio = |id: u8| self.identity.radios.iter().any(|r| r.radio_id == id);
        match r.operation {
            WlanOperation::Add(a) => {
                if !has_radio(a.radio_id) || !(1..=16).contains(&a.wlan_id) {
                    return fail;
                }
                let rsn = r
                    .information_elements
                    .iter()
                    .find(|ie| {
                        ie.radio_id == a.radio_id
                            && ie.wlan_id == a.wlan_id
                            && ie.ie.first() == Some(&IE_ID_RSN)
                    })
                    .map(|ie| ie.ie.clone());
                let bssid = bssid(self.identity.mac, a.radio_id, a.wlan_id);
                self.wlans
                    .retain(|w| !(w.radio_id == a.radio_id && w.wlan_id == a.wlan_id));
                self.wlans.push(Wlan {
                    radio_id: a.radio_id,
                    wlan_id: a.wlan_id,
                    ssid: a.ssid.clone(),
                    bssid,
                    capability: a.capability,
                    key_status: a.key_status,
                    key_len: a.key.len(),
                    rsn,
                });
                self.event(Event::WlanAdded {
                    radio_id: a.radio_id,
                    wlan_id: a.wlan_id,
                    ssid: a.ssid,
                    bssid,
                });
                ok(Some(AssignedWtpBssid {
                    radio_id: a.radio_id,
                    wlan_id: a.wlan_id,
                    bssid,
                }))
            }
            WlanOperation::Update(u) => {
                let Some(w) = self
                    .wlans
                    .iter_mut()
                    .find(|w| w.radio_id == u.radio_id && w.wlan_id == u.wlan_id)
                else {
                    return fail;
                };
                w.capability = u.capability;
                w.key_status = u.key_status;
                w.key_len = u.key.len();
                self.event(Event::WlanUpdated {
                    radio_id: u.radio_id,
                    wlan_id: u.wlan_id,
                });
                ok(None)
            }
            WlanOperation::Delete(d) => {
                let before = self.wlans.len();
                self.wlans
                    .retain(|w| !(w.radio_id == d.radio_id && w.wlan_id == d.wlan_id));
                if self.wlans.len() != before {
                    self.event(Event::WlanDeleted {
                        radio_id: d.radio_id,
                        wlan_id: d.wlan_id,
                    });
                }
                ok(None)
            }
        }
    }
}
