//! Where a user's mail lives right now. The LDAP directory is authoritative;
//! the trait exists so the handlers can be tested without a directory.

use cutover_core::EmailAddress;
use cutover_engine::directory::{Directory, DirectoryError, Route};
use std::future::Future;
use std::pin::Pin;

/// The platform whose servers a user should be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Legacy,
    Target,
}

impl Placement {
    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Legacy => "legacy",
            Placement::Target => "target",
        }
    }
}

/// The lookup itself failed (directory down, ambiguous entries, …). An unknown
/// user is *not* an error: they get the legacy answer, so the endpoint is no
/// address-enumeration oracle.
#[derive(Debug, thiserror::Error)]
#[error("route lookup failed: {0}")]
pub struct LookupError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Placement, LookupError>> + Send + 'a>>;

pub trait RouteLookup: Send + Sync + 'static {
    fn placement<'a>(&'a self, email: &'a EmailAddress) -> LookupFuture<'a>;
}

impl RouteLookup for Directory {
    fn placement<'a>(&'a self, email: &'a EmailAddress) -> LookupFuture<'a> {
        Box::pin(async move {
            match self.route(email).await {
                Ok(Route::Target) => Ok(Placement::Target),
                Ok(Route::Legacy | Route::Unset | Route::Other(_)) => Ok(Placement::Legacy),
                Err(DirectoryError::NoSuchUser(_)) => Ok(Placement::Legacy),
                Err(e) => Err(LookupError(Box::new(e))),
            }
        })
    }
}

/// Every address on one platform; for tests and for running without a directory.
#[derive(Debug, Clone, Copy)]
pub struct Fixed(pub Placement);

impl RouteLookup for Fixed {
    fn placement<'a>(&'a self, _email: &'a EmailAddress) -> LookupFuture<'a> {
        let p = self.0;
        Box::pin(async move { Ok(p) })
    }
}
