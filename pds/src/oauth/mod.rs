//! The PDS as the authorization server of the atproto OAuth profile (atproto.com/specs/oauth):
//! client discovery, pushed authorization requests, the sign-in and consent pages, the token
//! and revocation endpoints, and the grants they create. The protocol's shared pieces (PKCE,
//! metadata documents, client metadata validation, DPoP, access tokens, scopes) are in
//! `hearth-oauth`; this module adds the state and the HTTP edge (`http`).

pub mod http;
