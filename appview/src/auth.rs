//! Which tokens the AppView's methods take; the check itself is `hearth_xrpc::auth`'s.

use crate::state::AppState;
use axum::extract::FromRef;
use hearth_xrpc::auth::{Audience, ServiceAuth};

pub use hearth_xrpc::auth::{OptionalViewer, Viewer};

const GET_FEED: &str = "app.bsky.feed.getFeed";
const BSKY_APPVIEW: &[&str] = &["bsky_appview"];

/// The audience of each method's tokens: `social.hearth` methods are addressed to
/// `#hearth_appview`, the rest to `#bsky_appview`. getFeed carries a token minted for the feed
/// generator (the reference PDS's behaviour), which the AppView passes on.
pub fn audience(nsid: &str) -> Audience {
    if nsid == GET_FEED {
        Audience::PassedOn {
            services: BSKY_APPVIEW,
            methods: &[GET_FEED, "app.bsky.feed.getFeedSkeleton"],
        }
    } else if hearth_lexicons::is_hearth_method(nsid) {
        Audience::Service(&[hearth_lexicons::SERVICE_ID])
    } else {
        Audience::Service(BSKY_APPVIEW)
    }
}

impl FromRef<AppState> for ServiceAuth {
    fn from_ref(state: &AppState) -> ServiceAuth {
        state.auth.clone()
    }
}
