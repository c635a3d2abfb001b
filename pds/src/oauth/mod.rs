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
pub mod permission_sets;
pub mod replay;
pub mod store;
pub mod token;

use client_resolver::ClientResolver;
use hearth_oauth::dpop::{self, DpopError, Proof};
use hearth_oauth::nonce::Nonces;
use permission_sets::PermissionSetResolver;
use replay::Replay;

/// What the authorization server keeps between requests, besides its tables.
pub struct OAuthState {
    pub clients: ClientResolver,
    /// Ids of DPoP proofs (at PAR, the token endpoint and on resource requests) and of client
    /// assertions already used.
    pub replay: Replay,
    /// Server DPoP nonces, keyed by the JWT secret as the resource server's are, so the one
    /// nonce a client keeps per origin works at both.
    pub nonces: Nonces,
    /// `include:` permission sets: the bundled ones and those resolved over the network.
    pub permission_sets: PermissionSetResolver,
}

impl OAuthState {
    pub fn new(
        remote: hearth_net::RemoteClient,
        dids: std::sync::Arc<atproto::identity::DidResolver>,
        dev: bool,
        secret: &[u8],
    ) -> OAuthState {
        OAuthState {
            permission_sets: PermissionSetResolver::new(remote.clone(), dids),
            clients: ClientResolver::new(remote, dev),
            replay: Replay::default(),
            nonces: Nonces::new(secret),
        }
    }

    /// Checks a request's DPoP proof, the one way for every endpoint: exactly one `DPoP`
    /// header, valid for `htm`/`htu` (and `access_token`'s hash, on resource requests) with a
    /// current nonce, and never used before (its id is spent here).
    pub fn check_proof(
        &self,
        headers: &axum::http::HeaderMap,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<Proof, ProofError> {
        let mut proofs = headers.get_all("dpop").iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return Err(ProofError::NotOne);
        };
        let proof = proof.to_str().map_err(|_| ProofError::NotOne)?;
        let p = dpop::verify(
            proof,
            &dpop::Expectation {
                htm,
                htu,
                now,
                nonces: Some(&self.nonces),
                access_token,
            },
        )?;
        if !self.replay.first_use(&p.jkt, &p.jti, p.replay_until, now) {
            return Err(ProofError::Replayed);
        }
        Ok(p)
    }
}

/// Why a request's DPoP proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("exactly one well-formed DPoP proof is required")]
    NotOne,
    #[error(transparent)]
    Invalid(#[from] DpopError),
    #[error("DPoP proof was already used")]
    Replayed,
}

impl ProofError {
    /// The OAuth error code: `use_dpop_nonce` asks the client to retry with the nonce sent.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            ProofError::Invalid(e) => e.oauth_error(),
            _ => "invalid_dpop_proof",
        }
    }
}
pub mod grants;
