//! The one door to the core's permission decisions: [`authorize`] asks
//! [`pecdesk_core::authz::authorize`] and turns a refusal into the HTTP error it answers
//! as (404 not visible, 403 forbidden, 409 conflict with the state, 422 invalid
//! input). Handlers and domain
//! code never decide permissions themselves.

use pecdesk_core::authz::{self, Denied, DeniedAs, Operation, Person};

use crate::error::{Error, Result};

/// May `who` perform `op`? `Ok(())` or the error to answer with.
pub fn authorize(who: &Person, op: Operation<'_>) -> Result<()> {
    authz::authorize(who, op).map_err(Error::from)
}

/// [`authorize`] keeping the core's reason, for the one caller that adds to its message
/// (a refused decision names the designated approver).
pub fn check(who: &Person, op: Operation<'_>) -> std::result::Result<(), Denied> {
    authz::authorize(who, op)
}

impl From<Denied> for Error {
    fn from(d: Denied) -> Self {
        match d.answered_as() {
            DeniedAs::NotFound => Error::NotFound,
            DeniedAs::Forbidden => Error::Forbidden(d.to_string()),
            DeniedAs::Conflict => Error::Conflict(d.to_string()),
            DeniedAs::Invalid => Error::Invalid(d.to_string()),
        }
    }
}
