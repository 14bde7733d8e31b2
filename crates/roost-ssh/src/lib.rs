//! roost-ssh
