//! The atproto OAuth profile (atproto.com/specs/oauth) as a contract both sides of it share:
//! Hearth's PDS is an authorization server and a resource server, Hearth's web app is a client.
//! Nothing here does HTTP or SQL; the services bring their own edges and stores.

pub mod client;
