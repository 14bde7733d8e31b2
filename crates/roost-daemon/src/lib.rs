//! roost-daemon
