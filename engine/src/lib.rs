//! The migration framework: mailbox copy, directory flag, cutover steps and the worker.

pub mod copy;
pub mod directory;
pub mod imap;
pub mod profiles;
pub mod worker;
