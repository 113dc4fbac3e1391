//! placeholder

pub mod imap;
pub mod copy;
