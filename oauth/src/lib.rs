//! The atproto OAuth profile (atproto.com/specs/oauth) as a contract both sides of it share:
//! Hearth's PDS is an authorization server and a resource server, Hearth's web app is a client.
//! Nothing here does HTTP or SQL; the services bring their own edges and stores.

pub mod access_token;
pub mod client;
pub mod client_metadata;
pub mod dpop;
pub mod jwk;
pub mod jws;
pub mod metadata;
pub mod nonce;
pub mod pkce;
pub mod scope;
