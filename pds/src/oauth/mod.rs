//! The PDS as the authorization server of the atproto OAuth profile (atproto.com/specs/oauth):
//! client discovery, pushed authorization requests, the sign-in and consent pages, the token
//! and revocation endpoints, and the grants they create. The protocol's shared pieces (PKCE,
//! metadata documents, client metadata validation, DPoP, access tokens, scopes) are in
//! `hearth-oauth`; this module adds the state and the HTTP edge (`http`).

pub mod authorize;
pub mod client_auth;
pub mod client_resolver;
pub mod error;
pub mod http;
pub mod pages;
pub mod par;
pub mod replay;
pub mod store;
pub mod token;

use client_resolver::ClientResolver;
use hearth_oauth::nonce::Nonces;
use replay::Replay;

/// What the authorization server keeps between requests, besides its tables.
pub struct OAuthState {
    pub clients: ClientResolver,
    /// Ids of DPoP proofs and client assertions seen at PAR and the token endpoint.
    pub replay: Replay,
    /// Server DPoP nonces, keyed by the JWT secret as the resource server's are, so the one
    /// nonce a client keeps per origin works at both.
    pub nonces: Nonces,
}

impl OAuthState {
    pub fn new(remote: hearth_net::RemoteClient, dev: bool, secret: &[u8]) -> OAuthState {
        OAuthState {
            clients: ClientResolver::new(remote, dev),
            replay: Replay::default(),
            nonces: Nonces::new(secret),
        }
    }
}
pub mod grants;
