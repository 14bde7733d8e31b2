//! Per-operation tests: the exact replies for each exchange, durability, validation.

use crate::*;
use dhcproto::v4::relay::{RelayAgentInformation, RelayInfo};
use dhcproto::v4::{DhcpOption, Flags, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use roost_wire::{Mac, MemberId};
use std::net::{Ipv4Addr, SocketAddrV4};

const A: MemberId = MemberId(0x1200_0001);
const B: MemberId = MemberId(0x1200_0002);
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 5);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 6);
const STATIC_MAC: [u8; 6] = [0, 0x11, 0x22, 0x33, 0x44, 0x99];
const T0: u64 = 1_800_000_000_000;
const DAY_MS: u64 = 86_400_000;

fn policy(activation: Activation) -> PolicySpec {
    let mut lan = PoolSpec::new("lan", Ipv4Addr::new(10, 1, 0, 0), 24);
    lan.ranges.push(AddressRange::new(
        Ipv4Addr::new(10, 1, 0, 10),
        Ipv4Addr::new(10, 1, 0, 200),
    ));
    lan.routers = vec![Ipv4Addr::new(10, 1, 0, 1)];
    lan.dns_servers = vec![Ipv4Addr::new(10, 1, 0, 2)];
    lan.domain_name = Some("example.net".into());
    lan.options.push((191, b"pool1=10.1.0.5".to_vec()));
    lan.static_bindings
        .push((Mac(STATIC_MAC), Ipv4Addr::new(10, 1, 0, 250)));
    let mut relayed = PoolSpec::new("relayed", Ipv4Addr::new(10, 2, 0, 0), 24);
    relayed.ranges.push(AddressRange::new(
        Ipv4Addr::new(10, 2, 0, 10),
        Ipv4Addr::new(10, 2, 0, 50),
    ));
    relayed.lease_secs = 3600;
    let mut p = PolicySpec::new("campus", activation);
    p.pools = vec![lan, relayed];
    p
}

fn server() -> Server {
    Server::new(A, A_IP, policy(Activation::None), Layout::new([A], None)).unwrap()
}

fn ctx() -> PacketContext {
    PacketContext {
        interface: A_IP,
        source: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
    }
}

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

fn msg(kind: MessageType, mac: [u8; 6]) -> Message {
    let z = Ipv4Addr::UNSPECIFIED;
    let mut m = Message::new_with_id(0x1234_5678, z, z, z, z, &mac);
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    m
}

fn with(mut m: Message, opt: DhcpOption) -> Message {
    m.opts_mut().insert(opt);
    m
}

fn bytes(m: &Message) -> Vec<u8> {
    let mut b = Vec::new();
    m.encode(&mut Encoder::new(&mut b)).unwrap();
    b
}

fn drain(s: &mut Server) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn replies(outs: &[Output]) -> Vec<(Destination, Message)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Reply(r) => Some((r.to, Message::decode(&mut Decoder::new(&r.bytes)).unwrap())),
            _ => None,
        })
        .collect()
}

fn persists(outs: &[Output]) -> Vec<(BatchId, Vec<LeaseChange>)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Persist { batch, changes } => Some((*batch, changes.clone())),
            _ => None,
        })
        .collect()
}

fn only_reply(s: &mut Server) -> (Destination, Message) {
    let outs = drain(s);
    let r = replies(&outs);
    assert_eq!(r.len(), 1, "{outs:?}");
    r.into_iter().next().unwrap()
}

fn opt(m: &Message, code: OptionCode) -> Option<&DhcpOption> {
    m.opts().get(code)
}

/// DISCOVER → OFFER, REQUEST → (durable) → ACK. Returns the address.
fn dora(s: &mut Server, mac: [u8; 6], now: u64) -> Ipv4Addr {
    s.handle_message(msg(MessageType::Discover, mac), ctx(), now);
    let (_, offer) = only_reply(s);
    let ip = offer.yiaddr();
    let req = with(
        with(
            msg(MessageType::Request, mac),
            DhcpOption::ServerIdentifier(A_IP),
        ),
        DhcpOption::RequestedIpAddress(ip),
    );
    s.handle_message(req, ctx(), now);
    let outs = drain(s);
    let (batch, _) = persists(&outs)[0].clone();
    s.handle_durable(batch, false, now);
    let (_, ack) = only_reply(s);
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    ip
}

#[test]
fn discover_gets_an_offer_with_the_pools_options() {
    let mut s = server();
    s.handle_message(msg(MessageType::Discover, mac(1)), ctx(), T0);
    let (to, offer) = only_reply(&mut s);
    assert_eq!(to, Destination::Broadcast { port: 68 });
    assert_eq!(offer.opcode(), Opcode::BootReply);
    assert_eq!(offer.xid(), 0x1234_5678);
    assert_eq!(offer.chaddr()[..6], mac(1));
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(10, 1, 0, 10));
    assert_eq!(offer.ciaddr(), Ipv4Addr::UNSPECIFIED);
    let o = |c| opt(&offer, c).cloned();
    assert_eq!(
        o(OptionCode::MessageType),
        Some(DhcpOption::MessageType(MessageType::Offer))
    );
    assert_eq!(
        o(OptionCode::ServerIdentifier),
        Some(DhcpOption::ServerIdentifier(A_IP))
    );
    assert_eq!(
        o(OptionCode::AddressLeaseTime),
        Some(DhcpOption::AddressLeaseTime(86_400))
    );
    assert_eq!(o(OptionCode::Renewal), Some(DhcpOption::Renewal(43_200)));
    assert_eq!(
        o(OptionCode::Rebinding),
        Some(DhcpOption::Rebinding(75_600))
    );
    assert_eq!(
        o(OptionCode::SubnetMask),
        Some(DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)))
    );
    assert_eq!(
        o(OptionCode::Router),
        Some(DhcpOption::Router(vec![Ipv4Addr::new(10, 1, 0, 1)]))
    );
    assert_eq!(
        o(OptionCode::DomainNameServer),
        Some(DhcpOption::DomainNameServer(vec![Ipv4Addr::new(
            10, 1, 0, 2
        )]))
    );
    assert_eq!(
        o(OptionCode::DomainName),
        Some(DhcpOption::DomainName("example.net".into()))
    );
    match o(OptionCode::from(191)) {
        Some(DhcpOption::Unknown(u)) => assert_eq!(u.data(), b"pool1=10.1.0.5"),
        other => panic!("{other:?}"),
    }
    // Offers are not persisted, and reserve the address for this client.
    assert_eq!(s.offers(), 1);
    s.handle_message(msg(MessageType::Discover, mac(2)), ctx(), T0);
    let (_, other) = only_reply(&mut s);
    assert_eq!(other.yiaddr(), Ipv4Addr::new(10, 1, 0, 11));
}

#[test]
fn the_ack_waits_until_the_lease_is_durable() {
    let mut s = server();
    s.handle_message(msg(MessageType::Discover, mac(1)), ctx(), T0);
    let (_, offer) = only_reply(&mut s);
    let ip = offer.yiaddr();
    let req = with(
        with(
            msg(MessageType::Request, mac(1)),
            DhcpOption::ServerIdentifier(A_IP),
        ),
        DhcpOption::RequestedIpAddress(ip),
    );
    s.handle_message(req, ctx(), T0);
    let outs = drain(&mut s);
    assert!(replies(&outs).is_empty(), "no ACK before durable: {outs:?}");
    let p = persists(&outs);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].1.len(), 1);
    let change = &p[0].1[0];
    assert_eq!(change.ip, ip);
    assert_eq!(change.stamp.member, A);
    assert_eq!(
        change.state,
        LeaseState::Leased {
            client: ClientId([&[1u8][..], &mac(1)[..]].concat()),
            mac: Mac(mac(1)),
            expires_ms: T0 + DAY_MS,
        }
    );
    assert_eq!(s.acks_held(), 1);
    s.handle_durable(BatchId(99), false, T0);
    assert!(
        drain(&mut s).is_empty(),
        "another batch's durability releases nothing"
    );
    s.handle_durable(p[0].0, false, T0 + 5);
    let (to, ack) = only_reply(&mut s);
    assert_eq!(to, Destination::Broadcast { port: 68 });
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip);
    // The lease time counts from when the ACK leaves: it never outlasts the lease here.
    assert_eq!(
        opt(&ack, OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(86_399))
    );
    assert_eq!(s.acks_held(), 0);
    assert_eq!(s.stats().acks, 1);
    assert_eq!(s.stats().degraded_acks, 0);
    assert_eq!(s.leases(T0)[0].ip, ip);
}

#[test]
fn many_requests_while_a_batch_is_in_flight_share_the_next_batch() {
    let mut s = server();
    let request = |s: &mut Server, n: u8| {
        s.handle_message(msg(MessageType::Discover, mac(n)), ctx(), T0);
        let (_, offer) = only_reply(s);
        let req = with(
            with(
                msg(MessageType::Request, mac(n)),
                DhcpOption::ServerIdentifier(A_IP),
            ),
            DhcpOption::RequestedIpAddress(offer.yiaddr()),
        );
        s.handle_message(req, ctx(), T0);
    };
    request(&mut s, 0);
    let first = persists(&drain(&mut s));
    assert_eq!(first.len(), 1);
    for n in 1..=50 {
        request(&mut s, n);
        assert!(
            persists(&drain(&mut s)).is_empty(),
            "one batch in flight at a time"
        );
    }
    assert_eq!(s.acks_held(), 51);
    s.handle_durable(first[0].0, false, T0);
    let outs = drain(&mut s);
    assert_eq!(replies(&outs).len(), 1);
    let second = persists(&outs);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].1.len(), 50, "the 50 leases in one batch");
    s.handle_durable(second[0].0, true, T0);
    let acks = replies(&drain(&mut s));
    assert_eq!(acks.len(), 50);
    assert_eq!(s.stats().batches, 2);
    assert_eq!(s.stats().degraded_acks, 50);
}

#[test]
fn renewing_extends_the_lease_and_answers_unicast() {
    let mut s = server();
    let ip = dora(&mut s, mac(1), T0);
    let later = T0 + DAY_MS / 2;
    let mut renew = msg(MessageType::Request, mac(1));
    renew.set_ciaddr(ip);
    s.handle_message(renew, ctx(), later);
    let outs = drain(&mut s);
    assert!(replies(&outs).is_empty());
    let (batch, changes) = persists(&outs)[0].clone();
    assert!(matches!(
        changes[0].state,
        LeaseState::Leased { expires_ms, .. } if expires_ms == later + DAY_MS
    ));
    s.handle_durable(batch, false, later);
    let (to, ack) = only_reply(&mut s);
    assert_eq!(to, Destination::Unicast(SocketAddrV4::new(ip, 68)));
    assert_eq!(ack.ciaddr(), ip);
    assert_eq!(ack.yiaddr(), ip);
    assert_eq!(
        opt(&ack, OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(86_400))
    );
    // Never longer than the pool's lease time from now, however often renewed.
    assert_eq!(s.lease(ip).unwrap().expires_ms, later + DAY_MS);
}

#[test]
fn rebinding_extends_a_lease_another_member_granted_once_it_is_lost() {
    let mut a = Server::new(A, A_IP, policy(Activation::None), Layout::new([A, B], None)).unwrap();
    let ip = dora(&mut a, mac(1), T0);
    assert_eq!(a.allocator(ip), Some(A));
    let mut b = Server::new(B, B_IP, policy(Activation::None), Layout::new([A, B], None)).unwrap();
    b.handle_replicated(a.table(), T0);
    let later = T0 + DAY_MS * 7 / 8;
    let rebind = || {
        let mut m = msg(MessageType::Request, mac(1));
        m.set_ciaddr(ip).set_flags(Flags::default().set_broadcast());
        m
    };
    // While A can be reached, A (the address's allocator) answers; B stays silent.
    b.handle_message(rebind(), ctx(), later);
    assert!(drain(&mut b).is_empty());
    assert_eq!(b.stats().drops.other_allocator, 1);
    // A is lost: B renews its lease at once.
    b.handle_member_lost(A, later, later);
    b.handle_message(rebind(), ctx(), later);
    let outs = drain(&mut b);
    let (batch, changes) = persists(&outs)[0].clone();
    assert_eq!(changes[0].stamp.member, B);
    b.handle_durable(batch, false, later);
    let (to, ack) = only_reply(&mut b);
    assert_eq!(to, Destination::Broadcast { port: 68 });
    assert_eq!(
        opt(&ack, OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(B_IP))
    );
    assert_eq!(ack.yiaddr(), ip);
    assert_eq!(lease_secs(&ack), 86_400);
    assert_eq!(b.lease(ip).unwrap().granted_by, B);
}

fn init_reboot(mac: [u8; 6], ip: Ipv4Addr) -> Message {
    with(
        msg(MessageType::Request, mac),
        DhcpOption::RequestedIpAddress(ip),
    )
}

#[test]
fn init_reboot_acks_its_lease_naks_a_wrong_one_and_ignores_the_unknown() {
    let mut s = server();
    let ip = dora(&mut s, mac(1), T0);
    let other = dora(&mut s, mac(2), T0);

    s.handle_message(init_reboot(mac(1), ip), ctx(), T0 + 1000);
    let outs = drain(&mut s);
    let (batch, _) = persists(&outs)[0].clone();
    s.handle_durable(batch, false, T0 + 1000);
    let (to, ack) = only_reply(&mut s);
    assert_eq!(to, Destination::Broadcast { port: 68 });
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip);

    // Wrong network: the client moved.
    s.handle_message(
        init_reboot(mac(1), Ipv4Addr::new(192, 168, 9, 9)),
        ctx(),
        T0,
    );
    let (to, nak) = only_reply(&mut s);
    assert_eq!(to, Destination::Broadcast { port: 68 });
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(nak.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        opt(&nak, OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(A_IP))
    );
    assert_eq!(opt(&nak, OptionCode::AddressLeaseTime), None);

    // Another client's address.
    s.handle_message(init_reboot(mac(1), other), ctx(), T0);
    let (_, nak) = only_reply(&mut s);
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));

    // Unknown client, free address: stay silent (RFC 2131 4.3.2).
    s.handle_message(init_reboot(mac(9), Ipv4Addr::new(10, 1, 0, 100)), ctx(), T0);
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.stats().drops.unknown_client, 1);
    assert_eq!(s.stats().naks, 2);
}

#[test]
fn a_request_for_another_server_drops_our_offer_silently() {
    let mut s = server();
    s.handle_message(msg(MessageType::Discover, mac(1)), ctx(), T0);
    let (_, offer) = only_reply(&mut s);
    assert_eq!(s.offers(), 1);
    let req = with(
        with(
            msg(MessageType::Request, mac(1)),
            DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 1, 0, 99)),
        ),
        DhcpOption::RequestedIpAddress(offer.yiaddr()),
    );
    s.handle_message(req, ctx(), T0);
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.offers(), 0);
    assert_eq!(s.stats().drops.other_server, 1);
}

#[test]
fn a_request_for_an_address_not_offered_is_naked() {
    let mut s = server();
    let req = with(
        with(
            msg(MessageType::Request, mac(1)),
            DhcpOption::ServerIdentifier(A_IP),
        ),
        DhcpOption::RequestedIpAddress(Ipv4Addr::new(10, 1, 0, 77)),
    );
    s.handle_message(req, ctx(), T0);
    let (_, nak) = only_reply(&mut s);
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
}

#[test]
fn release_frees_the_address_and_is_replicated() {
    let mut s = server();
    let ip = dora(&mut s, mac(1), T0);
    let mut rel = with(
        msg(MessageType::Release, mac(1)),
        DhcpOption::ServerIdentifier(A_IP),
    );
    rel.set_ciaddr(ip);
    s.handle_message(rel, ctx(), T0 + 10);
    let outs = drain(&mut s);
    assert!(replies(&outs).is_empty());
    let p = persists(&outs);
    assert_eq!(
        p[0].1[0].state,
        LeaseState::Free {
            since_ms: T0 + 10,
            reason: FreeReason::Released
        }
    );
    assert!(s.leases(T0 + 10).is_empty());
    // Another client may have it at once.
    s.handle_durable(p[0].0, false, T0 + 10);
    let d = with(
        msg(MessageType::Discover, mac(2)),
        DhcpOption::RequestedIpAddress(ip),
    );
    s.handle_message(d, ctx(), T0 + 20);
    let (_, offer) = only_reply(&mut s);
    assert_eq!(offer.yiaddr(), ip);
}

#[test]
fn decline_holds_the_address_out_of_the_pool() {
    let mut s = server();
    let ip = dora(&mut s, mac(1), T0);
    let dec = with(
        with(
            msg(MessageType::Decline, mac(1)),
            DhcpOption::ServerIdentifier(A_IP),
        ),
        DhcpOption::RequestedIpAddress(ip),
    );
    s.handle_message(dec, ctx(), T0 + 10);
    let outs = drain(&mut s);
    assert!(replies(&outs).is_empty());
    let p = persists(&outs);
    assert_eq!(
        p[0].1[0].state,
        LeaseState::Declined {
            until_ms: T0 + 10 + DECLINE_HOLD_MS
        }
    );
    s.handle_durable(p[0].0, false, T0 + 10);
    assert_eq!(s.declined(T0 + 10), 1);
    let d = with(
        msg(MessageType::Discover, mac(1)),
        DhcpOption::RequestedIpAddress(ip),
    );
    s.handle_message(d, ctx(), T0 + 20);
    let (_, offer) = only_reply(&mut s);
    assert_ne!(offer.yiaddr(), ip);
    // Back after the hold, through a replicated change.
    let end = T0 + 10 + DECLINE_HOLD_MS;
    assert!(s.poll_timeout().unwrap() <= end);
    s.handle_timeout(end);
    let p = persists(&drain(&mut s));
    assert_eq!(p[0].1[0].ip, ip);
    assert!(matches!(
        p[0].1[0].state,
        LeaseState::Free {
            reason: FreeReason::Cleared,
            ..
        }
    ));
    assert_eq!(s.declined(end), 0);
}

#[test]
fn inform_gets_options_and_no_lease() {
    let mut s = server();
    let mut inf = msg(MessageType::Inform, mac(1));
    inf.set_ciaddr(Ipv4Addr::new(10, 1, 0, 240));
    s.handle_message(inf, ctx(), T0);
    let outs = drain(&mut s);
    assert!(persists(&outs).is_empty());
    let (to, ack) = replies(&outs).remove(0);
    assert_eq!(
        to,
        Destination::Unicast(SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, 240), 68))
    );
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(opt(&ack, OptionCode::AddressLeaseTime), None);
    assert_eq!(
        opt(&ack, OptionCode::Router),
        Some(&DhcpOption::Router(vec![Ipv4Addr::new(10, 1, 0, 1)]))
    );
}

#[test]
fn a_relayed_request_is_served_from_the_giaddr_pool_with_option_82_echoed() {
    let mut s = server();
    let giaddr = Ipv4Addr::new(10, 2, 0, 1);
    let mut info = RelayAgentInformation::default();
    info.insert(RelayInfo::AgentCircuitId(b"ge1/0/7".to_vec()));
    info.insert(RelayInfo::AgentRemoteId(b"sw-3".to_vec()));
    let mut d = with(
        msg(MessageType::Discover, mac(1)),
        DhcpOption::RelayAgentInformation(info.clone()),
    );
    d.set_giaddr(giaddr).set_hops(1);
    s.handle_message(d.clone(), ctx(), T0);
    let (to, offer) = only_reply(&mut s);
    assert_eq!(to, Destination::Unicast(SocketAddrV4::new(giaddr, 67)));
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(10, 2, 0, 10));
    assert_eq!(offer.giaddr(), giaddr);
    assert_eq!(offer.hops(), 0);
    assert_eq!(
        opt(&offer, OptionCode::RelayAgentInformation),
        Some(&DhcpOption::RelayAgentInformation(info.clone()))
    );
    assert_eq!(
        opt(&offer, OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(3600))
    );
    // Option 82 is the last option on the wire (RFC 3046 2.1).
    let raw = bytes(&offer);
    let (end, tail) = (raw.len() - 1, &raw[raw.len() - 20..]);
    assert_eq!(raw[end], 255);
    assert!(tail.windows(2).any(|w| w == [82, 15]), "{tail:?}");
    // The NAK to a relayed client goes to the relay, with the broadcast bit set.
    let mut bad = with(
        with(
            msg(MessageType::Request, mac(1)),
            DhcpOption::ServerIdentifier(A_IP),
        ),
        DhcpOption::RequestedIpAddress(Ipv4Addr::new(10, 2, 0, 49)),
    );
    bad.set_giaddr(giaddr);
    s.handle_message(bad, ctx(), T0);
    let (to, nak) = only_reply(&mut s);
    assert_eq!(to, Destination::Unicast(SocketAddrV4::new(giaddr, 67)));
    assert!(nak.flags().broadcast());
}

#[test]
fn a_static_binding_gets_its_address_at_once() {
    let mut s = server();
    s.handle_message(msg(MessageType::Discover, STATIC_MAC), ctx(), T0);
    let (_, offer) = only_reply(&mut s);
    let ip = Ipv4Addr::new(10, 1, 0, 250);
    assert_eq!(offer.yiaddr(), ip);
    let req = with(
        with(
            msg(MessageType::Request, STATIC_MAC),
            DhcpOption::ServerIdentifier(A_IP),
        ),
        DhcpOption::RequestedIpAddress(ip),
    );
    s.handle_message(req, ctx(), T0);
    let outs = drain(&mut s);
    assert!(
        persists(&outs).is_empty(),
        "the configuration is its durability"
    );
    let (_, ack) = replies(&outs).remove(0);
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip);
}

#[test]
fn bad_packets_are_counted_and_dropped() {
    let mut s = server();
    s.handle_packet(&[], ctx(), T0);
    s.handle_packet(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], ctx(), T0);
    let mut reply = msg(MessageType::Discover, mac(1));
    reply.set_opcode(Opcode::BootReply);
    s.handle_packet(&bytes(&reply), ctx(), T0);
    let mut bootp = msg(MessageType::Discover, mac(1));
    bootp.opts_mut().clear();
    s.handle_packet(&bytes(&bootp), ctx(), T0);
    // A DHCP REQUEST in SELECTING without a requested address.
    let req = with(
        msg(MessageType::Request, mac(1)),
        DhcpOption::ServerIdentifier(A_IP),
    );
    s.handle_packet(&bytes(&req), ctx(), T0);
    // Truncated after the fixed header.
    let good = bytes(&msg(MessageType::Discover, mac(1)));
    s.handle_packet(&good[..200], ctx(), T0);
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.stats().drops.malformed, 5);
    assert_eq!(s.stats().drops.bootp, 1);
    // A packet on an interface with no pool.
    let far = PacketContext {
        interface: Ipv4Addr::new(172, 16, 0, 1),
        ..ctx()
    };
    s.handle_packet(&good, far, T0);
    assert_eq!(s.stats().drops.no_pool, 1);
    assert_eq!(s.stats().received.discover, 1);
}

#[test]
fn expired_leases_are_reclaimed_as_a_change() {
    let mut s = server();
    let ip = dora(&mut s, mac(1), T0);
    assert_eq!(s.poll_timeout(), Some(T0 + DAY_MS));
    s.handle_timeout(T0 + DAY_MS);
    let p = persists(&drain(&mut s));
    assert_eq!(
        p[0].1[0],
        LeaseChange {
            ip,
            stamp: p[0].1[0].stamp,
            state: LeaseState::Free {
                since_ms: T0 + DAY_MS,
                reason: FreeReason::Expired
            },
        }
    );
    assert!(s.leases(T0 + DAY_MS).is_empty());
}

#[test]
fn a_cluster_master_policy_is_served_by_the_master_only() {
    let mut s = Server::new(
        A,
        A_IP,
        policy(Activation::ClusterMaster),
        Layout::new([A, B], Some(A)),
    )
    .unwrap();
    s.handle_message(msg(MessageType::Discover, mac(1)), ctx(), T0);
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.stats().drops.not_serving, 1);
    s.handle_master(Some(A));
    s.handle_message(msg(MessageType::Discover, mac(1)), ctx(), T0);
    assert_eq!(
        only_reply(&mut s).1.opts().msg_type(),
        Some(MessageType::Offer)
    );
}

#[test]
fn a_conflicting_replicated_change_is_resolved_by_stamp_and_counted() {
    let mut s = server();
    let ip = dora(&mut s, mac(1), T0);
    let mine = s.lease(ip).unwrap();
    let theirs = LeaseChange {
        ip,
        stamp: Stamp {
            ms: T0 + 1,
            seq: 1,
            member: B,
        },
        state: LeaseState::Leased {
            client: ClientId(vec![1, 9]),
            mac: Mac([9; 6]),
            expires_ms: T0 + DAY_MS,
        },
    };
    s.handle_replicated([theirs.clone()], T0 + 2);
    assert_eq!(s.stats().conflicts, 1);
    assert_eq!(s.lease(ip).unwrap().client, ClientId(vec![1, 9]));
    assert_ne!(mine.client, ClientId(vec![1, 9]));
    // An older change never wins.
    let mut old = theirs;
    old.stamp.ms = T0 - 1;
    old.state = LeaseState::Free {
        since_ms: T0,
        reason: FreeReason::Released,
    };
    s.handle_replicated([old], T0 + 3);
    assert_eq!(s.lease(ip).unwrap().client, ClientId(vec![1, 9]));
}

#[test]
fn an_expiry_never_undoes_a_renewal_whatever_the_order() {
    let lease = |ms: u64, seq, exp: u64| LeaseChange {
        ip: Ipv4Addr::new(10, 1, 0, 10),
        stamp: Stamp { ms, seq, member: B },
        state: LeaseState::Leased {
            client: ClientId(vec![1, 1]),
            mac: Mac([1; 6]),
            expires_ms: exp,
        },
    };
    let grant = lease(T0, 1, T0 + 100_000);
    let renew = lease(T0 + 90_000, 2, T0 + 190_000);
    let reclaim = LeaseChange {
        ip: grant.ip,
        stamp: Stamp {
            ms: T0 + 100_000,
            seq: 1,
            member: A,
        },
        state: LeaseState::Free {
            since_ms: T0 + 100_000,
            reason: FreeReason::Expired,
        },
    };
    for order in [
        [&grant, &renew, &reclaim],
        [&grant, &reclaim, &renew],
        [&reclaim, &grant, &renew],
        [&renew, &reclaim, &grant],
    ] {
        let mut s = server();
        s.handle_replicated(order.into_iter().cloned(), T0 + 100_001);
        assert_eq!(
            s.lease(grant.ip).unwrap().expires_ms,
            T0 + 190_000,
            "{order:?}"
        );
    }
}

#[test]
fn validation_names_the_problem() {
    let check = |f: &dyn Fn(&mut PolicySpec)| {
        let mut p = policy(Activation::None);
        f(&mut p);
        p.validate().unwrap_err()
    };
    assert!(policy(Activation::None).validate().is_ok());
    assert!(matches!(
        check(&|p| p.pools[0].ranges[0].end = Ipv4Addr::new(10, 1, 1, 5)),
        SpecError::RangeOutsideNetwork { .. }
    ));
    assert!(matches!(
        check(&|p| p.pools[0].static_bindings[0].1 = Ipv4Addr::new(10, 1, 0, 20)),
        SpecError::StaticInRange { .. }
    ));
    assert!(matches!(
        check(&|p| {
            let mut inner = p.pools[0].clone();
            inner.name = "inner".into();
            inner.prefix_len = 25;
            inner.ranges.truncate(0);
            inner.static_bindings.clear();
            p.pools[1] = inner;
        }),
        SpecError::OverlappingPools { .. }
    ));
    assert!(matches!(
        check(&|p| p.pools[0].lease_secs = 31_622_400),
        SpecError::Lease { .. }
    ));
    assert!(matches!(
        check(&|p| p.pools[0].lease_secs = 0),
        SpecError::Lease { .. }
    ));
    assert!(matches!(
        check(&|p| p.pools[0].ranges.push(AddressRange::new(
            Ipv4Addr::new(10, 1, 0, 150),
            Ipv4Addr::new(10, 1, 0, 160)
        ))),
        SpecError::OverlappingRanges { .. }
    ));
    assert!(matches!(
        check(&|p| p.pools[0].options.push((54, vec![1, 2, 3, 4]))),
        SpecError::ReservedOption { code: 54, .. }
    ));
    assert!(matches!(
        check(&|p| p.pools[0].network = Ipv4Addr::new(10, 1, 0, 1)),
        SpecError::HostBits { .. }
    ));
    assert!(matches!(
        check(&|p| p.ping_timeout = Some(std::time::Duration::from_secs(11))),
        SpecError::PingTimeout(_)
    ));
    assert_eq!(
        check(&|p| p.pools[0].lease_secs = 0).to_string(),
        "pool lan: lease 0 s is outside 1 to 31622399 s"
    );
}

// ----- the takeover rule ----------------------------------------------------------------

const C: MemberId = MemberId(0x1200_0003);
const MARGIN: u64 = TAKEOVER_MARGIN_MS;

fn member_server(me: MemberId, ip: Ipv4Addr, members: &[MemberId]) -> Server {
    let layout = Layout::new(members.iter().copied(), None);
    Server::new(me, ip, policy(Activation::None), layout).unwrap()
}

fn lan_addresses(s: &Server) -> Vec<Ipv4Addr> {
    shares::addresses(&s.policy().pools[0]).collect()
}

fn offer_at(s: &mut Server, mac: [u8; 6], now: u64) -> Option<Message> {
    let ctx = PacketContext {
        interface: A_IP,
        ..ctx()
    };
    s.handle_message(msg(MessageType::Discover, mac), ctx, now);
    replies(&drain(s)).into_iter().next().map(|(_, m)| m)
}

fn lease_secs(m: &Message) -> u32 {
    match opt(m, OptionCode::AddressLeaseTime) {
        Some(DhcpOption::AddressLeaseTime(s)) => *s,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_majority_takes_a_lost_members_share_over_after_the_longest_lease() {
    let mut b = member_server(B, B_IP, &[A, B, C]);
    let of_a: Vec<Ipv4Addr> = lan_addresses(&b)
        .into_iter()
        .filter(|ip| b.allocator(*ip) == Some(A))
        .collect();
    assert!(of_a.len() > 30, "{}", of_a.len());
    b.handle_member_lost(A, T0, T0 + 1_000);
    let due = T0 + DAY_MS + MARGIN;
    assert_eq!(b.poll_timeout(), Some(due));
    b.handle_timeout(due - 1);
    assert!(of_a.iter().all(|ip| b.allocator(*ip) == Some(A)));
    b.handle_timeout(due);
    assert_eq!(b.stats().takeovers, 1);
    let to_b = of_a
        .iter()
        .filter(|ip| b.allocator(**ip) == Some(B))
        .count();
    let to_c = of_a
        .iter()
        .filter(|ip| b.allocator(**ip) == Some(C))
        .count();
    assert_eq!(to_b + to_c, of_a.len(), "split between the survivors");
    assert!(to_b > 0 && to_c > 0, "{to_b} {to_c}");
    // C, with the same view, splits them the same way.
    let mut c = member_server(C, Ipv4Addr::new(10, 1, 0, 7), &[A, B, C]);
    c.handle_member_lost(A, T0, T0);
    c.handle_timeout(due);
    assert!(of_a.iter().all(|ip| b.allocator(*ip) == c.allocator(*ip)));
}

#[test]
fn a_member_cut_off_from_a_majority_caps_its_leases_and_takes_nothing_over() {
    let mut a = member_server(A, A_IP, &[A, B, C]);
    a.handle_member_lost(B, T0, T0);
    a.handle_member_lost(C, T0, T0);
    // No takeover timer without a majority; only the one that suspends its own share
    // (the other side may take it over then).
    assert_eq!(a.poll_timeout(), Some(T0 + DAY_MS + MARGIN));
    let offer = offer_at(&mut a, mac(1), T0 + 3_600_000).unwrap();
    assert_eq!(
        lease_secs(&offer),
        86_400 - 3_600,
        "ends a lease time after the loss"
    );
    // A lease time after losing the majority it grants nothing.
    assert!(offer_at(&mut a, mac(2), T0 + DAY_MS).is_none());
    assert_eq!(a.stats().drops.fenced, 1);
    a.handle_timeout(T0 + 3 * DAY_MS);
    assert_eq!(a.stats().takeovers, 0);
}

#[test]
fn two_members_survivor_keeps_its_share_until_partner_down() {
    let mut b = member_server(B, B_IP, &[A, B]);
    let ip_a = lan_addresses(&b)
        .into_iter()
        .find(|ip| b.allocator(*ip) == Some(A))
        .unwrap();
    b.handle_member_lost(A, T0, T0);
    assert_eq!(b.poll_timeout(), None);
    b.handle_timeout(T0 + 10 * DAY_MS);
    assert_eq!(b.allocator(ip_a), Some(A), "no majority, no takeover");
    // Its own share, uncapped: the other side is no majority either.
    let offer = offer_at(&mut b, mac(1), T0 + 10 * DAY_MS).unwrap();
    assert_eq!(b.allocator(offer.yiaddr()), Some(B));
    assert_eq!(lease_secs(&offer), 86_400);
    // The operator: A is down, and has served nothing since T0 + 5 s.
    let now = T0 + 10 * DAY_MS;
    b.handle_partner_down(A, T0 + 5_000, now);
    assert_eq!(
        b.allocator(ip_a),
        Some(B),
        "its leases ran out long ago: at once"
    );
    let mut b2 = member_server(B, B_IP, &[A, B]);
    b2.handle_member_lost(A, T0, T0);
    b2.handle_partner_down(A, T0 + 5_000, T0 + 10_000);
    assert_eq!(
        b2.allocator(ip_a),
        Some(A),
        "waits for what A can have leased"
    );
    assert_eq!(b2.poll_timeout(), Some(T0 + 5_000 + DAY_MS + MARGIN));
    b2.handle_timeout(T0 + 5_000 + DAY_MS + MARGIN);
    assert_eq!(b2.allocator(ip_a), Some(B));
}

#[test]
fn a_renewal_of_a_lost_members_lease_ends_within_a_lease_of_the_last_contact() {
    let mut a = member_server(A, A_IP, &[A, B]);
    let ip = dora(&mut a, mac(1), T0);
    assert_eq!(a.allocator(ip), Some(A));
    let mut b = member_server(B, B_IP, &[A, B]);
    b.handle_replicated(a.table(), T0);
    b.handle_member_lost(A, T0 + 1_000, T0 + 1_500);
    let mut rebind = msg(MessageType::Request, mac(1));
    rebind
        .set_ciaddr(ip)
        .set_flags(Flags::default().set_broadcast());
    b.handle_message(rebind, ctx(), T0 + 2_000);
    let (batch, _) = persists(&drain(&mut b))[0].clone();
    b.handle_durable(batch, true, T0 + 2_000);
    let (_, ack) = only_reply(&mut b);
    assert_eq!(lease_secs(&ack), 86_399);
    assert_eq!(b.stats().degraded_acks, 1);
    // The address A allocates, once expired here, waits for what A may have renewed.
    b.handle_timeout(T0 + 1_000 + DAY_MS);
    let req = with(
        msg(MessageType::Discover, mac(2)),
        DhcpOption::RequestedIpAddress(ip),
    );
    b.handle_partner_down(A, T0 + 1_000, T0 + 1_000 + DAY_MS + MARGIN);
    b.handle_message(req, ctx(), T0 + 1_000 + DAY_MS + MARGIN);
    let (_, offer) = only_reply(&mut b);
    assert_eq!(offer.yiaddr(), ip, "after the quarantine and the takeover");
}

#[test]
fn a_returning_member_blocks_new_addresses_until_its_table_is_applied() {
    let mut b = member_server(B, B_IP, &[A, B]);
    b.handle_member_lost(A, T0, T0);
    b.handle_member_up(A, T0 + 5_000);
    assert!(offer_at(&mut b, mac(1), T0 + 5_000).is_none());
    assert_eq!(b.stats().drops.syncing, 1);
    b.handle_member_synced(A);
    assert!(offer_at(&mut b, mac(1), T0 + 5_000).is_some());
}

#[test]
fn with_ping_timeout_an_address_is_probed_before_it_is_offered() {
    let mut p = policy(Activation::None);
    p.ping_timeout = Some(std::time::Duration::from_secs(2));
    let mut s = Server::new(A, A_IP, p, Layout::new([A], None)).unwrap();
    s.handle_message(msg(MessageType::Discover, mac(1)), ctx(), T0);
    let first = Ipv4Addr::new(10, 1, 0, 10);
    assert_eq!(
        drain(&mut s),
        [Output::Probe {
            ip: first,
            timeout: std::time::Duration::from_secs(2)
        }]
    );
    // A retransmission waits for the same probe.
    s.handle_message(msg(MessageType::Discover, mac(1)), ctx(), T0 + 500);
    assert!(drain(&mut s).is_empty());
    // Something answers: the address is held out (replicated) and another one probed.
    s.handle_probe_result(first, true, T0 + 1_000);
    let outs = drain(&mut s);
    let second = Ipv4Addr::new(10, 1, 0, 11);
    assert!(outs.contains(&Output::Probe {
        ip: second,
        timeout: std::time::Duration::from_secs(2)
    }));
    let p = persists(&outs);
    assert_eq!(p[0].1[0].ip, first);
    assert!(matches!(p[0].1[0].state, LeaseState::Declined { .. }));
    assert!(replies(&outs).is_empty());
    // Silence until the timeout: offered.
    s.handle_probe_result(second, false, T0 + 3_000);
    let (_, offer) = only_reply(&mut s);
    assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
    assert_eq!(offer.yiaddr(), second);
    assert_eq!((s.stats().probes, s.stats().probes_in_use), (2, 1));
    // An unknown probe result changes nothing.
    s.handle_probe_result(Ipv4Addr::new(10, 1, 0, 99), true, T0 + 3_000);
    assert!(drain(&mut s).is_empty());
}
