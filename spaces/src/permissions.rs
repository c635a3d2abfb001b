//! The gate. Every request, read or write, passes through here *inside* the same database
//! transaction (or read snapshot) that then serves it, so a removal or a ban takes effect on
//! the very next request and there is no window between the check and the use. Roles come
//! from the spaces tables only, never from anything in the token.

use crate::model::{Role, SpaceError, SpaceResult};
use crate::store::{self, ChannelRow, PostRow, SpaceRow};
use crate::uri::{Collection, SpaceUri};
use rusqlite::Connection;

/// A current member's standing in a space.
#[derive(Debug, Clone)]
pub struct Access {
    pub space: SpaceRow,
    pub role: Role,
}

impl Access {
    /// Refuses unless the member holds at least `needed`.
    pub fn require(&self, needed: Role, why: &'static str) -> SpaceResult<()> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(SpaceError::Forbidden(why))
        }
    }
}

/// Parses a URI from a request; the refusal names the rule, not the input.
pub fn parse_uri(s: &str) -> SpaceResult<SpaceUri> {
    s.parse::<SpaceUri>()
        .map_err(|e| SpaceError::invalid(e.to_string()))
}

/// The space a URI points into, if it is hosted here.
pub fn space_of(
    conn: &Connection,
    authority: &str,
    uri: &SpaceUri,
) -> SpaceResult<Option<SpaceRow>> {
    if uri.authority != authority {
        return Err(SpaceError::invalid("Space is not hosted by this AppView"));
    }
    store::space_by_skey(conn, &uri.skey)
}

/// The caller's membership of the space `uri` is in. A space that doesn't exist and one the
/// caller isn't in (never joined, removed, banned) get the same answer.
pub fn member_access(
    conn: &Connection,
    authority: &str,
    uri: &SpaceUri,
    did: &str,
) -> SpaceResult<Access> {
    let space = space_of(conn, authority, uri)?.ok_or(SpaceError::NotMember)?;
    let (role, _) = store::membership(conn, space.id, did)?.ok_or(SpaceError::NotMember)?;
    Ok(Access { space, role })
}

/// A channel of the space that the member may read.
pub fn readable_channel(
    conn: &Connection,
    acc: &Access,
    uri: &SpaceUri,
) -> SpaceResult<ChannelRow> {
    let path = uri
        .as_collection(Collection::Channel)
        .ok_or_else(|| SpaceError::invalid("Expected a channel URI"))?;
    let channel = store::channel_by_rkey(conn, acc.space.id, &path.rkey)?
        .filter(|c| c.author == path.author)
        .ok_or(SpaceError::NotFound("Channel not found"))?;
    if !channel.can_read(acc.role) {
        return Err(SpaceError::Forbidden("You may not read this channel"));
    }
    Ok(channel)
}

/// A post the member may see: its channel is readable, and a hidden post is visible only to
/// moderators (to everyone else it does not exist).
pub fn readable_post(
    conn: &Connection,
    acc: &Access,
    uri: &SpaceUri,
) -> SpaceResult<(PostRow, ChannelRow)> {
    let path = uri
        .as_collection(Collection::Post)
        .ok_or_else(|| SpaceError::invalid("Expected a post URI"))?;
    let post = store::post_by_rkey(conn, acc.space.id, &path.rkey)?
        .filter(|p| p.author == path.author)
        .ok_or(SpaceError::NotFound("Post not found"))?;
    let channel =
        store::channel_by_id(conn, post.channel)?.ok_or(SpaceError::NotFound("Post not found"))?;
    if !channel.can_read(acc.role) {
        return Err(SpaceError::Forbidden("You may not read this channel"));
    }
    if post.hidden && acc.role < Role::Moderator {
        return Err(SpaceError::NotFound("Post not found"));
    }
    // A reply in a hidden thread is as hidden as its thread.
    if let Some(root) = post.root {
        let root_hidden = store::post_hidden(conn, root)?;
        if root_hidden && acc.role < Role::Moderator {
            return Err(SpaceError::NotFound("Post not found"));
        }
    }
    Ok((post, channel))
}

/// May `actor` (with `actor_role`) change the standing of a member holding `target_role`?
/// Nobody acts on the owner; only the owner acts on admins; admins act on the rest.
pub fn may_manage(actor_role: Role, target_role: Role) -> SpaceResult<()> {
    if target_role == Role::Owner {
        return Err(SpaceError::Forbidden(
            "No one may demote or remove the owner",
        ));
    }
    if target_role == Role::Admin && actor_role < Role::Owner {
        return Err(SpaceError::Forbidden("Only the owner manages admins"));
    }
    if actor_role < Role::Admin {
        return Err(SpaceError::Forbidden("Only admins manage members"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn management_rules() {
        assert!(may_manage(Role::Owner, Role::Owner).is_err());
        assert!(may_manage(Role::Admin, Role::Owner).is_err());
        assert!(may_manage(Role::Admin, Role::Admin).is_err());
        assert!(may_manage(Role::Owner, Role::Admin).is_ok());
        assert!(may_manage(Role::Admin, Role::Moderator).is_ok());
        assert!(may_manage(Role::Admin, Role::Member).is_ok());
        assert!(may_manage(Role::Moderator, Role::Member).is_err());
        assert!(may_manage(Role::Member, Role::Member).is_err());
    }
}
