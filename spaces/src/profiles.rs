//! What the spaces show of an account beside its DID (handle, display name, avatar). The
//! public profile index is the AppView's; this crate must not depend on the AppView, so the
//! AppView hands the service a [`ProfileLookup`] when it mounts it.

use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

/// The public face of an account, as the AppView's index knows it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// What a look-up answers: the profiles it found, by DID.
pub type Profiles<'a> = Pin<Box<dyn Future<Output = HashMap<String, Profile>> + Send + 'a>>;

/// Looks up the profiles of a page of accounts at once (asynchronously: the AppView reads its
/// index on its reader pool); accounts it does not know are left out of the answer, and
/// their views carry the DID only.
pub trait ProfileLookup: Send + Sync + 'static {
    fn profiles(&self, dids: Vec<String>) -> Profiles<'_>;
}
