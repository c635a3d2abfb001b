//! The client side of the profile, for Hearth's web app: what a person types to sign in, the
//! discovery documents and the checks they must pass, PKCE and `state`, the signed JWTs a client
//! sends (DPoP proofs, `private_key_jwt` client assertions), the client's own registration
//! (the loopback `client_id` in development, the metadata document of a confidential client)
//! and the checks on what comes back (the redirect's `iss`, the token response's `sub` and
//! scope). The web app brings the HTTP (hearth-net's guarded client) and the store.

mod assertion;
mod callback;
mod discovery;
mod input;
mod jws;
mod nonce;
mod pkce;
pub mod registration;
mod token;

pub use assertion::{CLIENT_ASSERTION_TYPE, client_assertion};
pub use callback::check_iss;
pub use discovery::{
    AuthServerMetadata, ProtectedResourceMetadata, check_auth_server, check_protected_resource,
    origin,
};
pub use input::LoginInput;
pub use jws::{dpop_proof, public_jwk};
pub use nonce::{as_wants_nonce, rs_wants_nonce};
pub use pkce::{Pkce, random_token};
pub use registration::{Registration, loopback_client_id};
pub use token::{TokenResponse, check_authority, check_token_response};

/// Why a step of the client flow refused to go on. The messages are safe to show to the person
/// signing in: they name the step, never a token.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    #[error("enter a handle (alice.example.com), a DID or your server's address")]
    BadInput,
    #[error("the server's OAuth metadata is unusable: {0}")]
    BadMetadata(&'static str),
    #[error("the sign-in answer came from another server than the one asked")]
    IssuerMismatch,
    #[error("the sign-in answer names another account than the one asked for")]
    SubjectMismatch,
    #[error("the account's server is not protected by the server that signed it in")]
    IssuerNotAuthoritative,
    #[error("the server's token answer is unusable: {0}")]
    BadTokenResponse(&'static str),
}
