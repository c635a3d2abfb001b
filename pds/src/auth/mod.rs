//! Client authentication: passwords, session tokens (access and refresh), and the extractors
//! handlers use to require them.

mod extract;
pub mod oauth;
mod password;
mod tokens;

pub use extract::{AccessAuth, AdminAuth, Need, OptionalAccess, OwnerOrAnyone, RefreshAuth};
pub use password::{hash_password, new_app_password, verify_password};
pub use tokens::{Scope, SessionClaims, TokenKind, decode_session, mint_session};
