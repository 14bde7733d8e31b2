//! Reassembly of chunked transfers: snapshots (full configuration transfer) and superseded
//! reports.

use roost_wire::{RequestRecord, RevisionId};
use std::collections::BTreeMap;

/// The one chunker of both transfers: `bytes` as (offset, piece) of at most `size` bytes each,
/// in order. An empty transfer is one empty piece at offset 0, so that it is still sent (and
/// [`Assembly::is_complete`] accepts it).
pub(super) fn chunks(bytes: &[u8], size: usize) -> impl Iterator<Item = (u32, &[u8])> {
    let empty = bytes.is_empty().then_some((0, &bytes[..0]));
    empty.into_iter().chain(
        bytes
            .chunks(size)
            .enumerate()
            .map(move |(k, piece)| ((k * size) as u32, piece)),
    )
}

/// Chunks received so far of the transfer at `head` (for a snapshot, with the lineage and
/// request ids it carries; empty for a superseded report).
#[derive(Debug)]
pub(super) struct Assembly {
    pub head: RevisionId,
    pub lineage: Vec<RevisionId>,
    pub requests: Vec<RequestRecord>,
    pub total_len: u32,
    chunks: BTreeMap<u32, Vec<u8>>,
    stored: usize,
}

impl Assembly {
    pub fn new(
        head: RevisionId,
        lineage: Vec<RevisionId>,
        requests: Vec<RequestRecord>,
        total_len: u32,
    ) -> Assembly {
        Assembly {
            head,
            lineage,
            requests,
            total_len,
            chunks: BTreeMap::new(),
            stored: 0,
        }
    }

    /// Stores one chunk; a chunk outside `0..total_len` is refused, a repeated one ignored.
    pub fn insert(&mut self, offset: u32, data: Vec<u8>) -> Result<(), String> {
        let end = offset as u64 + data.len() as u64;
        if end > self.total_len as u64 {
            return Err(format!(
                "chunk {}..{} beyond total length {}",
                offset, end, self.total_len
            ));
        }
        if data.is_empty() && self.total_len != 0 {
            return Ok(());
        }
        if self.chunks.contains_key(&offset) {
            return Ok(());
        }
        // Overlapping chunks from a misbehaving sender must not grow memory without bound.
        if self.stored + data.len() > 2 * self.total_len as usize + 64 * 1024 {
            return Err("too much overlapping chunk data".to_string());
        }
        self.stored += data.len();
        self.chunks.insert(offset, data);
        Ok(())
    }

    /// Bytes `0..total_len` are all covered.
    pub fn is_complete(&self) -> bool {
        if self.total_len == 0 {
            return self.chunks.contains_key(&0);
        }
        let mut covered: u64 = 0;
        for (&offset, data) in &self.chunks {
            if offset as u64 > covered {
                return false;
            }
            covered = covered.max(offset as u64 + data.len() as u64);
        }
        covered >= self.total_len as u64
    }

    /// The reassembled bytes (call only when complete).
    pub fn into_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.total_len as usize);
        for (offset, data) in self.chunks {
            let offset = offset as usize;
            if offset + data.len() > out.len() {
                out.extend_from_slice(&data[out.len() - offset..]);
            }
        }
        out
    }
}
