//! The DID and handle resolvers both services build: did:web documents and handles'
//! `/.well-known/atproto-did` answers are named by whoever publishes them, so they are fetched
//! with the guarded client; the PLC directory is the operator's choice and is fetched with the
//! operator client ([`crate::Config::operator_client`]).

use crate::RemoteClient;
use atproto::identity::{DidResolver, DidResolverConfig, HandleResolver, IdentityError};
use std::time::Duration;

/// How long a handle look-up may take.
const HANDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolvers for DIDs (against `plc_url` with `operator`; did:web over plain http when `dev`)
/// and handles.
pub fn identity_resolvers(
    plc_url: &str,
    dev: bool,
    remote: &RemoteClient,
    operator: &reqwest::Client,
) -> Result<(DidResolver, HandleResolver), IdentityError> {
    let dids = DidResolver::new(DidResolverConfig {
        plc_url: plc_url.to_owned(),
        insecure_did_web: dev,
        web_client: Some(remote.reqwest().clone()),
        plc_client: Some(operator.clone()),
        ..DidResolverConfig::default()
    })?;
    let handles = HandleResolver::new(HANDLE_TIMEOUT)?.with_client(remote.reqwest().clone());
    Ok((dids, handles))
}
