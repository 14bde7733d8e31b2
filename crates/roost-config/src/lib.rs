//! roost-config
