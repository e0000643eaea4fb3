//! Byte-level transport adapters for the client port.

pub mod authority;
