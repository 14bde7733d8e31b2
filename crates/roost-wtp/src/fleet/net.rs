//! One UDP socket for many source addresses: bound to `0.0.0.0:<port>`, it sends each datagram
//! from the AP's own address (IP_PKTINFO `ipi_spec_dst` on `sendmsg`) and tells, for each
//! datagram received, which address it was sent to (IP_PKTINFO `ipi_addr` on `recvmsg`), so
//! 25,600 APs need two sockets, not 51,200. Every 127.x.y.z address is local on Linux, so the
//! loopback range needs no configuration.

use nix::sys::socket::{
    getsockopt, recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned,
    MsgFlags, SockaddrIn,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::Interest;

/// A non-blocking UDP socket with per-datagram addresses.
pub(crate) struct Channel {
    sock: tokio::net::UdpSocket,
    /// The receive buffer the kernel granted (bytes, as `SO_RCVBUF` reports it).
    pub(crate) recv_buffer: usize,
    /// Datagrams the kernel dropped because the receive buffer was full (SO_RXQ_OVFL, as
    /// last reported with a datagram).
    pub(crate) kernel_drops: AtomicU32,
}

/// One datagram received.
pub(crate) struct Received {
    pub(crate) len: usize,
    pub(crate) from: SocketAddr,
    /// The address it was sent to: which AP it is for.
    pub(crate) to: Ipv4Addr,
}

fn errno(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl Channel {
    /// Binds `0.0.0.0:port` (0: any free port) with IP_PKTINFO, the largest receive and send
    /// buffers the kernel allows up to `buffer` bytes (SO_RCVBUFFORCE when privileged, else
    /// SO_RCVBUF up to `net.core.rmem_max`), and `tos` as the IP TOS byte if given.
    pub(crate) fn bind(port: u16, buffer: usize, tos: Option<u8>) -> io::Result<Channel> {
        let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
        socket.set_nonblocking(true)?;
        setsockopt(&socket, sockopt::Ipv4PacketInfo, &true).map_err(errno)?;
        // Best effort: only for the report.
        let _ = setsockopt(&socket, sockopt::RxqOvfl, &1);
        if setsockopt(&socket, sockopt::RcvBufForce, &buffer).is_err() {
            let _ = setsockopt(&socket, sockopt::RcvBuf, &buffer);
        }
        if setsockopt(&socket, sockopt::SndBufForce, &buffer).is_err() {
            let _ = setsockopt(&socket, sockopt::SndBuf, &buffer);
        }
        if let Some(tos) = tos {
            setsockopt(&socket, sockopt::IpTos, &i32::from(tos)).map_err(errno)?;
        }
        let recv_buffer = getsockopt(&socket, sockopt::RcvBuf).map_err(errno)?;
        Ok(Channel {
            sock: tokio::net::UdpSocket::from_std(socket)?,
            recv_buffer,
            kernel_drops: AtomicU32::new(0),
        })
    }

    pub(crate) fn local_port(&self) -> io::Result<u16> {
        Ok(self.sock.local_addr()?.port())
    }

    /// The TOS byte outgoing packets carry.
    #[cfg(test)]
    pub(crate) fn tos(&self) -> io::Result<u8> {
        let t = getsockopt(&self.sock, sockopt::IpTos).map_err(errno)?;
        Ok(t as u8)
    }

    /// Sends `bytes` to `to` from source address `from`. Never waits: a full send buffer is
    /// an error (`WouldBlock`), and the datagram is lost like any other (CAPWAP retransmits).
    pub(crate) fn send_from(&self, from: Ipv4Addr, to: SocketAddr, bytes: &[u8]) -> io::Result<()> {
        let SocketAddr::V4(to) = to else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "IPv6 controller",
            ));
        };
        let info = libc::in_pktinfo {
            ipi_ifindex: 0,
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(from).to_be(),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        let dest = SockaddrIn::from(to);
        // Straight to the non-blocking socket: the fleet never waits to send.
        sendmsg(
            self.sock.as_raw_fd(),
            &[IoSlice::new(bytes)],
            &[ControlMessage::Ipv4PacketInfo(&info)],
            MsgFlags::MSG_DONTWAIT,
            Some(&dest),
        )
        .map(|_| ())
        .map_err(errno)
    }

    /// Waits until a datagram may be waiting.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        self.sock.readable().await
    }

    /// One datagram if there is one (`WouldBlock` if not, which also tells tokio the socket
    /// is drained).
    pub(crate) fn try_recv(&self, buf: &mut [u8], cmsg: &mut Vec<u8>) -> io::Result<Received> {
        self.sock.try_io(Interest::READABLE, || {
            let mut iov = [IoSliceMut::new(&mut *buf)];
            let msg = recvmsg::<SockaddrIn>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut *cmsg),
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(errno)?;
            let from = msg
                .address
                .map(|a| SocketAddr::V4(SocketAddrV4::new(a.ip(), a.port())))
                .ok_or_else(|| io::Error::other("datagram without a source address"))?;
            let mut to = Ipv4Addr::UNSPECIFIED;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    match c {
                        ControlMessageOwned::Ipv4PacketInfo(info) => {
                            to = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                        }
                        ControlMessageOwned::RxqOvfl(n) => {
                            self.kernel_drops.store(n, Ordering::Relaxed)
                        }
                        _ => {}
                    }
                }
            }
            Ok(Received {
                len: msg.bytes,
                from,
                to,
            })
        })
    }
}
