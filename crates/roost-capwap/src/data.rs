//! The data channel (UDP 5247, RFC 5415 4.4): keep-alives and tunnelled frames.
//!
//! A keep-alive is a packet with the K flag and, after the header, a Msg Element Length
//! (which here counts itself, so its minimum is 2: unlike the control header's) and
//! elements, of which Session ID is mandatory. The WTP sends one every DataChannelKeepAlive
//! (30 s); the AC echoes it unchanged, and the first one whose Session ID matches the Join's
//! moves the session to Run.

use crate::codec::{split_tlvs, Put, Reader};
use crate::elements::{Element, ElementBody, SessionId};
use crate::error::CapwapError;
use crate::header::CapwapHeader;

const KEEP_ALIVE: &str = "Data Channel Keep-Alive";

/// The payload of a data channel keep-alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepAlive {
    pub session_id: SessionId,
    /// Anything else the sender put in; the RFC defines nothing else.
    pub other_elements: Vec<Element>,
}

impl KeepAlive {
    pub fn new(session_id: SessionId) -> KeepAlive {
        KeepAlive {
            session_id,
            other_elements: Vec::new(),
        }
    }

    fn encode_payload(&self, out: &mut Vec<u8>) -> Result<(), CapwapError> {
        let start = out.len();
        out.put_u16(0);
        self.session_id.encode_element(out)?;
        for e in &self.other_elements {
            if e.element_type() == SessionId::TYPE {
                return Err(CapwapError::InvalidElement {
                    element: SessionId::NAME,
                    reason: "the keep-alive has a field for it; it cannot go in other_elements",
                });
            }
            e.encode(out)?;
        }
        let len = out.len() - start;
        let len16 = u16::try_from(len).map_err(|_| CapwapError::TooLong {
            what: KEEP_ALIVE,
            len,
            max: u16::MAX.into(),
        })?;
        out[start..start + 2].copy_from_slice(&len16.to_be_bytes());
        Ok(())
    }

    fn decode_payload(payload: &[u8]) -> Result<KeepAlive, CapwapError> {
        let mut r = Reader::new(payload, "keep-alive Message Element Length");
        let declared = usize::from(r.u16()?);
        if declared != payload.len() {
            return Err(CapwapError::MessageLengthMismatch {
                declared,
                actual: payload.len(),
            });
        }
        let mut session_id = None;
        let mut other_elements = Vec::new();
        for (t, v) in split_tlvs(r.rest())? {
            match Element::decode(t, v)? {
                Element::SessionId(id) => {
                    if session_id.replace(id).is_some() {
                        return Err(CapwapError::DuplicateElement {
                            message: KEEP_ALIVE,
                            element: SessionId::NAME,
                        });
                    }
                }
                other => other_elements.push(other),
            }
        }
        Ok(KeepAlive {
            session_id: session_id.ok_or(CapwapError::MissingElement {
                message: KEEP_ALIVE,
                element: SessionId::NAME,
            })?,
            other_elements,
        })
    }

    /// The whole datagram, with the RFC's keep-alive header ([`CapwapHeader::keep_alive`]).
    pub fn encode(&self) -> Result<Vec<u8>, CapwapError> {
        DataPacket {
            header: CapwapHeader::keep_alive(),
            body: DataBody::KeepAlive(self.clone()),
        }
        .encode()
    }

    /// Decodes a datagram that must be a keep-alive.
    pub fn decode(datagram: &[u8]) -> Result<KeepAlive, CapwapError> {
        match DataPacket::decode(datagram)?.body {
            DataBody::KeepAlive(k) => Ok(k),
            DataBody::Frame(_) => Err(CapwapError::KeepAliveFlagMismatch),
        }
    }
}

/// What a data packet carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataBody {
    KeepAlive(KeepAlive),
    /// A tunnelled frame (native 802.11 if the header's T flag is set, else 802.3), or a
    /// fragment of one: the header says which. Reassembly is the caller's.
    Frame(Vec<u8>),
}

/// A whole data datagram (the UDP 5247 payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPacket {
    /// `keep_alive` must be set exactly when the body is a keep-alive.
    pub header: CapwapHeader,
    pub body: DataBody,
}

impl DataPacket {
    pub fn encode(&self) -> Result<Vec<u8>, CapwapError> {
        let is_keep_alive = matches!(self.body, DataBody::KeepAlive(_));
        if self.header.keep_alive != is_keep_alive {
            return Err(CapwapError::KeepAliveFlagMismatch);
        }
        if is_keep_alive && self.header.fragment {
            return Err(CapwapError::Fragmented {
                id: self.header.fragment_id,
                offset: self.header.fragment_offset,
            });
        }
        let mut out = Vec::with_capacity(self.header.encoded_len() + 32);
        self.header.encode(&mut out)?;
        match &self.body {
            DataBody::KeepAlive(k) => k.encode_payload(&mut out)?,
            DataBody::Frame(f) => out.put_bytes(f),
        }
        Ok(out)
    }

    /// Header fields other than K are not checked on a keep-alive: the RFC wants them zero,
    /// but FreeWTP sends WBID 1.
    pub fn decode(datagram: &[u8]) -> Result<DataPacket, CapwapError> {
        let (header, hlen) = CapwapHeader::decode(datagram)?;
        let payload = &datagram[hlen..];
        let body = if header.keep_alive {
            if header.fragment {
                return Err(CapwapError::Fragmented {
                    id: header.fragment_id,
                    offset: header.fragment_offset,
                });
            }
            DataBody::KeepAlive(KeepAlive::decode_payload(payload)?)
        } else {
            DataBody::Frame(payload.to_vec())
        };
        Ok(DataPacket { header, body })
    }
}
