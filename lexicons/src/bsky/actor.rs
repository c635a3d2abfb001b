//! `app.bsky.actor.*`: profiles and the viewer's relationship with an account.

use super::Label;
use serde::Serialize;
use serde_json::Value;

/// `app.bsky.actor.defs#viewerState`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorViewerState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_followers: Option<KnownFollowers>,
}

/// `app.bsky.actor.defs#knownFollowers`: followers of an account whom the viewer follows.
#[derive(Debug, Clone, Serialize)]
pub struct KnownFollowers {
    pub count: i64,
    pub followers: Vec<ProfileViewBasic>,
}

/// `app.bsky.actor.defs#profileAssociated`: what an account has created.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileAssociated {
    pub lists: i64,
    pub feedgens: i64,
    pub starter_packs: i64,
    pub labeler: bool,
}

/// `app.bsky.actor.defs#profileViewBasic`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileViewBasic {
    pub did: String,
    pub handle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pronouns: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<ActorViewerState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// `app.bsky.actor.defs#profileView`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub did: String,
    pub handle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pronouns: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<ActorViewerState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
}

impl ProfileView {
    /// A `#profileView` of a basic view, with the fields only the richer view has.
    pub fn from_basic(
        basic: ProfileViewBasic,
        description: Option<String>,
        indexed_at: Option<String>,
    ) -> ProfileView {
        ProfileView {
            did: basic.did,
            handle: basic.handle,
            display_name: basic.display_name,
            pronouns: basic.pronouns,
            description,
            avatar: basic.avatar,
            indexed_at,
            created_at: basic.created_at,
            viewer: basic.viewer,
            labels: basic.labels,
        }
    }
}

/// `app.bsky.actor.defs#profileViewDetailed`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileViewDetailed {
    pub did: String,
    pub handle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pronouns: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followers_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posts_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub associated: Option<ProfileAssociated>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<ActorViewerState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
    /// A `com.atproto.repo.strongRef`, as the profile record holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_post: Option<Value>,
}

/// `app.bsky.actor.getProfiles#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetProfilesOutput {
    pub profiles: Vec<ProfileViewDetailed>,
}

/// `app.bsky.actor.searchActors#output`, `app.bsky.actor.getSuggestions#output` and
/// `app.bsky.unspecced.getSuggestedUsers#output` (which has no cursor).
#[derive(Debug, Clone, Serialize)]
pub struct ActorsOutput {
    pub actors: Vec<ProfileView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `app.bsky.actor.searchActorsTypeahead#output`.
#[derive(Debug, Clone, Serialize)]
pub struct TypeaheadOutput {
    pub actors: Vec<ProfileViewBasic>,
}
