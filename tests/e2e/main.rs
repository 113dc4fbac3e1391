//! End-to-end tests against real servers, started by the test kit. All
//! integration tests compile into this one binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod autoconfig;
mod copy;
mod copy_cli;
mod copy_condstore;
mod copy_crash;
mod copy_delta;
mod copy_errors;
mod copy_field;
mod copy_login;
mod copy_names;
mod cutover;
mod cutover_failure;
mod db;
mod mailer;
mod portal;
mod support;
mod sync_index;
