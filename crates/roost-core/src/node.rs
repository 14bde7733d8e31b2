//! One member: [`Election`] and [`Replication`] wired together. The daemon and the
//! whole-cluster simulation drive this.

use crate::{Command, ConfigState, Election, Instant, Replication};
use roost_wire::{MemberId, MemberMessage};

#[derive(Debug)]
pub struct Node<S: ConfigState> {
    pub election: Election,
    pub replication: Replication<S>,
}

impl<S: ConfigState> Node<S> {
    pub fn new(election: Election, replication: Replication<S>, now: Instant) -> Self {
        let _ = now;
        Node { election, replication }
    }
    /// An authenticated, replay-checked message from `from`.
    pub fn handle_message(&mut self, from: MemberId, msg: MemberMessage, now: Instant) {
        let _ = (from, msg, now);
        todo!()
    }
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }
    pub fn handle_local_commit(&mut self, request: u64, user: String, change: String, now: Instant) {
        let _ = (request, user, change, now);
        todo!()
    }
    pub fn poll_command(&mut self) -> Option<Command> {
        todo!()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }
}
