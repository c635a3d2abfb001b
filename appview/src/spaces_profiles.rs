//! The profile look-up the spaces service takes (handle, display name, avatar of members),
//! answered from this AppView's public index, on its reader pool.

use crate::views::Hydrator;
use hearth_db::Readers;
use hearth_spaces::profiles::{Profile, ProfileLookup, Profiles};
use std::collections::HashMap;

pub struct IndexProfiles {
    pub readers: Readers,
    /// The AppView's public URL (avatar links).
    pub public_url: String,
}

impl ProfileLookup for IndexProfiles {
    fn profiles(&self, dids: Vec<String>) -> Profiles<'_> {
        Box::pin(async move {
            let base = self.public_url.clone();
            let found = self
                .readers
                .read(move |conn| {
                    let mut h = Hydrator::new(conn, None, &base)?;
                    let mut out = HashMap::new();
                    for did in dids {
                        let Some(id) = h.actor_id(&did)? else {
                            continue;
                        };
                        let Some(v) = h.profile_basic(id)? else {
                            continue;
                        };
                        out.insert(
                            did,
                            Profile {
                                handle: Some(v.handle),
                                display_name: v.display_name,
                                avatar: v.avatar,
                            },
                        );
                    }
                    Ok::<_, hearth_db::DbError>(out)
                })
                .await;
            // Profiles are decoration: a failed look-up leaves the DIDs bare.
            found.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "spaces: profile look-up failed");
                HashMap::new()
            })
        })
    }
}
