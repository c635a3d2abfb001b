//! Notifications: one inbox across spaces, unread counts, levels per space and channel,
//! email settings, and digest emails (the fan-out that fills the inbox is [`crate::fanout`]).
//!
//! Reading the inbox joins back to the membership, the channel's read role and the post's
//! visibility, so a notification never outlives the right to see what it points at.

use crate::model::*;
use crate::permissions::{member_access, parse_uri};
use crate::service::Spaces;
use crate::store::{self, InboxRow, SettingsChange, seen_at};
use crate::uri::{Collection, SpaceUri};
use crate::views::*;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationList {
    pub notifications: Vec<NotificationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SpaceCount {
    pub space: String,
    pub count: i64,
}

#[derive(Debug, Serialize)]
pub struct UnreadCount {
    pub count: i64,
    pub spaces: Vec<SpaceCount>,
}

#[derive(Debug, Serialize)]
pub struct LevelOut {
    pub level: NotificationLevelView,
}

#[derive(Debug, Deserialize)]
pub struct SetLevel {
    pub space: String,
    pub channel: Option<String>,
    pub level: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutSettings {
    pub email: Option<String>,
    pub digest: Option<String>,
    pub announcement_emails: Option<bool>,
}

impl Spaces {
    /// One inbox across the viewer's spaces, newest first (optionally one space).
    pub async fn list_notifications(
        &self,
        did: &str,
        space: Option<String>,
        limit: u32,
        cursor: Option<String>,
    ) -> SpaceResult<NotificationList> {
        let limit = page_size(limit);
        let space = match space {
            Some(s) => Some(parse_uri(&s)?),
            None => None,
        };
        let before = id_cursor(cursor.as_deref())?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let space_id = match &space {
                Some(u) => Some(member_access(conn, &s.authority, u, &did)?.space.id),
                None => None,
            };
            let seen = seen_at(conn, &did)?;
            let rows = store::inbox(conn, &did, space_id, before, i64::MIN, i64::from(limit))?;
            let cursor = (rows.len() == limit as usize)
                .then(|| rows.last().map(|r| r.id.to_string()))
                .flatten();
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(s.notification_view(conn, r, seen)?);
            }
            Ok(NotificationList {
                notifications: out,
                cursor,
                seen_at: (seen > 0).then(|| fmt_time(seen)),
            })
        })
        .await
    }

    fn notification_view(
        &self,
        conn: &Connection,
        r: InboxRow,
        seen: i64,
    ) -> SpaceResult<NotificationView> {
        let author = match &r.author {
            Some(a) => {
                let m = store::membership(conn, r.space_id, a)?;
                Some(MemberView {
                    profile: Default::default(),
                    did: a.clone(),
                    role: m.map(|(role, _)| role.as_str().into()),
                    joined_at: m.map(|(_, t)| fmt_time(t)),
                })
            }
            None => None,
        };
        Ok(NotificationView {
            id: r.id.to_string(),
            space: SpaceUri::space(&self.authority, &r.skey).to_string(),
            space_name: r.space_name,
            channel: r.channel.map(|(a, k)| {
                SpaceUri::record(&self.authority, &r.skey, &a, Collection::Channel, &k).to_string()
            }),
            reason: r.reason,
            author,
            subject: r.subject,
            text: r.text.map(|t| snippet(&t, 280)),
            is_read: r.read || r.created_at <= seen.max(r.space_seen),
            created_at: fmt_time(r.created_at),
        })
    }

    /// Unread notifications in all and per space (or one space).
    pub async fn unread_count(&self, did: &str, space: Option<String>) -> SpaceResult<UnreadCount> {
        let space = match space {
            Some(s) => Some(parse_uri(&s)?),
            None => None,
        };
        let did = did.to_owned();
        self.read(move |conn, s| {
            let space_id = match &space {
                Some(u) => Some(member_access(conn, &s.authority, u, &did)?.space.id),
                None => None,
            };
            let seen = seen_at(conn, &did)?;
            let mut spaces = Vec::new();
            let mut total = 0;
            for (skey, n) in store::unread_by_space(conn, &did, seen, space_id)? {
                total += n;
                spaces.push(SpaceCount {
                    space: SpaceUri::space(&s.authority, &skey).to_string(),
                    count: n,
                });
            }
            if let (Some(u), true) = (&space, spaces.is_empty()) {
                spaces.push(SpaceCount {
                    space: u.space_uri().to_string(),
                    count: 0,
                });
            }
            Ok(UnreadCount {
                count: total,
                spaces,
            })
        })
        .await
    }

    /// Marks everything up to `seen_at` as read: everywhere, or (with `space`) in one space.
    pub async fn update_seen(
        &self,
        did: &str,
        seen_at: &str,
        space: Option<String>,
    ) -> SpaceResult<()> {
        let at =
            parse_time(seen_at).ok_or_else(|| SpaceError::invalid("seenAt must be a datetime"))?;
        let space = match space {
            Some(s) => Some(parse_uri(&s)?),
            None => None,
        };
        let did = did.to_owned();
        self.write(move |txn, s| match &space {
            None => store::set_seen(txn.conn, &did, at),
            Some(u) => {
                let acc = member_access(txn.conn, &s.authority, u, &did)?;
                store::set_space_seen(txn.conn, acc.space.id, &did, at)
            }
        })
        .await
    }

    /// Sets the viewer's level for a space, or for one of its channels.
    pub async fn set_level(&self, did: &str, input: SetLevel) -> SpaceResult<LevelOut> {
        let uri = parse_uri(&input.space)?;
        let channel = match &input.channel {
            Some(c) => Some(parse_uri(c)?),
            None => None,
        };
        let level = known(&input.level, Level::parse, "level")?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            match &channel {
                Some(c) => {
                    if c.skey != acc.space.skey {
                        return Err(SpaceError::invalid("channel is not in that space"));
                    }
                    let ch = crate::permissions::readable_channel(conn, &acc, c)?;
                    store::set_channel_level(conn, ch.id, &did, level)?;
                }
                None => {
                    store::set_member_level(conn, acc.space.id, &did, level)?;
                }
            }
            Ok(LevelOut {
                level: NotificationLevelView {
                    space: uri.space_uri().to_string(),
                    channel: channel.map(|c| c.to_string()),
                    level: level.as_str().into(),
                },
            })
        })
        .await
    }

    /// The viewer's email settings and every level they set.
    pub async fn get_settings(&self, did: &str) -> SpaceResult<Settings> {
        let did = did.to_owned();
        self.read(move |conn, s| {
            let mut settings = settings_of(conn, s, &did)?;
            let mut levels = Vec::new();
            for (skey, level) in store::space_levels(conn, &did)? {
                levels.push(NotificationLevelView {
                    space: SpaceUri::space(&s.authority, &skey).to_string(),
                    channel: None,
                    level: level.as_str().into(),
                });
            }
            for c in store::channel_levels(conn, &did)? {
                levels.push(NotificationLevelView {
                    space: SpaceUri::space(&s.authority, &c.skey).to_string(),
                    channel: Some(
                        SpaceUri::record(
                            &s.authority,
                            &c.skey,
                            &c.author,
                            Collection::Channel,
                            &c.rkey,
                        )
                        .to_string(),
                    ),
                    level: c.level.as_str().into(),
                });
            }
            settings.levels = Some(levels);
            Ok(settings)
        })
        .await
    }

    /// Changes the viewer's email address, digest and announcement emails. Without an SMTP
    /// server, asking for email is refused (EmailUnavailable) rather than silently kept.
    pub async fn put_settings(&self, did: &str, input: PutSettings) -> SpaceResult<Settings> {
        let digest = match &input.digest {
            Some(d) => Some(known(d, Digest::parse, "digest")?),
            None => None,
        };
        let email = match input.email.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(e) => {
                if !hearth_mail::is_address(e) {
                    return Err(SpaceError::invalid("email is not a valid address"));
                }
                Some(Some(e.to_owned()))
            }
        };
        let wants_email =
            matches!(email, Some(Some(_))) || digest.is_some_and(|d| d != Digest::Off);
        if wants_email && !self.email_available() {
            return Err(SpaceError::Named(
                "EmailUnavailable",
                "This server has no email (SMTP) configured",
            ));
        }
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let now = now_ms();
            let change = SettingsChange {
                email,
                digest: digest.map(Digest::as_str),
                announcement_emails: input.announcement_emails,
            };
            let confirm = change.email.clone().flatten();
            store::change_settings(conn, &did, change, now)?;
            let settings = settings_of(conn, s, &did)?;
            if let Some(address) = confirm.filter(|_| !settings.email_verified) {
                queue_confirmation(conn, s, &did, &address, now)?;
                let s2 = s.clone();
                txn.after_commit(move || s2.outbox.notify_one());
            }
            Ok(settings)
        })
        .await
    }

    /// Confirms an address with the token its confirmation email carried (`now` in ms: the
    /// HTTP route passes the clock, tests a time of their choosing). The token is used up
    /// whether or not it was still valid.
    pub async fn confirm_email(&self, token: &str, now: i64) -> SpaceResult<()> {
        let hash = token_hash(token);
        self.write(move |txn, _| {
            if store::confirm_email(txn.conn, &hash, now)? {
                Ok(())
            } else {
                Err(SpaceError::Named(
                    "InvalidToken",
                    "This confirmation link is not valid; it may have expired or been used",
                ))
            }
        })
        .await
    }

    /// One-click unsubscribe (RFC 8058): turns off every email of the account the token
    /// belongs to.
    pub async fn unsubscribe(&self, token: &str) -> SpaceResult<()> {
        let token = token.trim().to_owned();
        self.write(move |txn, _| {
            if store::unsubscribe(txn.conn, &token)? {
                Ok(())
            } else {
                Err(SpaceError::Named(
                    "InvalidToken",
                    "This unsubscribe link is not valid",
                ))
            }
        })
        .await
    }

    /// Queues a digest email for every member whose daily or weekly period has passed at
    /// `now` (ms) and who has unread notifications since their last digest. Returns how many.
    /// The background task calls this hourly; tests call it with a "now" of their choosing.
    pub async fn queue_digests(&self, now: i64) -> SpaceResult<usize> {
        if !self.email_available() {
            return Ok(0);
        }
        let n = self
            .write(move |txn, s| {
                let conn = txn.conn;
                let due = store::digest_subscribers(conn)?;
                let mut queued = 0;
                for store::DigestSubscriber {
                    did,
                    email,
                    digest,
                    last,
                    unsubscribe_token,
                } in due
                {
                    let Some(period) = Digest::parse(&digest).and_then(Digest::period_ms) else {
                        continue;
                    };
                    if now - last < period {
                        continue;
                    }
                    let since = last.max(seen_at(conn, &did)?);
                    let mut rows = store::inbox(conn, &did, None, i64::MAX, since, 50)?;
                    // What the member already opened is no news.
                    rows.retain(|r| !r.read);
                    store::set_last_digest(conn, &did, now)?;
                    if rows.is_empty() {
                        continue;
                    }
                    let mut body = format!(
                        "Your {digest} Hearth digest: {} unread notification{}.\n\n",
                        rows.len(),
                        if rows.len() == 1 { "" } else { "s" }
                    );
                    for r in &rows {
                        body.push_str(&format!("- {}: {}", r.space_name, reason_text(&r.reason)));
                        if let Some(t) = &r.text {
                            body.push_str(&format!(": {}", snippet(t, 140)));
                        }
                        body.push('\n');
                    }
                    body.push_str(&format!(
                        "\nOpen Hearth: {}\n\nYou receive this because your digest is set to {digest}.\n",
                        s.public_url
                    ));
                    // Due at once (by the wall clock, whatever "now" the period check used).
                    let subject = format!("Your {digest} Hearth digest");
                    let mail = store::OneEmail {
                        to: &email,
                        subject: &subject,
                        body: &body,
                        kind: "digest",
                        unsubscribe_token: unsubscribe_token.as_deref(),
                    };
                    store::queue_email(conn, &mail, now_ms())?;
                    queued += 1;
                }
                if queued > 0 {
                    let s2 = s.clone();
                    txn.after_commit(move || s2.outbox.notify_one());
                }
                Ok(queued)
            })
            .await?;
        tracing::debug!(queued = n, "digests queued");
        Ok(n)
    }
}

fn reason_text(reason: &str) -> &'static str {
    match reason {
        "announcement" => "announcement",
        "post" => "new thread",
        "reply" => "reply",
        "mention" => "mention",
        "question" => "new question",
        "answer" => "answer to your question",
        "joinRequest" => "join request",
        "joinApproved" => "you were approved",
        "roleChange" => "your role changed",
        _ => "notification",
    }
}

/// How long an address confirmation link works.
pub const CONFIRMATION_HOURS: i64 = 24;
/// How long after a confirmation email the same address may be sent another.
pub const RESEND_AFTER_MS: i64 = 15 * 60 * 1000;

/// Queues the confirmation of a new address: the only email an unconfirmed address receives.
fn queue_confirmation(
    conn: &Connection,
    s: &Spaces,
    did: &str,
    address: &str,
    now: i64,
) -> SpaceResult<()> {
    let expires = now.saturating_add(CONFIRMATION_HOURS * 3_600_000);
    // Saving the same address again within minutes sends nothing more: otherwise anyone could
    // make Hearth mail a stranger repeatedly, and use up that address's daily cap.
    if store::confirmation_pending(conn, did, address, expires - RESEND_AFTER_MS)? {
        return Ok(());
    }
    let token = new_token();
    store::insert_confirmation(conn, did, address, &token_hash(&token), expires)?;
    let unsubscribe = store::unsubscribe_token(conn, did, &new_token())?;
    let body = format!(
        "Someone (we hope you) asked Hearth to send email about their spaces to this address.\n\n\
         To confirm, open this link within {CONFIRMATION_HOURS} hours:\n{}/email/confirm/{token}\n\n\
         If it was not you, ignore this message: nothing else will be sent here.\n",
        s.public_url
    );
    let mail = store::OneEmail {
        to: address,
        subject: "Confirm your email address for Hearth",
        body: &body,
        kind: "confirm",
        unsubscribe_token: Some(&unsubscribe),
    };
    store::queue_email(conn, &mail, now)
}

fn settings_of(conn: &Connection, s: &Spaces, did: &str) -> SpaceResult<Settings> {
    let st = store::email_settings(conn, did)?.unwrap_or(store::EmailSettings {
        email: None,
        verified: false,
        digest: "off".into(),
        announcement_emails: true,
    });
    Ok(Settings {
        email_available: s.email_available(),
        email: st.email,
        email_verified: st.verified,
        digest: st.digest,
        announcement_emails: st.announcement_emails,
        levels: None,
    })
}
