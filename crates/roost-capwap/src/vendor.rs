//! Roost's own Vendor Specific elements (RFC 5415 4.6.39). A WTP that does not know them
//! ignores them (the RFC lets a receiver skip an unknown vendor payload), so the AC sends them
//! to every WTP and adopts any WTP without them.
//!
//! Roost has no IANA Private Enterprise Number yet; until it has one its elements carry
//! [`ROOST_VENDOR_ID`] (RFC 5612's documentation number), which no shipping vendor uses.

use crate::elements::VendorSpecificPayload;
use crate::error::CapwapError;
use std::time::Duration;

/// The vendor id Roost's elements carry (see the module docs).
pub const ROOST_VENDOR_ID: u32 = crate::VENDOR_ID_EXAMPLE;

/// Element id of [`FastTimers`].
pub const FAST_TIMERS: u16 = 1;

/// Failure-detection timers finer than the RFC allows. CAPWAP Timers carry the echo interval
/// in whole seconds, and the retransmit interval and count that decide how fast a WTP notices
/// a dead AC are WTP-local variables (RetransmitInterval 3 s, MaxRetransmit 5). An AC sends
/// this in its Join and Configuration Status Responses; a Roost WTP that receives it echoes
/// every `echo_interval`, retransmits a request after `retransmit_interval`, and gives up on
/// its AC after `max_retransmit` unanswered retransmissions.
///
/// Value: echo interval (ms, u32), retransmit interval (ms, u32), max retransmit (u8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastTimers {
    pub echo_interval: Duration,
    pub retransmit_interval: Duration,
    pub max_retransmit: u8,
}

impl FastTimers {
    /// The shortest and longest intervals accepted (either way).
    pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
    pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);

    pub fn to_vendor(&self) -> VendorSpecificPayload {
        let mut data = Vec::with_capacity(9);
        data.extend_from_slice(&(self.echo_interval.as_millis() as u32).to_be_bytes());
        data.extend_from_slice(&(self.retransmit_interval.as_millis() as u32).to_be_bytes());
        data.push(self.max_retransmit);
        VendorSpecificPayload {
            vendor_id: ROOST_VENDOR_ID,
            element_id: FAST_TIMERS,
            data,
        }
    }

    /// `Ok(None)` when `v` is not this element (another vendor's, or another of ours); an
    /// error when it is but its value is malformed or out of range.
    pub fn from_vendor(v: &VendorSpecificPayload) -> Result<Option<FastTimers>, CapwapError> {
        if v.vendor_id != ROOST_VENDOR_ID || v.element_id != FAST_TIMERS {
            return Ok(None);
        }
        let d = &v.data;
        if d.len() != 9 {
            return Err(CapwapError::BadElementLength {
                element: "Roost Fast Timers",
                len: d.len(),
                expected: crate::error::Expected::Exactly(9),
            });
        }
        let ms =
            |b: &[u8]| Duration::from_millis(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64);
        let t = FastTimers {
            echo_interval: ms(&d[0..4]),
            retransmit_interval: ms(&d[4..8]),
            max_retransmit: d[8],
        };
        for (what, value) in [
            ("Roost Fast Timers echo interval (ms)", t.echo_interval),
            (
                "Roost Fast Timers retransmit interval (ms)",
                t.retransmit_interval,
            ),
        ] {
            if !(Self::MIN_INTERVAL..=Self::MAX_INTERVAL).contains(&value) {
                return Err(CapwapError::OutOfRange {
                    what,
                    value: value.as_millis() as u64,
                    max: Self::MAX_INTERVAL.as_millis() as u64,
                });
            }
        }
        Ok(Some(t))
    }

    /// Finds the element among a message's vendor payloads (the first valid one wins).
    pub fn find(payloads: &[VendorSpecificPayload]) -> Option<FastTimers> {
        payloads
            .iter()
            .find_map(|v| FastTimers::from_vendor(v).ok().flatten())
    }
}

/// Element id of [`LostSession`].
pub const LOST_SESSION: u16 = 2;

/// The session a Roost Controller Lost Request is about
/// ([`crate::messages::ControllerLostRequest`]): the Session ID of the AP's Join to the member
/// that died, from the cluster-wide AP table. An AP acts on the request only when it names
/// its current session, so a stale or stray request moves nothing.
///
/// Value: the 16-byte Session ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LostSession {
    pub session_id: [u8; 16],
}

impl LostSession {
    pub fn to_vendor(&self) -> VendorSpecificPayload {
        VendorSpecificPayload {
            vendor_id: ROOST_VENDOR_ID,
            element_id: LOST_SESSION,
            data: self.session_id.to_vec(),
        }
    }

    /// `Ok(None)` when `v` is not this element; an error when it is but is not 16 bytes.
    pub fn from_vendor(v: &VendorSpecificPayload) -> Result<Option<LostSession>, CapwapError> {
        if v.vendor_id != ROOST_VENDOR_ID || v.element_id != LOST_SESSION {
            return Ok(None);
        }
        let session_id =
            <[u8; 16]>::try_from(&v.data[..]).map_err(|_| CapwapError::BadElementLength {
                element: "Roost Lost Session",
                len: v.data.len(),
                expected: crate::error::Expected::Exactly(16),
            })?;
        Ok(Some(LostSession { session_id }))
    }

    /// Finds the element among a message's vendor payloads (the first valid one wins).
    pub fn find(payloads: &[VendorSpecificPayload]) -> Option<LostSession> {
        payloads
            .iter()
            .find_map(|v| LostSession::from_vendor(v).ok().flatten())
    }
}

/// Element id of [`StartDelay`].
pub const START_DELAY: u16 = 3;

/// WiNG's `adoption start-delay min <0-30> max <0-30>`, told in a Discovery Response: a Roost
/// WTP in a cold start (it has not been in Run since it booted) waits a time drawn from
/// [`StartDelay::min`, `StartDelay::max`] before it joins, so that a site's APs powering up at
/// once spread their Joins. Never after a controller loss: an AP that was in Run goes straight
/// to Join.
///
/// Value: min and max, whole seconds (u8 each, 0–30, min ≤ max).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartDelay {
    pub min: Duration,
    pub max: Duration,
}

impl StartDelay {
    /// WiNG's bound on either value.
    pub const MAX_SECS: u8 = 30;

    pub fn to_vendor(&self) -> VendorSpecificPayload {
        VendorSpecificPayload {
            vendor_id: ROOST_VENDOR_ID,
            element_id: START_DELAY,
            data: vec![self.min.as_secs() as u8, self.max.as_secs() as u8],
        }
    }

    /// `Ok(None)` when `v` is not this element; an error when it is but is malformed (not two
    /// bytes, a value above 30, min above max).
    pub fn from_vendor(v: &VendorSpecificPayload) -> Result<Option<StartDelay>, CapwapError> {
        if v.vendor_id != ROOST_VENDOR_ID || v.element_id != START_DELAY {
            return Ok(None);
        }
        let [min, max] = v.data[..] else {
            return Err(CapwapError::BadElementLength {
                element: "Roost Start Delay",
                len: v.data.len(),
                expected: crate::error::Expected::Exactly(2),
            });
        };
        for (what, value) in [
            ("Roost Start Delay min (s)", min),
            ("Roost Start Delay max (s)", max),
        ] {
            if value > Self::MAX_SECS {
                return Err(CapwapError::OutOfRange {
                    what,
                    value: u64::from(value),
                    max: u64::from(Self::MAX_SECS),
                });
            }
        }
        if min > max {
            return Err(CapwapError::OutOfRange {
                what: "Roost Start Delay min (s), above its max",
                value: u64::from(min),
                max: u64::from(max),
            });
        }
        Ok(Some(StartDelay {
            min: Duration::from_secs(min.into()),
            max: Duration::from_secs(max.into()),
        }))
    }

    /// Finds the element among a message's vendor payloads (the first valid one wins).
    pub fn find(payloads: &[VendorSpecificPayload]) -> Option<StartDelay> {
        payloads
            .iter()
            .find_map(|v| StartDelay::from_vendor(v).ok().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_delay_round_trips_and_refuses_what_is_malformed() {
        let d = StartDelay {
            min: Duration::from_secs(5),
            max: Duration::from_secs(20),
        };
        let v = d.to_vendor();
        assert_eq!(
            (v.vendor_id, v.element_id, &v.data[..]),
            (ROOST_VENDOR_ID, 3, &[5, 20][..])
        );
        assert_eq!(StartDelay::from_vendor(&v).unwrap(), Some(d));
        assert_eq!(StartDelay::find(std::slice::from_ref(&v)), Some(d));
        assert_eq!(
            FastTimers::from_vendor(&v).unwrap(),
            None,
            "not the other element"
        );
        for bad in [
            vec![5],
            vec![5, 20, 0],
            vec![31, 31],
            vec![0, 31],
            vec![9, 8],
        ] {
            let b = VendorSpecificPayload {
                data: bad.clone(),
                ..v.clone()
            };
            assert!(StartDelay::from_vendor(&b).is_err(), "{bad:?}");
            assert_eq!(StartDelay::find(&[b]), None);
        }
    }

    /// The whole datagram, byte for byte: CAPWAP header (RFC 5415 4.3, HLEN 2, WBID 1),
    /// control header with the vendor message type 32473 << 8 | 1 (Msg Element Length 29: 3 +
    /// the element), and one Vendor Specific
    /// Payload element (type 37: vendor id, element id, value).
    #[test]
    fn a_controller_lost_request_is_the_golden_bytes() {
        use crate::messages::ControllerLostRequest;
        use crate::{ControlMessage, ControlPacket, MessageBody};
        let id: [u8; 16] = std::array::from_fn(|i| i as u8);
        let body = ControllerLostRequest {
            vendor_specific: vec![LostSession { session_id: id }.to_vendor()],
            ..Default::default()
        };
        let packet = ControlPacket::new(ControlMessage::new(
            7,
            MessageBody::ControllerLostRequest(body),
        ));
        let bytes = packet.encode().unwrap();
        let mut want = vec![0x00, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00];
        want.extend_from_slice(&[0x00, 0x7E, 0xD9, 0x01, 0x07, 0x00, 0x1D, 0x00]);
        want.extend_from_slice(&[0x00, 0x25, 0x00, 0x16, 0x00, 0x00, 0x7E, 0xD9, 0x00, 0x02]);
        want.extend_from_slice(&id);
        assert_eq!(bytes, want);
        let back = ControlPacket::decode(&bytes).unwrap();
        let MessageBody::ControllerLostRequest(b) = back.message.body else {
            panic!("decoded as {:?}", back.message.body);
        };
        assert_eq!(
            LostSession::find(&b.vendor_specific),
            Some(LostSession { session_id: id })
        );
        let short = VendorSpecificPayload {
            data: vec![0; 15],
            ..LostSession { session_id: id }.to_vendor()
        };
        assert!(LostSession::from_vendor(&short).is_err());
        assert_eq!(LostSession::find(&[short]), None);
    }

    #[test]
    fn round_trips_and_refuses_what_is_malformed() {
        let t = FastTimers {
            echo_interval: Duration::from_millis(1000),
            retransmit_interval: Duration::from_millis(300),
            max_retransmit: 1,
        };
        let v = t.to_vendor();
        assert_eq!(v.data, [0, 0, 3, 0xE8, 0, 0, 1, 0x2C, 1]);
        assert_eq!(FastTimers::from_vendor(&v).unwrap(), Some(t));
        assert_eq!(FastTimers::find(std::slice::from_ref(&v)), Some(t));
        let other = VendorSpecificPayload {
            vendor_id: 9,
            ..v.clone()
        };
        assert_eq!(FastTimers::from_vendor(&other).unwrap(), None);
        let short = VendorSpecificPayload {
            data: vec![0; 8],
            ..v.clone()
        };
        assert!(FastTimers::from_vendor(&short).is_err());
        let zero = VendorSpecificPayload {
            data: vec![0; 9],
            ..v
        };
        assert!(FastTimers::from_vendor(&zero).is_err());
        assert_eq!(FastTimers::find(&[zero]), None);
    }
}
