//! The WLANs an AC puts on its APs (RFC 5416 3.1: IEEE 802.11 WLAN Configuration Request),
//! as plain data and the pure diff from what an AP has to what its model must carry.
//!
//! What goes on the wire, and what does not. Add WLAN carries the SSID, the capability
//! (Privacy when encrypted), Key Status "per station" with the *group* key, and an RSN
//! information element naming the cipher (CCMP, or TKIP for group traffic with CCMP pairwise)
//! and the key management (PSK or 802.1X). The passphrase itself never leaves the controller:
//! in CAPWAP the pairwise keys are the AC's business (RFC 5416 2.7, Station Session Key), so a
//! PSK stays in the configuration, masked in every face. The group key is random, chosen by
//! the driver (a core has no RNG) whenever the plan is built.
//!
//! Changes are Delete then Add (not Update): an Add for a WLAN ID in use is unspecified by the
//! RFC, and a foreign WTP may refuse it; Delete succeeds also for a WLAN the AP does not have.

use roost_capwap::elements::{AddWlan, DeleteWlan, InformationElement, IE_ID_RSN};
use roost_capwap::messages::{WlanConfigurationRequest, WlanOperation};
use roost_capwap::types::{
    AuthType, KeyStatus, WlanCapability, WlanMacMode, WlanQos, WlanTunnelMode,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a WLAN encrypts (WiNG's `encryption-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// Open.
    None,
    /// WPA2, CCMP for pairwise and group traffic.
    Ccmp,
    /// WPA/WPA2 mixed: CCMP pairwise, TKIP group (so TKIP-only stations can read it).
    TkipCcmp,
}

/// How stations authenticate (WiNG's `authentication-type`, and whether a PSK is set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyManagement {
    /// No key management (an open WLAN, or encryption without a PSK or EAP: refused by no
    /// one, yet useless; kept as configured).
    None,
    /// A pre-shared key (WPA2-Personal).
    Psk,
    /// 802.1X / EAP (WPA2-Enterprise).
    Eap,
}

impl KeyManagement {
    /// What a WLAN's settings make it: open has none, EAP (`authentication-type eap`) wins
    /// over a PSK, an encrypted WLAN with neither has none.
    pub fn of(cipher: Cipher, has_psk: bool, eap: bool) -> KeyManagement {
        match (cipher, has_psk, eap) {
            (Cipher::None, _, _) => KeyManagement::None,
            (_, _, true) => KeyManagement::Eap,
            (_, true, false) => KeyManagement::Psk,
            (_, false, false) => KeyManagement::None,
        }
    }
}

/// One WLAN on one radio of an AP.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WlanService {
    pub radio_id: u8,
    /// The BSS (WLAN ID) on that radio, 1–16.
    pub wlan_id: u8,
    pub ssid: Vec<u8>,
    pub cipher: Cipher,
    pub key_management: KeyManagement,
    /// The group key for an encrypted WLAN (16 bytes for CCMP, 32 for TKIP), empty when open.
    pub group_key: Vec<u8>,
}

/// The WLANs per AP profile (its name, e.g. `default-ap7532`); an AP whose profile is not in
/// the plan carries none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WlanPlan {
    pub by_profile: BTreeMap<String, Arc<Vec<WlanService>>>,
}

impl WlanPlan {
    /// What an AP of `profile` must carry, sorted by (radio, WLAN ID).
    pub fn for_profile(&self, profile: &str) -> &[WlanService] {
        self.by_profile
            .get(profile)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }
}

/// The next step bringing an AP from `applied` to `desired` (both keyed by (radio, WLAN ID));
/// `refused` are the services this AP answered with a failure, not tried again until they
/// change. Deletes first (a changed service is deleted, then added), then adds, each in key
/// order; `None` when the AP carries what it should.
pub fn next_step(
    applied: &BTreeMap<(u8, u8), WlanService>,
    refused: &BTreeMap<(u8, u8), WlanService>,
    desired: &[WlanService],
) -> Option<WlanStep> {
    let want = |k: &(u8, u8)| desired.iter().find(|w| (w.radio_id, w.wlan_id) == *k);
    for (k, have) in applied {
        if want(k) != Some(have) {
            return Some(WlanStep::Delete {
                radio_id: k.0,
                wlan_id: k.1,
            });
        }
    }
    desired
        .iter()
        .find(|w| {
            let k = (w.radio_id, w.wlan_id);
            !applied.contains_key(&k) && refused.get(&k) != Some(*w)
        })
        .map(|w| WlanStep::Add(w.clone()))
}

/// One WLAN Configuration Request's worth of change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WlanStep {
    Add(WlanService),
    Delete { radio_id: u8, wlan_id: u8 },
}

impl WlanStep {
    pub fn key(&self) -> (u8, u8) {
        match self {
            WlanStep::Add(w) => (w.radio_id, w.wlan_id),
            WlanStep::Delete { radio_id, wlan_id } => (*radio_id, *wlan_id),
        }
    }

    /// The request on the wire.
    pub fn request(&self) -> WlanConfigurationRequest {
        match self {
            WlanStep::Delete { radio_id, wlan_id } => WlanConfigurationRequest {
                operation: WlanOperation::Delete(DeleteWlan {
                    radio_id: *radio_id,
                    wlan_id: *wlan_id,
                }),
                information_elements: vec![],
                vendor_specific: vec![],
                other_elements: vec![],
            },
            WlanStep::Add(w) => {
                let mut capability = WlanCapability::ESS | WlanCapability::SHORT_SLOT_TIME;
                if w.cipher != Cipher::None {
                    capability = capability | WlanCapability::PRIVACY;
                }
                WlanConfigurationRequest {
                    operation: WlanOperation::Add(AddWlan {
                        radio_id: w.radio_id,
                        wlan_id: w.wlan_id,
                        capability,
                        key_index: u8::from(!w.group_key.is_empty()),
                        key_status: KeyStatus::PerStation,
                        key: w.group_key.clone(),
                        group_tsc: [0; 6],
                        qos: WlanQos::BestEffort,
                        auth_type: AuthType::OpenSystem,
                        mac_mode: WlanMacMode::Local,
                        tunnel_mode: WlanTunnelMode::LocalBridging,
                        suppress_ssid: 1,
                        ssid: w.ssid.clone(),
                    }),
                    information_elements: rsn_ie(w.cipher, w.key_management)
                        .map(|ie| InformationElement {
                            radio_id: w.radio_id,
                            wlan_id: w.wlan_id,
                            beacon: true,
                            probe_response: true,
                            ie,
                        })
                        .into_iter()
                        .collect(),
                    vendor_specific: vec![],
                    other_elements: vec![],
                }
            }
        }
    }
}

/// The IEEE 802.11 OUI of the RSN suite selectors.
const OUI: [u8; 3] = [0x00, 0x0F, 0xAC];
const SUITE_TKIP: u8 = 2;
const SUITE_CCMP: u8 = 4;
const AKM_8021X: u8 = 1;
const AKM_PSK: u8 = 2;

/// The RSN element (IEEE 802.11-2020 9.4.2.24) for an encrypted WLAN; none when open.
pub fn rsn_ie(cipher: Cipher, km: KeyManagement) -> Option<Vec<u8>> {
    let group = match cipher {
        Cipher::None => return None,
        Cipher::Ccmp => SUITE_CCMP,
        Cipher::TkipCcmp => SUITE_TKIP,
    };
    let mut body = vec![1, 0]; // version 1
    body.extend_from_slice(&OUI);
    body.push(group);
    body.extend_from_slice(&[1, 0]); // one pairwise suite: CCMP
    body.extend_from_slice(&OUI);
    body.push(SUITE_CCMP);
    match km {
        KeyManagement::None => body.extend_from_slice(&[0, 0]),
        KeyManagement::Psk | KeyManagement::Eap => {
            body.extend_from_slice(&[1, 0]);
            body.extend_from_slice(&OUI);
            body.push(if km == KeyManagement::Psk {
                AKM_PSK
            } else {
                AKM_8021X
            });
        }
    }
    body.extend_from_slice(&[0, 0]); // RSN capabilities
    let mut ie = vec![IE_ID_RSN, body.len() as u8];
    ie.extend_from_slice(&body);
    Some(ie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(radio: u8, id: u8, ssid: &str) -> WlanService {
        WlanService {
            radio_id: radio,
            wlan_id: id,
            ssid: ssid.as_bytes().to_vec(),
            cipher: Cipher::Ccmp,
            key_management: KeyManagement::Psk,
            group_key: vec![7; 16],
        }
    }

    #[test]
    fn the_rsn_element_of_wpa2_personal_is_the_standard_one() {
        // Element 48, length 20: version 1, group CCMP, 1 pairwise CCMP, 1 AKM PSK, caps 0.
        assert_eq!(
            rsn_ie(Cipher::Ccmp, KeyManagement::Psk).unwrap(),
            vec![
                48, 20, 1, 0, 0, 0x0F, 0xAC, 4, 1, 0, 0, 0x0F, 0xAC, 4, 1, 0, 0, 0x0F, 0xAC, 2, 0,
                0
            ]
        );
        let eap = rsn_ie(Cipher::TkipCcmp, KeyManagement::Eap).unwrap();
        assert_eq!((eap[7], eap[19]), (SUITE_TKIP, AKM_8021X));
        assert_eq!(rsn_ie(Cipher::None, KeyManagement::None), None);
    }

    #[test]
    fn steps_delete_what_changed_or_went_then_add_what_is_missing() {
        let mut applied = BTreeMap::new();
        let refused = BTreeMap::new();
        let a = svc(1, 1, "corp");
        let b = svc(2, 1, "guest");
        assert_eq!(
            next_step(&applied, &refused, &[a.clone(), b.clone()]),
            Some(WlanStep::Add(a.clone()))
        );
        applied.insert((1, 1), a.clone());
        assert_eq!(
            next_step(&applied, &refused, &[a.clone(), b.clone()]),
            Some(WlanStep::Add(b.clone()))
        );
        applied.insert((2, 1), b.clone());
        assert_eq!(next_step(&applied, &refused, &[a.clone(), b.clone()]), None);
        // The SSID of (1,1) changed: delete first, then add.
        let a2 = svc(1, 1, "corp2");
        assert_eq!(
            next_step(&applied, &refused, &[a2.clone(), b.clone()]),
            Some(WlanStep::Delete {
                radio_id: 1,
                wlan_id: 1
            })
        );
        // Gone from the plan: deleted.
        assert_eq!(
            next_step(&applied, &refused, std::slice::from_ref(&a)),
            Some(WlanStep::Delete {
                radio_id: 2,
                wlan_id: 1
            })
        );
    }

    #[test]
    fn a_refused_service_is_not_retried_until_it_changes() {
        let applied = BTreeMap::new();
        let mut refused = BTreeMap::new();
        let a = svc(3, 1, "corp");
        refused.insert((3, 1), a.clone());
        assert_eq!(
            next_step(&applied, &refused, std::slice::from_ref(&a)),
            None
        );
        let a2 = svc(3, 1, "corp-2");
        assert_eq!(
            next_step(&applied, &refused, std::slice::from_ref(&a2)),
            Some(WlanStep::Add(a2))
        );
    }

    #[test]
    fn an_add_request_round_trips_through_the_codec_with_privacy_and_the_rsn_element() {
        let req = WlanStep::Add(svc(1, 2, "corp")).request();
        let WlanOperation::Add(add) = &req.operation else {
            panic!()
        };
        assert!(add
            .capability
            .contains(WlanCapability::PRIVACY | WlanCapability::ESS));
        assert_eq!(add.key.len(), 16);
        assert_eq!(req.information_elements.len(), 1);
        let body = roost_capwap::MessageBody::WlanConfigurationRequest(req.clone());
        let bytes = roost_capwap::ControlPacket::new(roost_capwap::ControlMessage::new(9, body))
            .encode()
            .unwrap();
        let back = roost_capwap::ControlPacket::decode(&bytes).unwrap();
        assert_eq!(
            back.message.body,
            roost_capwap::MessageBody::WlanConfigurationRequest(req)
        );
    }
}
