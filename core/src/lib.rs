//! Domain types, configuration and the migration database shared by every part
//! of cutover. Nothing here talks to a mail server.

pub mod config;
pub mod db;
pub mod types;

pub use types::{EmailAddress, MigrationState, ParseError, SlotId, UserId};
