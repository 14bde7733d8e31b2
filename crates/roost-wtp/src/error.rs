//! What the AP refused to act on. Every input the core drops returns one of these (and counts
//! it in [`crate::WtpCounters`]); none changes the AP's state.

use crate::State;
use roost_capwap::CapwapError;
use std::net::SocketAddr;

/// Why an input was ignored, or an identity refused. The Display text is one log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WtpError {
    #[error("malformed CAPWAP {channel} datagram from {from}: {error}")]
    Malformed {
        channel: &'static str,
        from: SocketAddr,
        error: CapwapError,
    },
    #[error("{message} from {from}, which this AP is not talking to (state {state})")]
    UnexpectedSource {
        from: SocketAddr,
        message: &'static str,
        state: State,
    },
    #[error("unexpected {message} from {from} in state {state}")]
    Unexpected {
        from: SocketAddr,
        message: &'static str,
        state: State,
    },
    #[error("{message} from {from} answers sequence number {seq}, but no request with it is outstanding (duplicate or late), discarded")]
    DuplicateResponse {
        from: SocketAddr,
        message: &'static str,
        seq: u8,
    },
    #[error("{message} from {from} with sequence number {seq} is older than the last request ({last}), ignored")]
    StaleRequest {
        from: SocketAddr,
        message: &'static str,
        seq: u8,
        last: u8,
    },
    #[error("{message} from {from} ignored while sulking (RFC 5415 2.3.1)")]
    Sulking {
        from: SocketAddr,
        message: &'static str,
    },
    #[error("{message} from {from} carries session {got}, not this AP's")]
    WrongSession {
        from: SocketAddr,
        got: String,
        message: &'static str,
    },
    #[error("data frame from {from} ignored: a simulated AP bridges no traffic")]
    DataFrame { from: SocketAddr },
    #[error("AP identity cannot be encoded: {0}")]
    BadIdentity(CapwapError),
}
