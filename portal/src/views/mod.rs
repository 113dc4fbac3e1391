//! One module per page or endpoint.

pub(crate) mod api;
pub(crate) mod book;
pub(crate) mod health;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod status;

use crate::error::PortalError;

pub(crate) async fn not_found() -> PortalError {
    PortalError::NotFound
}
