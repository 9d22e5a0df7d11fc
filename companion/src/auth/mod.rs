//! Authentication: corporate SSO with OpenID Connect and the companion's own tokens.

pub mod idp;
pub mod idp_token;
pub mod keys;
pub mod oidc;
pub mod refresh;
pub mod secrets;
