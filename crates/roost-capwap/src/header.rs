//! The CAPWAP preamble and transport header (RFC 5415 4.1–4.3), common to the control and
//! the data channel.
//!
//! ```text
//!  0                   1                   2                   3
//! |Version| Type  |  HLEN   |   RID   | WBID    |T|F|L|W|M|K|Flags|
//! |          Fragment ID          |     Frag Offset         |Rsvd |
//! | (optional) Radio MAC: length(1) + MAC(6|8), zero-padded to 4   |
//! | (optional) Wireless Specific Info: length(1) + data, padded    |
//! ```
//!
//! HLEN counts 4-byte words including the preamble and the optional fields, so it is
//! computed on encode, and on decode it must equal what the fields take: a mismatch is
//! [`CapwapError::HeaderLengthMismatch`] (Wireshark's "Wrong calculate length").

use crate::codec::{fits, Put, Reader};
use crate::error::CapwapError;
use crate::{PROTOCOL_VERSION, WBID_IEEE80211};
use std::fmt;

/// What follows the 1-byte preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// Type 0: a plaintext CAPWAP header.
    Capwap,
    /// Type 1: a CAPWAP DTLS header and a DTLS record (not implemented here yet).
    Dtls,
}

/// Reads only the preamble, so a receive loop can route DTLS records before parsing.
pub fn peek_preamble(datagram: &[u8]) -> Result<PayloadKind, CapwapError> {
    let Some(&preamble) = datagram.first() else {
        return Err(CapwapError::Truncated {
            what: "CAPWAP preamble",
            need: 1,
            have: 0,
        });
    };
    let version = preamble >> 4;
    if version != PROTOCOL_VERSION {
        return Err(CapwapError::UnsupportedVersion(version));
    }
    match preamble & 0x0F {
        0 => Ok(PayloadKind::Capwap),
        1 => Ok(PayloadKind::Dtls),
        other => Err(CapwapError::UnknownPayloadType(other)),
    }
}

/// An EUI-48 or EUI-64 address, the two lengths RFC 5415 allows wherever a MAC address has
/// its own length byte (header Radio MAC, ACLs, stations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacAddress {
    Eui48([u8; 6]),
    Eui64([u8; 8]),
}

impl MacAddress {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            MacAddress::Eui48(b) => b,
            MacAddress::Eui64(b) => b,
        }
    }

    /// `None` unless `bytes` is 6 or 8 long.
    pub fn from_bytes(bytes: &[u8]) -> Option<MacAddress> {
        match bytes.len() {
            6 => bytes.try_into().ok().map(MacAddress::Eui48),
            8 => bytes.try_into().ok().map(MacAddress::Eui64),
            _ => None,
        }
    }

    /// Reads `length(1) + MAC`, the layout every length-prefixed MAC in RFC 5415 uses.
    pub(crate) fn read_prefixed(
        r: &mut Reader<'_>,
        what: &'static str,
    ) -> Result<MacAddress, CapwapError> {
        let len = r.u8()? as usize;
        let bytes = r.take(len)?;
        MacAddress::from_bytes(bytes).ok_or(CapwapError::BadMacLength { what, len })
    }

    pub(crate) fn write_prefixed(&self, out: &mut Vec<u8>) {
        out.put_u8(self.as_bytes().len() as u8);
        out.put_bytes(self.as_bytes());
    }
}

impl From<[u8; 6]> for MacAddress {
    fn from(b: [u8; 6]) -> Self {
        MacAddress::Eui48(b)
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The CAPWAP header. `HLEN`, `W` and `M` are not stored: they follow from the optional
/// fields being present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapwapHeader {
    /// RID, 5 bits: the radio a data frame belongs to (1–31); 0 on control packets.
    pub radio_id: u8,
    /// WBID, 5 bits: 1 = IEEE 802.11 ([`WBID_IEEE80211`]).
    pub wbid: u8,
    /// T: the payload is a native frame of the binding (802.11) rather than 802.3.
    pub native_frame: bool,
    /// F: this packet is a fragment.
    pub fragment: bool,
    /// L: the last fragment (meaningful only with F).
    pub last_fragment: bool,
    /// K: a data channel keep-alive.
    pub keep_alive: bool,
    pub fragment_id: u16,
    /// 13 bits, in units of 8 octets.
    pub fragment_offset: u16,
    /// M flag and field: the MAC of the radio that received the frame.
    pub radio_mac: Option<MacAddress>,
    /// W flag and field: binding-specific per-packet data. For 802.11 it is a [`FrameInfo`]
    /// (WTP to AC) or [`DestinationWlans`] (AC to WTP). Its length byte allows 255, but the
    /// 5-bit HLEN caps the whole header at 124 bytes, so at most 115 bytes fit (107 with an
    /// EUI-48 Radio MAC).
    pub wireless_info: Option<Vec<u8>>,
}

const FLAG_T: u32 = 0x100;
const FLAG_F: u32 = 0x80;
const FLAG_L: u32 = 0x40;
const FLAG_W: u32 = 0x20;
const FLAG_M: u32 = 0x10;
const FLAG_K: u32 = 0x08;

/// Bytes of the fixed part: preamble, the 24-bit word, fragment ID and offset.
pub const HEADER_MIN_LEN: usize = 8;

fn padded(len: usize) -> usize {
    len.div_ceil(4) * 4
}

impl CapwapHeader {
    /// The header of a control packet: WBID 1 (IEEE 802.11), RID 0, no flags, no optional
    /// fields. FreeWTP refuses 802.11 binding messages whose header WBID is not 1, so every
    /// control message carries it.
    pub fn control() -> CapwapHeader {
        CapwapHeader {
            radio_id: 0,
            wbid: WBID_IEEE80211,
            native_frame: false,
            fragment: false,
            last_fragment: false,
            keep_alive: false,
            fragment_id: 0,
            fragment_offset: 0,
            radio_mac: None,
            wireless_info: None,
        }
    }

    /// The header of a data keep-alive: per RFC 5415 4.4.1 every field but HLEN and K is
    /// zero (so WBID is 0, although FreeWTP sends 1; receivers here accept either).
    pub fn keep_alive() -> CapwapHeader {
        CapwapHeader {
            wbid: 0,
            keep_alive: true,
            ..CapwapHeader::control()
        }
    }

    /// Header length in bytes, always a multiple of 4 (HLEN × 4).
    pub fn encoded_len(&self) -> usize {
        HEADER_MIN_LEN
            + self.radio_mac.map_or(0, |m| padded(1 + m.as_bytes().len()))
            + self
                .wireless_info
                .as_ref()
                .map_or(0, |w| padded(1 + w.len()))
    }

    /// Appends the header. Fails if a field does not fit its bit width.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        fits("header RID", self.radio_id.into(), 31)?;
        fits("header WBID", self.wbid.into(), 31)?;
        fits(
            "header fragment offset",
            self.fragment_offset.into(),
            0x1FFF,
        )?;
        if let Some(w) = &self.wireless_info {
            crate::codec::at_most("wireless specific information", w.len(), 255)?;
        }
        let hlen = self.encoded_len() / 4;
        // At most 8 + 12 + 256 bytes = 69 words; HLEN has 5 bits (31 words).
        fits("header length (HLEN words)", hlen as u64, 31)?;

        let mut word: u32 = (hlen as u32) << 19;
        word |= u32::from(self.radio_id) << 14;
        word |= u32::from(self.wbid) << 9;
        for (set, flag) in [
            (self.native_frame, FLAG_T),
            (self.fragment, FLAG_F),
            (self.last_fragment, FLAG_L),
            (self.wireless_info.is_some(), FLAG_W),
            (self.radio_mac.is_some(), FLAG_M),
            (self.keep_alive, FLAG_K),
        ] {
            if set {
                word |= flag;
            }
        }
        out.put_u8(PROTOCOL_VERSION << 4);
        out.put_bytes(&word.to_be_bytes()[1..]);
        out.put_u16(self.fragment_id);
        out.put_u16(self.fragment_offset << 3);
        let mut optional = |field: &[u8]| {
            let start = out.len();
            out.put_u8(field.len() as u8);
            out.put_bytes(field);
            out.resize(start + padded(1 + field.len()), 0);
        };
        if let Some(mac) = &self.radio_mac {
            optional(mac.as_bytes());
        }
        if let Some(w) = &self.wireless_info {
            optional(w);
        }
        Ok(())
    }

    /// Parses the header at the start of `datagram`; returns it and its length in bytes
    /// (where the payload starts). Reserved bits and padding are ignored, as the RFC asks.
    pub fn decode(datagram: &[u8]) -> Result<(CapwapHeader, usize), CapwapError> {
        match peek_preamble(datagram)? {
            PayloadKind::Capwap => {}
            PayloadKind::Dtls => return Err(CapwapError::DtlsNotSupported),
        }
        let mut r = Reader::new(datagram, "CAPWAP header");
        r.take(HEADER_MIN_LEN)?;
        let mut r = Reader::new(&datagram[1..], "CAPWAP header");
        let b = r.array::<3>()?;
        let word = u32::from_be_bytes([0, b[0], b[1], b[2]]);
        let hlen = ((word >> 19) & 0x1F) as u8;
        if hlen < 2 {
            return Err(CapwapError::HeaderTooShort { hlen });
        }
        let fragment_id = r.u16()?;
        let fragment_offset = r.u16()? >> 3;

        let radio_mac = if word & FLAG_M != 0 {
            let field = read_optional(&mut r, "header radio MAC address")?;
            Some(
                MacAddress::from_bytes(field).ok_or(CapwapError::BadMacLength {
                    what: "header radio MAC address",
                    len: field.len(),
                })?,
            )
        } else {
            None
        };
        let wireless_info = if word & FLAG_W != 0 {
            Some(read_optional(&mut r, "header wireless specific information")?.to_vec())
        } else {
            None
        };
        let header = CapwapHeader {
            radio_id: ((word >> 14) & 0x1F) as u8,
            wbid: ((word >> 9) & 0x1F) as u8,
            native_frame: word & FLAG_T != 0,
            fragment: word & FLAG_F != 0,
            last_fragment: word & FLAG_L != 0,
            keep_alive: word & FLAG_K != 0,
            fragment_id,
            fragment_offset,
            radio_mac,
            wireless_info,
        };
        let declared = usize::from(hlen) * 4;
        let actual = header.encoded_len();
        if declared != actual {
            return Err(CapwapError::HeaderLengthMismatch { declared, actual });
        }
        Ok((header, declared))
    }
}

/// Reads one optional header field, `length(1) + data`, and its zero padding.
fn read_optional<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], CapwapError> {
    r.set_what(what);
    let len = r.u8()? as usize;
    let field = r.take(len)?;
    r.take(padded(1 + len) - 1 - len)?;
    r.set_what("CAPWAP header");
    Ok(field)
}

/// IEEE 802.11 Frame Info (RFC 5416 4), the wireless information a WTP attaches to a frame
/// it received over the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// dBm.
    pub rssi: i8,
    /// dB.
    pub snr: i8,
    /// In units of 100 kbit/s (55 = 5.5 Mbit/s).
    pub data_rate: u16,
}

impl FrameInfo {
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = vec![self.rssi as u8, self.snr as u8];
        out.put_u16(self.data_rate);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<FrameInfo, CapwapError> {
        crate::codec::exact("IEEE 802.11 Frame Info", bytes, 4)?;
        Ok(FrameInfo {
            rssi: bytes[0] as i8,
            snr: bytes[1] as i8,
            data_rate: u16::from_be_bytes([bytes[2], bytes[3]]),
        })
    }
}

/// IEEE 802.11 Destination WLANs (RFC 5416 4), the wireless information an AC attaches to a
/// broadcast or multicast frame so the WTP replicates it onto those WLANs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationWlans {
    /// WLAN ID n (1–16) is bit n-1 counted from the least significant bit.
    pub wlan_bitmap: u16,
}

impl DestinationWlans {
    /// The bitmap for the given WLAN IDs; IDs outside 1–16 are ignored.
    pub fn of(wlan_ids: &[u8]) -> DestinationWlans {
        let wlan_bitmap = wlan_ids
            .iter()
            .filter(|id| (1..=16).contains(*id))
            .fold(0u16, |m, id| m | 1 << (id - 1));
        DestinationWlans { wlan_bitmap }
    }

    pub fn contains(self, wlan_id: u8) -> bool {
        (1..=16).contains(&wlan_id) && self.wlan_bitmap & (1 << (wlan_id - 1)) != 0
    }

    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4);
        out.put_u16(self.wlan_bitmap);
        out.put_u16(0);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<DestinationWlans, CapwapError> {
        crate::codec::exact("IEEE 802.11 Destination WLANs", bytes, 4)?;
        Ok(DestinationWlans {
            wlan_bitmap: u16::from_be_bytes([bytes[0], bytes[1]]),
        })
    }
}
