//! `roost bench`'s Discovery/Join flood: one sender process, as fast as it goes, Discovery and
//! Join Requests to a controller's CAPWAP control port from `sources` spoofed loopback
//! addresses (each packet's source chosen with `IP_PKTINFO`, which Linux allows for any local
//! address, and all of 127/8 is local), each Join for another random-looking AP MAC.

use anyhow::{Context, Result};
use nix::sys::socket::{
    sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, SockaddrIn,
};
use roost_capwap::elements::*;
use roost_capwap::messages::*;
use roost_capwap::types::*;
use roost_capwap::{ControlMessage as Capwap, ControlPacket, MacAddress, MessageBody};
use std::io::IoSlice;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// What the sender did.
#[derive(Clone, Copy, Debug, Default)]
pub struct FloodReport {
    pub sent: u64,
    /// Sends the kernel refused (e.g. ENOBUFS): not counted in `sent`.
    pub send_errors: u64,
    pub secs: f64,
}

/// The MAC a template carries, replaced per source.
const TEMPLATE_MAC: [u8; 6] = [0x02, 0xF1, 0x00, 0xDE, 0xAD, 0x01];

fn board() -> WtpBoardData {
    WtpBoardData {
        vendor_id: roost_capwap::VENDOR_ID_EXAMPLE,
        model_number: b"AP7532".to_vec(),
        serial_number: b"FLOOD".to_vec(),
        board_id: None,
        board_revision: None,
        base_mac: Some(MacAddress::Eui48(TEMPLATE_MAC)),
        other: vec![],
    }
}

fn descriptor() -> WtpDescriptor {
    WtpDescriptor {
        max_radios: 1,
        radios_in_use: 1,
        encryption: vec![EncryptionCapability {
            wbid: 1,
            capabilities: EncryptionCapabilities::AES_CCMP,
        }],
        hardware_version: b"1.0".to_vec(),
        active_software_version: b"5.9.1.0".to_vec(),
        boot_version: b"1.0".to_vec(),
        other_software_version: None,
        vendor_descriptors: vec![],
    }
}

fn radio() -> WtpRadioInformation {
    WtpRadioInformation {
        radio_id: 1,
        radio_type: RadioType::B | RadioType::G,
    }
}

fn encode(body: MessageBody) -> Result<Vec<u8>> {
    ControlPacket::new(Capwap::new(1, body))
        .encode()
        .map_err(|e| anyhow::anyhow!("encoding a flood packet: {e}"))
}

/// The two packets, and where the Join's MAC sits.
fn templates() -> Result<(Vec<u8>, Vec<u8>, usize)> {
    let discovery = encode(MessageBody::DiscoveryRequest(DiscoveryRequest {
        discovery_type: DiscoveryType::Static,
        board_data: board(),
        descriptor: descriptor(),
        frame_tunnel_mode: WtpFrameTunnelMode::LOCAL_BRIDGING,
        mac_type: WtpMacType::Local,
        radios: vec![radio()],
        mtu_discovery_padding: None,
        vendor_specific: vec![],
        other_elements: vec![],
    }))?;
    let join = encode(MessageBody::JoinRequest(JoinRequest {
        location: LocationData("flood".into()),
        board_data: board(),
        descriptor: descriptor(),
        wtp_name: WtpName("flood".into()),
        session_id: SessionId([0x5A; 16]),
        frame_tunnel_mode: WtpFrameTunnelMode::LOCAL_BRIDGING,
        mac_type: WtpMacType::Local,
        radios: vec![radio()],
        ecn_support: EcnSupport::Limited,
        local_ipv4: Some(CapwapLocalIpv4Address(Ipv4Addr::new(127, 64, 0, 1))),
        local_ipv6: None,
        transport_protocol: None,
        maximum_message_length: None,
        reboot_statistics: None,
        vendor_specific: vec![],
        other_elements: vec![],
    }))?;
    let at = join
        .windows(6)
        .position(|w| w == TEMPLATE_MAC)
        .context("the Join template carries its MAC")?;
    Ok((discovery, join, at))
}

/// Floods `target`:5246 for `secs` from `sources` addresses starting at `first`; every other
/// packet a Join (for the source's own MAC), the others Discovery Requests.
pub fn run(target: Ipv4Addr, first: Ipv4Addr, sources: u32, secs: f64) -> Result<FloodReport> {
    let (discovery, mut join, mac_at) = templates()?;
    let fd = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::empty(),
        None,
    )
    .context("flood socket")?;
    let to = SockaddrIn::from(std::net::SocketAddrV4::new(target, 5246));
    let base = u32::from(first);
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let mut r = FloodReport::default();
    let mut n: u64 = 0;
    while Instant::now() < until {
        // Check the clock every 1,024 packets.
        for _ in 0..1024 {
            let i = (n % u64::from(sources)) as u32;
            let src = Ipv4Addr::from(base.wrapping_add(i));
            let info = libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(src).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            let packet: &[u8] = if n.is_multiple_of(2) {
                &discovery
            } else {
                join[mac_at + 2..mac_at + 6].copy_from_slice(&i.to_be_bytes());
                &join
            };
            let sent = sendmsg(
                fd.as_raw_fd(),
                &[IoSlice::new(packet)],
                &[ControlMessage::Ipv4PacketInfo(&info)],
                MsgFlags::empty(),
                Some(&to),
            );
            match sent {
                Ok(_) => r.sent += 1,
                Err(_) => r.send_errors += 1,
            }
            n += 1;
        }
    }
    r.secs = start.elapsed().as_secs_f64();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_packets_decode_and_each_join_names_its_sources_mac() {
        let (discovery, mut join, at) = templates().unwrap();
        let d = ControlPacket::decode(&discovery).unwrap();
        assert!(matches!(d.message.body, MessageBody::DiscoveryRequest(_)));
        join[at + 2..at + 6].copy_from_slice(&7u32.to_be_bytes());
        let j = ControlPacket::decode(&join).unwrap();
        let MessageBody::JoinRequest(j) = j.message.body else {
            panic!("not a Join")
        };
        assert_eq!(
            j.board_data.base_mac,
            Some(MacAddress::Eui48([0x02, 0xF1, 0, 0, 0, 7]))
        );
    }
}
