//! `app.bsky.graph.*`: lists, follows, relationships.

use super::{Label, ProfileView};
use serde::Serialize;
use serde_json::Value;

/// `app.bsky.graph.defs#listViewerState`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListViewerState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
}

/// `app.bsky.graph.defs#listViewBasic`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListViewBasic {
    pub uri: String,
    pub cid: String,
    pub name: String,
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_item_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<ListViewerState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexed_at: Option<String>,
}

/// `app.bsky.graph.defs#listView`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListView {
    pub uri: String,
    pub cid: String,
    pub creator: ProfileView,
    pub name: String,
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_facets: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_item_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<ListViewerState>,
    pub indexed_at: String,
}

impl ListView {
    /// The list with its creator and description: the basic view's fields and those.
    pub fn from_basic(
        basic: ListViewBasic,
        creator: ProfileView,
        description: Option<String>,
        description_facets: Option<Value>,
    ) -> ListView {
        ListView {
            uri: basic.uri,
            cid: basic.cid,
            creator,
            name: basic.name,
            purpose: basic.purpose,
            description,
            description_facets,
            avatar: basic.avatar,
            list_item_count: basic.list_item_count,
            labels: basic.labels,
            viewer: basic.viewer,
            indexed_at: basic.indexed_at.unwrap_or_default(),
        }
    }
}

/// `app.bsky.graph.defs#listItemView`.
#[derive(Debug, Clone, Serialize)]
pub struct ListItemView {
    pub uri: String,
    pub subject: ProfileView,
}

/// `app.bsky.graph.defs#relationship`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    pub did: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<String>,
}

/// The union in `app.bsky.graph.getRelationships#output`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "$type")]
pub enum RelationshipOrNotFound {
    #[serde(rename = "app.bsky.graph.defs#relationship")]
    Relationship(Relationship),
    #[serde(rename = "app.bsky.graph.defs#notFoundActor", rename_all = "camelCase")]
    NotFound { actor: String, not_found: bool },
}

/// `app.bsky.graph.getRelationships#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetRelationshipsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub relationships: Vec<RelationshipOrNotFound>,
}

/// `app.bsky.graph.getFollows#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetFollowsOutput {
    pub subject: ProfileView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub follows: Vec<ProfileView>,
}

/// `app.bsky.graph.getFollowers#output` and `getKnownFollowers#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetFollowersOutput {
    pub subject: ProfileView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub followers: Vec<ProfileView>,
}

/// `app.bsky.graph.getBlocks#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetBlocksOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub blocks: Vec<ProfileView>,
}

/// `app.bsky.graph.getMutes#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetMutesOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub mutes: Vec<ProfileView>,
}

/// `app.bsky.graph.getLists#output`, `getListMutes#output`, `getListBlocks#output`.
#[derive(Debug, Clone, Serialize)]
pub struct ListsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub lists: Vec<ListView>,
}

/// `app.bsky.graph.getList#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetListOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub list: ListView,
    pub items: Vec<ListItemView>,
}

/// `app.bsky.graph.getListsWithMembership#listWithMembership`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListWithMembership {
    pub list: ListView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_item: Option<ListItemView>,
}

/// `app.bsky.graph.getListsWithMembership#output`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetListsWithMembershipOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub lists_with_membership: Vec<ListWithMembership>,
}

/// `app.bsky.graph.getSuggestedFollowsByActor#output`.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestionsOutput {
    pub suggestions: Vec<ProfileView>,
}

/// A starter pack view. None is indexed, so the outputs that list them are always empty; the
/// type stands in for `app.bsky.graph.defs#starterPackViewBasic` in them.
#[derive(Debug, Clone, Serialize)]
pub enum StarterPackView {}

/// `app.bsky.graph.getActorStarterPacks#output`, `getStarterPacks#output`,
/// `app.bsky.unspecced.getSuggestedStarterPacks#output`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StarterPacksOutput {
    pub starter_packs: Vec<StarterPackView>,
}

/// `app.bsky.graph.getStarterPacksWithMembership#output`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StarterPacksWithMembershipOutput {
    pub starter_packs_with_membership: Vec<StarterPackView>,
}
