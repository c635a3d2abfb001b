//! Membership: invites, join requests, roles, removal, bans, leaving, and the member list.
//! Every change is written to the audit log in the same transaction.

use crate::fanout;
use crate::model::*;
use crate::permissions::{may_manage, member_access, parse_uri, space_of};
use crate::service::Spaces;
use crate::store::{self, Notice, SpaceRow};
use crate::uri::SpaceUri;
use crate::views::*;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInvite {
    pub space: String,
    pub role: Option<String>,
    pub max_uses: Option<i64>,
    pub expires_in_hours: Option<i64>,
    /// The one account that may accept the invite (an invite by handle, resolved by the
    /// client); its default use limit is then 1.
    pub invitee: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedInvite {
    pub invite: InviteView,
    pub token: String,
    pub link: String,
}

#[derive(Debug, Serialize)]
pub struct InviteList {
    pub invites: Vec<InviteView>,
}

/// What an invite link shows before joining: the space's name and description, who invited,
/// the role offered. Anyone holding a working link could join and see as much.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitePreview {
    pub space: SpaceView,
    pub invited_by: MemberView,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitee: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Joined {
    pub space: SpaceView,
}

#[derive(Debug, Serialize)]
pub struct JoinOutcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<JoinRequestView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space: Option<SpaceView>,
}

#[derive(Debug, Serialize)]
pub struct JoinRequestList {
    pub requests: Vec<JoinRequestView>,
}

#[derive(Debug, Serialize)]
pub struct Decided {
    pub request: JoinRequestView,
}

#[derive(Debug, Serialize)]
pub struct MemberList {
    pub members: Vec<MemberView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BanView {
    pub did: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub banned_by: String,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct BanList {
    pub bans: Vec<BanView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MemberOut {
    pub member: MemberView,
}

/// What an invite made without an expiry lasts (docs/SPACES.md, the invite.create lexicon).
pub const INVITE_DEFAULT_HOURS: i64 = 7 * 24;
/// How many joins an invite made without a use limit allows.
pub const INVITE_DEFAULT_USES: i64 = 50;

/// The highest role someone holding `creator` may hand out by invite: the owner invites
/// admins, an admin anyone below admin; anyone else no one.
fn invite_ceiling(creator: Role) -> Option<Role> {
    match creator {
        Role::Owner => Some(Role::Admin),
        Role::Admin => Some(Role::Moderator),
        Role::Moderator | Role::Member => None,
    }
}

/// A working invite: its row, the role it grants now (capped by its creator's current
/// authority: a creator who was removed or demoted below admin voids it, and one demoted from
/// owner to admin can no longer bring in admins), and its space. Every way an invite does not
/// work gets the same answer.
fn usable_invite(
    conn: &Connection,
    hash: &[u8],
    now: i64,
) -> SpaceResult<(store::InviteRow, Role, SpaceRow)> {
    let invalid = || SpaceError::Named("InvalidInvite", "This invite is not valid");
    let invite = store::invite_by_hash(conn, hash)?.ok_or_else(invalid)?;
    if invite.revoked
        || invite.expires_at.is_some_and(|e| e <= now)
        || invite.max_uses.is_some_and(|m| invite.uses >= m)
    {
        return Err(invalid());
    }
    let ceiling = store::membership(conn, invite.space, &invite.created_by)?
        .and_then(|(r, _)| invite_ceiling(r))
        .ok_or_else(invalid)?;
    let role = invite.role.min(ceiling);
    let space = store::space_by_id(conn, invite.space)?.ok_or_else(invalid)?;
    Ok((invite, role, space))
}

fn request_view(
    conn: &Connection,
    space: &SpaceRow,
    authority: &str,
    id: i64,
) -> SpaceResult<JoinRequestView> {
    let space_uri = SpaceUri::space(authority, &space.skey).to_string();
    let store::JoinRequestRow {
        did,
        answer,
        status,
        created_at: created,
        decided_by: by,
        decided_at: at,
    } = store::join_request(conn, id, space.id)?
        .ok_or(SpaceError::NotFound("Join request not found"))?;
    let m = store::membership(conn, space.id, &did)?;
    Ok(JoinRequestView {
        id: id.to_string(),
        space: space_uri,
        member: MemberView {
            profile: Default::default(),
            did,
            role: m.map(|(r, _)| r.as_str().into()),
            joined_at: m.map(|(_, t)| fmt_time(t)),
        },
        answer,
        status,
        created_at: fmt_time(created),
        decided_by: by,
        decided_at: at.map(fmt_time),
    })
}

impl Spaces {
    pub async fn create_invite(
        &self,
        did: &str,
        input: CreateInvite,
    ) -> SpaceResult<CreatedInvite> {
        let uri = parse_uri(&input.space)?;
        let role = match &input.role {
            Some(r) => known(r, Role::parse, "role")?,
            None => Role::Member,
        };
        if role == Role::Owner {
            return Err(SpaceError::Forbidden(
                "An invite cannot make an owner; transfer ownership with member.setRole",
            ));
        }
        if let Some(i) = &input.invitee
            && i.parse::<atproto::syntax::Did>().is_err()
        {
            return Err(SpaceError::invalid("invitee must be a DID"));
        }
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins create invites")?;
            if role == Role::Admin {
                acc.require(Role::Owner, "Only the owner invites admins")?;
            }
            let now = now_ms();
            let token = new_token();
            let hours = input.expires_in_hours.unwrap_or(INVITE_DEFAULT_HOURS);
            let expires = Some(now.saturating_add(hours.saturating_mul(3_600_000)));
            let default_uses = if input.invitee.is_some() {
                1
            } else {
                INVITE_DEFAULT_USES
            };
            let max_uses = Some(input.max_uses.unwrap_or(default_uses));
            let id = store::insert_invite(
                conn,
                &store::NewInvite {
                    space: acc.space.id,
                    token_hash: &token_hash(&token),
                    role,
                    max_uses,
                    expires_at: expires,
                    created_by: &did,
                    invitee: input.invitee.as_deref(),
                    now,
                },
            )?;
            store::audit(
                conn,
                acc.space.id,
                &did,
                "invite.create",
                Some(&id.to_string()),
                Some(role.as_str()),
                now,
            )?;
            let space_uri = uri.space_uri().to_string();
            let invite = store::invite(conn, id, &space_uri)?;
            Ok(CreatedInvite {
                invite,
                link: format!("{}/i/{token}", s.public_url),
                token,
            })
        })
        .await
    }

    pub async fn list_invites(&self, did: &str, uri: &str) -> SpaceResult<InviteList> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            acc.require(Role::Admin, "Only admins see invites")?;
            let space_uri = uri.space_uri().to_string();
            Ok(InviteList {
                invites: store::invites(conn, acc.space.id, &space_uri)?,
            })
        })
        .await
    }

    pub async fn revoke_invite(&self, did: &str, uri: &str, id: &str) -> SpaceResult<()> {
        let uri = parse_uri(uri)?;
        let id: i64 = id
            .parse()
            .map_err(|_| SpaceError::NotFound("Invite not found"))?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins revoke invites")?;
            if !store::revoke_invite(conn, id, acc.space.id)? {
                return Err(SpaceError::NotFound("Invite not found"));
            }
            store::audit(
                conn,
                acc.space.id,
                &did,
                "invite.revoke",
                Some(&id.to_string()),
                None,
                now_ms(),
            )?;
            Ok(())
        })
        .await
    }

    /// What an invite link shows before joining (no account needed: the web app's landing
    /// page calls it for someone not signed in yet).
    pub async fn preview_invite(&self, token: &str) -> SpaceResult<InvitePreview> {
        let hash = token_hash(token);
        let mut preview = self
            .read(move |conn, s| {
                let (invite, role, space) = usable_invite(conn, &hash, now_ms())?;
                let mut ctx = s.ctx(conn, &space, "", Role::Member);
                Ok(InvitePreview {
                    space: ctx.space_view(None),
                    invited_by: ctx.member(&invite.created_by)?,
                    role: role.as_str().into(),
                    expires_at: invite.expires_at.map(fmt_time),
                    invitee: invite.invitee,
                })
            })
            .await?;
        self.fill_profiles(std::slice::from_mut(&mut preview.invited_by))
            .await;
        Ok(preview)
    }

    /// Joins with an invite token: any atproto account, from any PDS.
    pub async fn accept_invite(&self, did: &str, token: &str) -> SpaceResult<Joined> {
        let hash = token_hash(token);
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let now = now_ms();
            let (invite, role, space) = usable_invite(conn, &hash, now)?;
            let (id, space_id) = (invite.id, space.id);
            // An invite for one account is no invite for anyone else.
            if invite.invitee.as_deref().is_some_and(|i| i != did) {
                return Err(SpaceError::Named(
                    "InvalidInvite",
                    "This invite is not valid",
                ));
            }
            if store::is_banned(conn, space_id, &did)? {
                return Err(SpaceError::Named(
                    "Banned",
                    "You are banned from this space",
                ));
            }
            let role = match store::membership(conn, space_id, &did)? {
                // Already in: the invite is not used up.
                Some((r, _)) => r,
                None => {
                    store::add_member(conn, space_id, &did, role, now)?;
                    store::use_invite(conn, id)?;
                    store::audit(
                        conn,
                        space_id,
                        &did,
                        "invite.accept",
                        Some(&id.to_string()),
                        Some(role.as_str()),
                        now,
                    )?;
                    role
                }
            };
            let space = store::space_by_id(conn, space.id)?.unwrap_or(space);
            let viewer = s.viewer_state(conn, space.id, &did, role)?;
            Ok(Joined {
                space: store::space_view(&s.authority, &space, Some(viewer)),
            })
        })
        .await
    }

    /// Asks to join a `request` space (or joins an `open` one). An invite-only space does not
    /// exist for someone without an invite.
    pub async fn request_join(
        &self,
        did: &str,
        uri: &str,
        answer: Option<String>,
    ) -> SpaceResult<JoinOutcome> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        let outcome = self
            .write(move |txn, s| {
                let conn = txn.conn;
                let space = space_of(conn, &s.authority, &uri)?
                    .ok_or(SpaceError::NotFound("Space not found"))?;
                if store::is_banned(conn, space.id, &did)? {
                    return Err(SpaceError::Named(
                        "Banned",
                        "You are banned from this space",
                    ));
                }
                if store::membership(conn, space.id, &did)?.is_some() {
                    return Err(SpaceError::Named(
                        "AlreadyMember",
                        "You are already a member",
                    ));
                }
                // The caller is not a member yet: the request is charged to their own budget,
                // never the space's, so strangers cannot lock its members out.
                if !s.limits.join(&did) {
                    return Err(SpaceError::RateLimited);
                }
                let now = now_ms();
                match space.policy() {
                    JoinPolicy::Invite => Err(SpaceError::NotFound("Space not found")),
                    JoinPolicy::Open => {
                        store::add_member(conn, space.id, &did, Role::Member, now)?;
                        store::audit(
                            conn,
                            space.id,
                            &did,
                            "join.approve",
                            Some(&did),
                            Some("open"),
                            now,
                        )?;
                        let space = store::space_by_id(conn, space.id)?.unwrap_or(space);
                        let viewer = s.viewer_state(conn, space.id, &did, Role::Member)?;
                        Ok(JoinOutcome {
                            request: None,
                            space: Some(store::space_view(&s.authority, &space, Some(viewer))),
                        })
                    }
                    JoinPolicy::Request => {
                        let id = match store::pending_request(conn, space.id, &did)? {
                            Some(id) => id,
                            None => {
                                let answer = answer
                                    .map(|a| a.trim().to_owned())
                                    .filter(|a| !a.is_empty());
                                let id =
                                    store::insert_join_request(conn, space.id, &did, answer, now)?;
                                store::audit(
                                    conn,
                                    space.id,
                                    &did,
                                    "join.request",
                                    Some(&did),
                                    None,
                                    now,
                                )?;
                                let subject =
                                    SpaceUri::space(&s.authority, &space.skey).to_string();
                                let notice = Notice {
                                    space: space.id,
                                    reason: "joinRequest",
                                    author: &did,
                                    subject: &subject,
                                    now,
                                };
                                fanout::admins(conn, &notice)?;
                                id
                            }
                        };
                        Ok(JoinOutcome {
                            request: Some(request_view(conn, &space, &s.authority, id)?),
                            space: None,
                        })
                    }
                }
            })
            .await?;
        Ok(outcome)
    }

    /// The caller's own newest join request. A space that does not take requests answers as
    /// if it did not exist, as `join.request` does.
    pub async fn my_request(&self, did: &str, uri: &str) -> SpaceResult<Decided> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let none = || SpaceError::NotFound("No join request");
            let space = space_of(conn, &s.authority, &uri)?
                .filter(|space| space.policy() != JoinPolicy::Invite)
                .ok_or_else(none)?;
            let id = store::newest_request(conn, space.id, &did)?.ok_or_else(none)?;
            Ok(Decided {
                request: request_view(conn, &space, &s.authority, id)?,
            })
        })
        .await
    }

    /// Withdraws the caller's own pending join request.
    pub async fn cancel_request(&self, did: &str, uri: &str) -> SpaceResult<()> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let none = || SpaceError::NotFound("No pending join request");
            let space = space_of(conn, &s.authority, &uri)?.ok_or_else(none)?;
            if !store::cancel_request(conn, space.id, &did)? {
                return Err(none());
            }
            store::audit(
                conn,
                space.id,
                &did,
                "join.cancel",
                Some(&did),
                None,
                now_ms(),
            )?;
            Ok(())
        })
        .await
    }

    pub async fn list_requests(
        &self,
        did: &str,
        uri: &str,
        status: Option<String>,
    ) -> SpaceResult<JoinRequestList> {
        let uri = parse_uri(uri)?;
        let status = status.unwrap_or_else(|| "pending".into());
        if !matches!(status.as_str(), "pending" | "approved" | "rejected") {
            return Err(SpaceError::invalid("Unknown value for status"));
        }
        let did = did.to_owned();
        self.read(move |conn, s| {
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            acc.require(Role::Admin, "Only admins see join requests")?;
            let ids = store::join_request_ids(conn, acc.space.id, &status)?;
            let mut requests = Vec::with_capacity(ids.len());
            for id in ids {
                requests.push(request_view(conn, &acc.space, &s.authority, id)?);
            }
            Ok(JoinRequestList { requests })
        })
        .await
    }

    pub async fn decide_request(
        &self,
        did: &str,
        uri: &str,
        id: &str,
        approve: bool,
    ) -> SpaceResult<Decided> {
        let uri = parse_uri(uri)?;
        let id: i64 = id
            .parse()
            .map_err(|_| SpaceError::NotFound("Join request not found"))?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins decide join requests")?;
            let store::JoinRequestRow {
                did: who, status, ..
            } = store::join_request(conn, id, acc.space.id)?
                .ok_or(SpaceError::NotFound("Join request not found"))?;
            if status != "pending" {
                return Err(SpaceError::invalid("This request was already decided"));
            }
            let now = now_ms();
            let new_status = if approve { "approved" } else { "rejected" };
            store::decide_join_request(conn, id, new_status, &did, now)?;
            if approve {
                if store::is_banned(conn, acc.space.id, &who)? {
                    return Err(SpaceError::Forbidden(
                        "This account is banned from the space",
                    ));
                }
                if store::membership(conn, acc.space.id, &who)?.is_none() {
                    store::add_member(conn, acc.space.id, &who, Role::Member, now)?;
                }
                let subject = uri.space_uri().to_string();
                let notice = Notice {
                    space: acc.space.id,
                    reason: "joinApproved",
                    author: &did,
                    subject: &subject,
                    now,
                };
                fanout::direct(conn, &notice, &who, Level::Muted)?;
            }
            let action = if approve {
                "join.approve"
            } else {
                "join.reject"
            };
            store::audit(conn, acc.space.id, &did, action, Some(&who), None, now)?;
            Ok(Decided {
                request: request_view(conn, &acc.space, &s.authority, id)?,
            })
        })
        .await
    }

    pub async fn list_members(
        &self,
        did: &str,
        uri: &str,
        limit: u32,
        cursor: Option<String>,
    ) -> SpaceResult<MemberList> {
        let limit = page_size(limit);
        let uri = parse_uri(uri)?;
        let (after_t, after_did) = time_cursor(cursor.as_deref(), (i64::MIN, String::new()))?;
        let did = did.to_owned();
        let mut list = self
            .read(move |conn, s| {
                let acc = member_access(conn, &s.authority, &uri, &did)?;
                let rows = store::members_after(conn, acc.space.id, (after_t, &after_did), limit)?;
                let cursor = (rows.len() == limit as usize)
                    .then(|| rows.last().map(|(t, m)| format!("{t}_{}", m.did)))
                    .flatten();
                Ok(MemberList {
                    members: rows.into_iter().map(|(_, m)| m).collect(),
                    cursor,
                })
            })
            .await?;
        self.fill_profiles(&mut list.members).await;
        Ok(list)
    }

    /// Changes a role. Only the owner makes (or unmakes) admins; `owner` transfers ownership
    /// (the previous owner becomes an admin); no one demotes the owner.
    pub async fn set_role(
        &self,
        did: &str,
        uri: &str,
        target: &str,
        role: &str,
    ) -> SpaceResult<MemberOut> {
        let uri = parse_uri(uri)?;
        let role = known(role, Role::parse, "role")?;
        let did = did.to_owned();
        let target = target.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins change roles")?;
            let (current, _) = store::membership(conn, acc.space.id, &target)?
                .ok_or(SpaceError::NotFound("Member not found"))?;
            may_manage(acc.role, current)?;
            let now = now_ms();
            let set = |who: &str, r: Role| store::set_role(conn, acc.space.id, who, r);
            match role {
                Role::Owner => {
                    acc.require(Role::Owner, "Only the owner transfers ownership")?;
                    set(&target, Role::Owner)?;
                    set(&did, Role::Admin)?;
                    store::audit(
                        conn,
                        acc.space.id,
                        &did,
                        "member.role",
                        Some(&target),
                        Some("owner (transferred)"),
                        now,
                    )?;
                }
                Role::Admin => {
                    acc.require(Role::Owner, "Only the owner makes admins")?;
                    set(&target, role)?;
                    store::audit(
                        conn,
                        acc.space.id,
                        &did,
                        "member.role",
                        Some(&target),
                        Some(role.as_str()),
                        now,
                    )?;
                }
                _ => {
                    set(&target, role)?;
                    store::audit(
                        conn,
                        acc.space.id,
                        &did,
                        "member.role",
                        Some(&target),
                        Some(role.as_str()),
                        now,
                    )?;
                }
            }
            if role != current {
                let subject = uri.space_uri().to_string();
                let notice = Notice {
                    space: acc.space.id,
                    reason: "roleChange",
                    author: &did,
                    subject: &subject,
                    now,
                };
                fanout::direct(conn, &notice, &target, Level::AnnouncementsOnly)?;
            }
            let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
            Ok(MemberOut {
                member: ctx.member(&target)?,
            })
        })
        .await
    }

    pub async fn remove_member(&self, did: &str, uri: &str, target: &str) -> SpaceResult<()> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        let target = target.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins remove members")?;
            if target == did {
                return Err(SpaceError::Forbidden("Use member.leave to leave a space"));
            }
            let (current, _) = store::membership(conn, acc.space.id, &target)?
                .ok_or(SpaceError::NotFound("Member not found"))?;
            may_manage(acc.role, current)?;
            store::drop_member(conn, acc.space.id, &target)?;
            store::audit(
                conn,
                acc.space.id,
                &did,
                "member.remove",
                Some(&target),
                None,
                now_ms(),
            )?;
            Ok(())
        })
        .await
    }

    /// Removes (if a member) and bans: the account cannot rejoin by invite or request.
    pub async fn ban_member(
        &self,
        did: &str,
        uri: &str,
        target: &str,
        reason: Option<String>,
    ) -> SpaceResult<()> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        let target = target.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins ban")?;
            if target == did {
                return Err(SpaceError::Forbidden("You cannot ban yourself"));
            }
            if let Some((current, _)) = store::membership(conn, acc.space.id, &target)? {
                may_manage(acc.role, current)?;
                store::drop_member(conn, acc.space.id, &target)?;
            }
            let now = now_ms();
            let reason = reason
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty());
            store::ban(conn, acc.space.id, &target, reason.as_deref(), &did, now)?;
            store::audit(
                conn,
                acc.space.id,
                &did,
                "member.ban",
                Some(&target),
                reason.as_deref(),
                now,
            )?;
            Ok(())
        })
        .await
    }

    /// Lifts a ban (admins); the account is not re-added.
    pub async fn unban_member(&self, did: &str, uri: &str, target: &str) -> SpaceResult<()> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        let target = target.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins lift bans")?;
            if !store::unban(conn, acc.space.id, &target)? {
                return Err(SpaceError::NotFound("No such ban"));
            }
            store::audit(
                conn,
                acc.space.id,
                &did,
                "member.unban",
                Some(&target),
                None,
                now_ms(),
            )?;
            Ok(())
        })
        .await
    }

    /// The space's bans, newest first (admins).
    pub async fn list_bans(
        &self,
        did: &str,
        uri: &str,
        limit: u32,
        cursor: Option<String>,
    ) -> SpaceResult<BanList> {
        let limit = page_size(limit);
        let uri = parse_uri(uri)?;
        let (before_t, before_did) = time_cursor(cursor.as_deref(), (i64::MAX, String::new()))?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            acc.require(Role::Admin, "Only admins see bans")?;
            let rows = store::bans(
                conn,
                acc.space.id,
                (before_t, &before_did),
                i64::from(limit),
            )?;
            let cursor = (rows.len() == limit as usize)
                .then(|| rows.last().map(|b| format!("{}_{}", b.created_at, b.did)))
                .flatten();
            Ok(BanList {
                bans: rows
                    .into_iter()
                    .map(|b| BanView {
                        did: b.did,
                        reason: b.reason,
                        banned_by: b.banned_by,
                        created_at: fmt_time(b.created_at),
                    })
                    .collect(),
                cursor,
            })
        })
        .await
    }

    pub async fn leave(&self, did: &str, uri: &str) -> SpaceResult<()> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            if acc.role == Role::Owner {
                return Err(SpaceError::Named(
                    "OwnerCannotLeave",
                    "The owner cannot leave; transfer ownership first",
                ));
            }
            store::drop_member(conn, acc.space.id, &did)?;
            store::audit(
                conn,
                acc.space.id,
                &did,
                "member.leave",
                Some(&did),
                None,
                now_ms(),
            )?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn tokens_are_128_bit_and_hashed() {
        let t = new_token();
        assert_eq!(t.len(), 22);
        assert_eq!(URL_SAFE_NO_PAD.decode(&t).map(|b| b.len()).ok(), Some(16));
        assert_ne!(new_token(), t);
        assert_eq!(token_hash(&t).len(), 32);
        assert_eq!(token_hash(&t), token_hash(&format!(" {t}\n")));
    }
}
