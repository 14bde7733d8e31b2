//! The DHCPv4 server of a Roost cluster as a sans-IO core ([`Server`]): fed packets (decoded
//! by `dhcproto`), peers' lease changes, membership events and wall-clock time; it emits
//! replies and lease changes to persist ([`Output`]), drained with [`Server::poll_output`].
//! Sockets, the clock, the store and the member channel belong to its driver.
//!
//! # Rules
//!
//! 1. **Shares** ([`shares`]). Each free address has one member that may allocate it: with
//!    `none` an even split, with `cluster-master` the primary holds about 90 % and the others
//!    the rest. A member offers a *new* address only from its share, so members never race
//!    for one address while the shares are respected.
//! 2. **The lease table is the cluster's.** Every lease change is replicated to every
//!    member. While an address's allocator (the member whose share holds it) can be
//!    reached, it alone grants and extends leases on it, so that its table always knows how
//!    long each lease runs whatever the replication delay, and it never reuses an address
//!    whose renewal is still on its way (the others stay silent; a RENEWING client of
//!    another member rebinds after T2 and the allocator answers). Once it is lost, every
//!    member renews its leases at once (RENEWING, REBINDING, INIT-REBOOT), within the
//!    takeover rule's caps. Changes to one address are ordered by their stamp ([`lease`]),
//!    so members that saw the same changes agree.
//! 3. **Durable before the ACK.** A grant, renewal, release, decline or expiry goes into the
//!    open batch; [`Output::Persist`] hands a batch to the driver when none is in flight, and
//!    the ACKs it holds go out on [`Server::handle_durable`]: once the change is in this
//!    member's store and one peer's, or in this member's alone when no peer is reachable
//!    (degraded, counted). Changes made while a batch is in flight form the next one, so one
//!    fsync and one round trip serve many leases. OFFERs, NAKs and INFORM answers are not
//!    held (an offer's reservation is local).
//! 4. **No lease outlives its pool's lease time**: every grant or renewal ends at most a
//!    lease time from now.
//! 5. **Ping probe** (`ping-timeout`): a new address is offered only after
//!    [`Output::Probe`] and [`Server::handle_probe_result`]; one in use is held out of the
//!    pool like a declined one.
//!
//! # The takeover rule, and why no address is leased twice even in a partition
//!
//! A failure detector cannot tell a dead member from a cut-off one, so the rule never relies
//! on it. `n` is the number of members in the layout (less those declared down).
//!
//! * **A lost member's leases** are renewed by the survivors at once (rule 2). While `m` is
//!   lost, a renewal here of a lease on an address that `m` allocates ends by
//!   `last_contact(m) + lease` (`m` may reuse the address once the lease runs out in its
//!   view); and an address that expired, was released or left its decline hold here after
//!   the last contact with `m` is not reused before `last_contact(m) + lease + margin` (`m`
//!   may have renewed it, within the same cap: its client may even ask `m` for the address
//!   it released here). So a renewal that one side did not hear of never meets a new lease
//!   on the other. A DISCOVER is offered the client's existing lease only by the address's
//!   allocator (another member's view of that lease may be stale); a lost allocator's
//!   client gets a fresh address.
//! * **A lost member's free share** is taken over at `last_contact(m) + longest lease +
//!   margin` ([`TAKEOVER_MARGIN_MS`]), and only by a side that reaches a strict majority of
//!   the `n` members. Each of its addresses then goes to the next member in that address's
//!   rendezvous order over the whole layout ([`Server::allocator`]), the same on every
//!   member whoever it can reach, so two members allocate one address only if one has taken
//!   the other over. A member cut off from a strict majority knows that side may take its
//!   share over, so it caps every lease it grants or renews at `last_contact + lease`: by the
//!   time the majority takes its share over, every lease it granted since has run out, and
//!   it grants none after. Two sides of a partition can never both hold a strict majority,
//!   so at most one takes a share over, and the share's owner has stopped by then. The
//!   margin covers the difference between the two sides' last-contact times (the failure
//!   detector's dead interval) and clock skew. A member that was cut off from a majority
//!   while `m` was lost may be taken over by `m`'s side: its cap lasts, and after the
//!   takeover wait it grants and extends nothing of its own, until `m` is back, even once it
//!   reaches a majority again through a member that also reaches `m` (two majorities that
//!   share a member are no partition's sides). A member declared down still counts so
//!   until the leases it can have granted before it went down have run out.
//! * **Two members**: one survivor is not a majority, so it serves new clients only from its
//!   own share (with `cluster-master`, a standby's reserve of about 10 %) and renews every
//!   lease, for as long as the other is lost, and never caps its own leases (the other side
//!   is no majority either). Its peer's share comes to it only through the operator's
//!   [`Server::handle_partner_down`] (the peer is down and has served nothing since a given
//!   time): the share is taken over once every lease the peer can have granted by then has
//!   run out, majority or not. If the peer is in fact alive and serving, both may lease one
//!   address: the operator's risk, as with ISC's PARTNER-DOWN (which waits its MCLT the same
//!   way). Taking the peer's share after a lease time without that word would be exactly
//!   the double lease a partition produces; taking it at once on that word would reuse the
//!   addresses the peer leased alone (degraded) before it died.
//! * **A member that returns** ([`Server::handle_member_up`]) gets its share back at once;
//!   each member allocates nothing new until it has applied the returning member's table
//!   ([`Server::handle_member_synced`]), so that it never reuses an address leased on the
//!   other side meanwhile.
//!
//! Left to the driver: it calls `handle_member_lost` with a last-contact time never later
//! than the last hello heard (after a restart, the persisted one), on both sides of a cut
//! within the margin (the failure detector must be symmetric: a member that still hears a
//! peer that no longer hears it is outside this argument), sends every batch to every
//! connected peer (a peer's ack means "written to my lease store"), and sends its table to a
//! returning member after `handle_member_up`.
//!
//! Known residual risk: a client that RELEASEs its address at one member, which leases it
//! anew before the release reached the others (no member was lost then, so nothing held it
//! back), and that then INIT-REBOOTs or REBINDs for the released address at another member
//! that has meanwhile lost the first, may be given it back there. RFC 2131 clients do not
//! ask for an address they released; the tests model clients that do not.
//!
//! # Not here yet
//!
//! BOOTP, rebalancing the shares while members can talk (the layout is fixed at
//! [`Server::new`]), option 118 / link selection, restarts (a member starts with an empty
//! table and every peer reachable: the driver feeds its stored changes through
//! [`Server::handle_replicated`] first), and a shared server address for RENEWING clients
//! of a dead member (they rebind after T2, and the allocator alone answers while it lives).

#![forbid(unsafe_code)]

pub mod lease;
pub mod server;
pub mod shares;
pub mod spec;

pub use lease::{ClientId, FreeReason, Lease, LeaseChange, LeaseState, Stamp};
pub use server::{
    BatchId, Destination, Drops, MessageCounts, Output, PacketContext, Reply, Server, Stats,
    DECLINE_HOLD_MS, OFFER_HOLD_MS, REUSE_GRACE_MS, TAKEOVER_MARGIN_MS,
};
pub use shares::Layout;
pub use spec::{Activation, AddressRange, PolicySpec, PoolSpec, SpecError};

#[cfg(test)]
mod tests;
