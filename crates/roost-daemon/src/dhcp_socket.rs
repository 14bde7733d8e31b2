//! The DHCP server's socket (UDP 67): one socket bound to `0.0.0.0`, with IP_PKTINFO, so that
//! each datagram says which interface it arrived on (a directly attached client's pool is the
//! one whose network contains an address of that interface, issue 10), and each reply goes out
//! of that interface from that interface's address, broadcast or unicast. Moves bytes only:
//! which pool, which reply, is the lease core's business.

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use tokio::io::Interest;

/// The BOOTP/DHCP client port replies go to (RFC 2131 4.1).
pub const CLIENT_PORT: u16 = 68;

/// One datagram received, with where it came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub len: usize,
    pub from: SocketAddrV4,
    /// The interface it arrived on (IP_PKTINFO `ipi_ifindex`).
    pub ifindex: u32,
    /// The local address it was for, or the interface's (IP_PKTINFO `ipi_spec_dst`: what a
    /// reply goes out from).
    pub local: Ipv4Addr,
}

/// An IPv4 address of an interface, with its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceAddr {
    pub ifindex: u32,
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// Every IPv4 address of every interface (`getifaddrs`), for choosing a directly attached
/// client's pool. Read when needed: interfaces come and go.
pub fn interface_addrs() -> io::Result<Vec<InterfaceAddr>> {
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(errno)? {
        let (Some(addr), Some(mask)) = (ifa.address, ifa.netmask) else {
            continue;
        };
        let (Some(a), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) else {
            continue;
        };
        let Ok(ifindex) = nix::net::if_::if_nametoindex(ifa.interface_name.as_str()) else {
            continue;
        };
        out.push(InterfaceAddr {
            ifindex,
            addr: a.ip(),
            prefix: u32::from(m.ip()).count_ones() as u8,
        });
    }
    Ok(out)
}

fn errno(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// The DHCP server's non-blocking socket.
pub struct DhcpSocket {
    sock: tokio::net::UdpSocket,
}

impl DhcpSocket {
    /// Binds `0.0.0.0:port` (67 in service; any port in tests) with SO_BROADCAST and
    /// IP_PKTINFO.
    pub fn bind(port: u16) -> io::Result<DhcpSocket> {
        let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
        socket.set_nonblocking(true)?;
        socket.set_broadcast(true)?;
        setsockopt(&socket, sockopt::Ipv4PacketInfo, &true).map_err(errno)?;
        Ok(DhcpSocket {
            sock: tokio::net::UdpSocket::from_std(socket)?,
        })
    }

    pub fn local_port(&self) -> io::Result<u16> {
        Ok(self.sock.local_addr()?.port())
    }

    /// Waits until a datagram may be waiting.
    pub async fn readable(&self) -> io::Result<()> {
        self.sock.readable().await
    }

    /// One datagram if there is one (`WouldBlock` if not).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Arrival> {
        let mut cmsg = nix::cmsg_space!(libc::in_pktinfo);
        self.sock.try_io(Interest::READABLE, || {
            let mut iov = [IoSliceMut::new(&mut *buf)];
            let msg = recvmsg::<SockaddrIn>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(errno)?;
            let from = msg
                .address
                .map(|a| SocketAddrV4::new(a.ip(), a.port()))
                .ok_or_else(|| io::Error::other("datagram without a source address"))?;
            let (mut ifindex, mut local) = (0, Ipv4Addr::UNSPECIFIED);
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::Ipv4PacketInfo(info) = c {
                        ifindex = info.ipi_ifindex as u32;
                        local = Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr));
                    }
                }
            }
            Ok(Arrival {
                len: msg.bytes,
                from,
                ifindex,
                local,
            })
        })
    }

    /// Sends `bytes` to `to` out of interface `ifindex` from address `from` (both from the
    /// [`Arrival`] it answers; `255.255.255.255` as `to` broadcasts on that interface). Never
    /// waits: a full send buffer is an error, and the client retransmits.
    pub fn send(
        &self,
        bytes: &[u8],
        to: SocketAddr,
        ifindex: u32,
        from: Ipv4Addr,
    ) -> io::Result<()> {
        let SocketAddr::V4(to) = to else {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "DHCPv4 only"));
        };
        let info = libc::in_pktinfo {
            ipi_ifindex: ifindex as i32,
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(from).to_be(),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        sendmsg(
            self.sock.as_raw_fd(),
            &[IoSlice::new(bytes)],
            &[ControlMessage::Ipv4PacketInfo(&info)],
            MsgFlags::MSG_DONTWAIT,
            Some(&SockaddrIn::from(to)),
        )
        .map(|_| ())
        .map_err(errno)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A datagram to the socket says the interface and local address it came in on (here
    /// loopback, 127.0.0.1/8), and a reply sent with them reaches the sender.
    #[tokio::test]
    async fn an_arrival_names_its_interface_and_a_reply_goes_back_through_it() {
        let server = DhcpSocket::bind(0).unwrap();
        let port = server.local_port().unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        client.send_to(b"discover", ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 1500];
        let arrival = loop {
            server.readable().await.unwrap();
            match server.try_recv(&mut buf) {
                Ok(a) => break a,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..arrival.len], b"discover");
        assert_eq!(arrival.local, Ipv4Addr::LOCALHOST);
        assert_eq!(
            arrival.from,
            match client.local_addr().unwrap() {
                SocketAddr::V4(a) => a,
                other => panic!("{other}"),
            }
        );
        let addrs = interface_addrs().unwrap();
        let lo = addrs
            .iter()
            .find(|a| a.ifindex == arrival.ifindex)
            .unwrap_or_else(|| panic!("interface {} in {addrs:?}", arrival.ifindex));
        assert_eq!((lo.addr, lo.prefix), (Ipv4Addr::LOCALHOST, 8));
        server
            .send(
                b"offer",
                SocketAddr::V4(arrival.from),
                arrival.ifindex,
                arrival.local,
            )
            .unwrap();
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"offer");
        assert_eq!(from, SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
}
