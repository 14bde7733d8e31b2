//! CAPWAP datagrams in and out in batches (`recvmmsg` / `sendmmsg`).
//!
//! 25,600 APs echoing once a second are 25,600 datagrams in and as many out per second: one
//! system call per datagram was a large share of the controller's CPU, and under a Discovery
//! flood the time spent per read is what lets the socket buffer overflow and the APs' echoes
//! drop with the flood. One call moves up to [`BATCH`] datagrams.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::socket::{recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrIn};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams per system call.
pub const BATCH: usize = 32;
/// The largest datagram read whole; a longer one is reported truncated (and is malformed
/// to the codec: CAPWAP control messages here are a few hundred bytes, jumbo frames 9,000).
pub const SLOT: usize = 9216;

/// One datagram read: its source, its length, and whether it was longer than [`SLOT`].
#[derive(Clone, Copy, Debug)]
struct Got {
    from: SocketAddr,
    len: usize,
}

/// Reads datagrams [`BATCH`] at a time into fixed slots.
pub struct Receiver {
    slots: Vec<u8>,
    headers: MultiHeaders<SockaddrIn>,
    got: Vec<Got>,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver {
            slots: vec![0; BATCH * SLOT],
            headers: MultiHeaders::preallocate(BATCH, None),
            got: Vec::with_capacity(BATCH),
        }
    }
}

impl Receiver {
    /// Reads what the socket has queued, up to [`BATCH`] datagrams, without waiting; the
    /// count read (0: nothing queued, and the socket's readiness is cleared). A datagram
    /// longer than [`SLOT`] is handed on cut short.
    pub fn try_recv(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        self.got.clear();
        let fd = socket.as_raw_fd();
        let (slots, headers, got) = (&mut self.slots, &mut self.headers, &mut self.got);
        let r = socket.try_io(Interest::READABLE, || {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = slots
                .chunks_exact_mut(SLOT)
                .map(|c| [IoSliceMut::new(c)])
                .collect();
            let results = recvmmsg(fd, headers, iovs.iter_mut(), MsgFlags::MSG_DONTWAIT, None)
                .map_err(std::io::Error::from)?;
            for m in results {
                let Some(from) = m.address else { continue };
                got.push(Got {
                    from: SocketAddr::V4(SocketAddrV4::from(from)),
                    len: m.bytes.min(SLOT),
                });
            }
            Ok(())
        });
        match r {
            Ok(()) => Ok(self.got.len()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Hands `f` every datagram queued, up to about `max` (whole batches), in arrival order.
    pub fn drain(&mut self, socket: &UdpSocket, max: usize, mut f: impl FnMut(SocketAddr, &[u8])) {
        let mut read = 0;
        while read < max {
            match self.try_recv(socket) {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
            for (from, d) in self.datagrams() {
                f(from, d);
            }
        }
    }

    /// The datagrams the last [`Receiver::try_recv`] read, in arrival order.
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        self.got
            .iter()
            .zip(self.slots.chunks_exact(SLOT))
            .map(|(g, slot)| (g.from, &slot[..g.len]))
    }
}

/// Datagrams queued for one socket and sent [`BATCH`] at a time, in order.
pub struct Sender {
    queue: Vec<(SocketAddr, Vec<u8>)>,
    headers: MultiHeaders<SockaddrIn>,
}

impl Default for Sender {
    fn default() -> Self {
        Sender {
            queue: Vec::new(),
            headers: MultiHeaders::preallocate(BATCH, None),
        }
    }
}

impl Sender {
    pub fn push(&mut self, to: SocketAddr, datagram: Vec<u8>) {
        self.queue.push((to, datagram));
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Sends everything queued: waits while the socket's send buffer is full; a datagram the
    /// kernel refuses (an unreachable address) is dropped, as a lost datagram would be.
    pub async fn flush(&mut self, socket: &UdpSocket) {
        let mut sent = 0;
        while sent < self.queue.len() {
            let (to, _) = &self.queue[sent];
            let SocketAddr::V4(_) = to else {
                // Not on a CAPWAP socket bound to IPv4; sent alone all the same.
                let (to, d) = &self.queue[sent];
                let _ = socket.send_to(d, *to).await;
                sent += 1;
                continue;
            };
            match self.try_send(socket, sent) {
                Ok(n) => sent += n.max(1),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let _ = socket.writable().await;
                }
                // The first datagram of the batch was refused: it goes, the rest are retried.
                Err(_) => sent += 1,
            }
        }
        self.queue.clear();
    }

    /// One `sendmmsg` of the IPv4 datagrams from `start` on: how many the kernel took.
    fn try_send(&mut self, socket: &UdpSocket, start: usize) -> std::io::Result<usize> {
        let batch: Vec<&(SocketAddr, Vec<u8>)> = self.queue[start..]
            .iter()
            .take_while(|(to, _)| to.is_ipv4())
            .take(BATCH)
            .collect();
        let addrs: Vec<Option<SockaddrIn>> = batch
            .iter()
            .map(|(to, _)| match to {
                SocketAddr::V4(v4) => Some(SockaddrIn::from(*v4)),
                SocketAddr::V6(_) => None,
            })
            .collect();
        let iovs: Vec<[IoSlice<'_>; 1]> = batch.iter().map(|(_, d)| [IoSlice::new(d)]).collect();
        let fd = socket.as_raw_fd();
        let headers = &mut self.headers;
        socket.try_io(Interest::WRITABLE, || {
            let cmsgs: [ControlMessage<'_>; 0] = [];
            match sendmmsg(fd, headers, &iovs, &addrs, cmsgs, MsgFlags::MSG_DONTWAIT) {
                Ok(results) => Ok(results.count()),
                Err(Errno::EAGAIN) => Err(std::io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(e.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many datagrams from many sources, through both halves, arrive whole and in order.
    #[tokio::test]
    async fn a_batch_round_trips_in_order() {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = b.local_addr().unwrap();
        let mut tx = Sender::default();
        for i in 0..100u32 {
            tx.push(to, i.to_be_bytes().repeat(1 + i as usize % 7));
        }
        tx.flush(&a).await;
        let mut rx = Receiver::default();
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while seen.len() < 100 && tokio::time::Instant::now() < deadline {
            b.readable().await.unwrap();
            rx.try_recv(&b).unwrap();
            for (from, d) in rx.datagrams() {
                assert_eq!(from, a.local_addr().unwrap());
                seen.push(d.to_vec());
            }
        }
        let want: Vec<Vec<u8>> = (0..100u32)
            .map(|i| i.to_be_bytes().repeat(1 + i as usize % 7))
            .collect();
        assert_eq!(seen, want);
    }

    /// A datagram longer than a slot is cut to the slot, not spilled into the next one.
    #[tokio::test]
    async fn an_oversized_datagram_is_cut_to_its_slot() {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = b.local_addr().unwrap();
        a.send_to(&vec![7u8; SLOT + 100], to).await.unwrap();
        a.send_to(b"next", to).await.unwrap();
        let mut rx = Receiver::default();
        let mut seen = Vec::new();
        for _ in 0..100 {
            b.readable().await.unwrap();
            rx.try_recv(&b).unwrap();
            seen.extend(rx.datagrams().map(|(_, d)| d.to_vec()));
            if seen.len() == 2 {
                break;
            }
        }
        assert_eq!(seen[0].len(), SLOT);
        assert_eq!(seen[1], b"next");
    }
}
