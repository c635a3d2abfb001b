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
use replay::Replay;

/// What the authorization server keeps between requests, besides its tables.
pub struct OAuthState {
    pub clients: ClientResolver,
    /// Ids of client assertions seen at PAR and the token endpoint (DPoP proofs' are in
    /// `AppState::dpop`, shared with the resource server, as are the nonces).
    pub replay: Replay,
}

impl OAuthState {
    pub fn new(remote: hearth_net::RemoteClient, dev: bool) -> OAuthState {
        OAuthState {
            clients: ClientResolver::new(remote, dev),
            replay: Replay::default(),
        }
    }
}
pub mod grants;
