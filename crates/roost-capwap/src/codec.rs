//! Byte-level helpers shared by the header, element and message codecs: a bounds-checked
//! reader (every read is a `Result`, so no decoder can index past the end) and big-endian
//! writers.

use crate::error::{CapwapError, Expected};

/// Big-endian writes onto a growing buffer.
pub(crate) trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_bytes(&mut self, v: &[u8]);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_bytes(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
}

/// Reads from a slice; running out is [`CapwapError::Truncated`] naming `what`.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    /// Names what a later truncation is reported against.
    pub(crate) fn set_what(&mut self, what: &'static str) {
        self.what = what;
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CapwapError> {
        if n > self.buf.len() {
            return Err(CapwapError::Truncated {
                what: self.what,
                need: n,
                have: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], CapwapError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CapwapError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, CapwapError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, CapwapError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
}

/// Fails unless `value` is exactly `n` bytes: the check for every fixed-layout element.
pub(crate) fn exact(element: &'static str, value: &[u8], n: usize) -> Result<(), CapwapError> {
    if value.len() != n {
        return Err(CapwapError::BadElementLength {
            element,
            len: value.len(),
            expected: Expected::Exactly(n),
        });
    }
    Ok(())
}

/// Fails unless `value` is at least `n` bytes.
pub(crate) fn at_least(element: &'static str, value: &[u8], n: usize) -> Result<(), CapwapError> {
    if value.len() < n {
        return Err(CapwapError::BadElementLength {
            element,
            len: value.len(),
            expected: Expected::AtLeast(n),
        });
    }
    Ok(())
}

/// Fails if `len` exceeds `max`; used on both sides so that what encodes also decodes.
pub(crate) fn at_most(what: &'static str, len: usize, max: usize) -> Result<(), CapwapError> {
    if len > max {
        return Err(CapwapError::TooLong { what, len, max });
    }
    Ok(())
}

/// Checks a text field's length (in bytes, as the RFC counts) on encode and decode alike.
pub(crate) fn check_text(
    element: &'static str,
    len: usize,
    min: usize,
    max: usize,
) -> Result<(), CapwapError> {
    if len < min {
        return Err(CapwapError::BadElementLength {
            element,
            len,
            expected: Expected::AtLeast(min),
        });
    }
    at_most(element, len, max)
}

/// Decodes a UTF-8 text field of `min..=max` bytes.
pub(crate) fn text(
    element: &'static str,
    bytes: &[u8],
    min: usize,
    max: usize,
) -> Result<String, CapwapError> {
    check_text(element, bytes.len(), min, max)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| CapwapError::InvalidUtf8 { element })
}

/// Fails if `value` does not fit in a field whose largest value is `max` (5-bit radio IDs,
/// 13-bit fragment offsets, ...).
pub(crate) fn fits(what: &'static str, value: u64, max: u64) -> Result<(), CapwapError> {
    if value > max {
        return Err(CapwapError::OutOfRange { what, value, max });
    }
    Ok(())
}

/// Writes one TLV: type, a length back-filled after `body` ran, value. Refuses values longer
/// than the 16-bit length field.
pub(crate) fn write_tlv(
    out: &mut Vec<u8>,
    element_type: u16,
    name: &'static str,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), CapwapError>,
) -> Result<(), CapwapError> {
    out.put_u16(element_type);
    let at = out.len();
    out.put_u16(0);
    body(out)?;
    let len = out.len() - at - 2;
    let len16 = u16::try_from(len).map_err(|_| CapwapError::TooLong {
        what: name,
        len,
        max: u16::MAX as usize,
    })?;
    out[at..at + 2].copy_from_slice(&len16.to_be_bytes());
    Ok(())
}

/// Splits a run of TLVs into `(type, value)` pairs, checking every length against what is
/// left.
pub(crate) fn split_tlvs(mut bytes: &[u8]) -> Result<Vec<(u16, &[u8])>, CapwapError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let mut r = Reader::new(bytes, "message element header");
        let element_type = r.u16()?;
        let len = r.u16()? as usize;
        let remaining = r.remaining();
        if len > remaining {
            return Err(CapwapError::ElementOverrun {
                element_type,
                len,
                remaining,
            });
        }
        let value = r.take(len)?;
        out.push((element_type, value));
        bytes = r.rest();
    }
    Ok(out)
}
