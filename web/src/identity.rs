//! Who is signing in: a handle (or DID) typed into the sign-in page, resolved to the account's
//! DID, its verified handle and its PDS, through the AppView's resolvers (did:web documents and
//! handles are fetched with the guarded client). The app-password path and the OAuth client
//! both start here.

use atproto::identity::{DidResolver, HandleResolver};
use atproto::syntax::{Did, Handle};

/// An account, resolved both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub did: String,
    /// The handle, when the DID document claims one that resolves back to the DID; otherwise
    /// `handle.invalid`.
    pub handle: String,
    /// The PDS the DID document names.
    pub pds: String,
}

/// Why an account could not be resolved. The messages are shown to the person signing in.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("That is not a handle (like alice.bsky.social) or a DID")]
    Syntax,
    #[error("No account was found for that handle")]
    NotFound,
    #[error("That account names no PDS")]
    NoPds,
}

/// Resolves what someone typed: a handle (an `@` in front is allowed) or a DID.
pub async fn resolve(
    dids: &DidResolver,
    handles: &HandleResolver,
    input: &str,
) -> Result<Account, ResolveError> {
    let input = input.trim().trim_start_matches('@');
    let (did, typed_handle) = if input.starts_with("did:") {
        let did: Did = input.parse().map_err(|_| ResolveError::Syntax)?;
        (did, None)
    } else {
        let handle: Handle = input
            .to_ascii_lowercase()
            .parse()
            .map_err(|_| ResolveError::Syntax)?;
        let did = handles.resolve(&handle).await.map_err(|e| {
            tracing::debug!(error = %e, "web sign-in: handle resolution failed");
            ResolveError::NotFound
        })?;
        (did, Some(handle))
    };
    let doc = dids.resolve(&did).await.map_err(|e| {
        tracing::debug!(error = %e, "web sign-in: DID resolution failed");
        ResolveError::NotFound
    })?;
    let pds = doc.pds_endpoint().ok_or(ResolveError::NoPds)?.to_owned();
    let claimed = doc.handle().map(|h| h.normalize());
    let handle = match (claimed, typed_handle) {
        // Typed and claimed agree: both directions hold.
        (Some(c), Some(t)) if c.as_str() == t.as_str() => Some(c),
        // Typed a DID: the document's claim must resolve back to it.
        (Some(c), None) => match handles.resolve(&c).await {
            Ok(back) if back == did => Some(c),
            _ => None,
        },
        _ => None,
    };
    Ok(Account {
        did: did.to_string(),
        handle: handle.unwrap_or_else(Handle::invalid).to_string(),
        pds,
    })
}
