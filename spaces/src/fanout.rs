//! Notification fan-out: what the operations call after their store write, in the same
//! transaction, with only what each notification needs. Who is notified of what, and at which
//! level, is decided here; the store writes it.

use crate::model::*;
use crate::store::{self, ChannelRow, Notice, SpaceRow};
use crate::views::snippet;
use rusqlite::Connection;

/// A new post, as its notifications need it.
pub struct NewPost<'a> {
    pub space: &'a SpaceRow,
    pub channel: &'a ChannelRow,
    pub post: i64,
    pub author: &'a str,
    /// The post's URI (the notifications' subject).
    pub uri: &'a str,
    pub text: &'a str,
    /// The members its facets mention.
    pub mentions: &'a [String],
    /// For a reply: the authors of the thread's root and of the post replied to.
    pub reply_to: Option<(&'a str, &'a str)>,
    pub now: i64,
}

/// Notifies a new post's mentions, the authors it replies to, and (for a thread) the
/// channel's readers by the channel's kind; queues announcement emails when `email_url` (the
/// public URL the emails link to) is given. Returns how many emails were queued.
pub fn post_created(
    conn: &Connection,
    p: &NewPost<'_>,
    email_url: Option<&str>,
) -> SpaceResult<usize> {
    let notice = |reason| Notice {
        space: p.space.id,
        reason,
        author: p.author,
        subject: p.uri,
        now: p.now,
    };
    let listed = |recipients: &[&str], reason| {
        store::notify_readers(
            conn,
            &notice(reason),
            p.channel,
            p.post,
            Some(recipients),
            Level::MentionsAndReplies,
        )
    };
    let all =
        |reason, min| store::notify_readers(conn, &notice(reason), p.channel, p.post, None, min);
    // Mentions and replies go first: a post notifies each recipient once.
    let mentions: Vec<&str> = p.mentions.iter().map(String::as_str).collect();
    if !mentions.is_empty() {
        listed(&mentions, "mention")?;
    }
    if let Some((root_author, parent_author)) = p.reply_to {
        let reason = if p.channel.kind == ChannelKind::Questions {
            "answer"
        } else {
            "reply"
        };
        listed(&[root_author], reason)?;
        listed(&[parent_author], "reply")?;
        return Ok(0);
    }
    let (reason, min) = new_thread(p.channel.kind);
    all(reason, min)?;
    let mut emails = 0;
    if let (ChannelKind::Announcements, true, Some(url)) =
        (p.channel.kind, p.channel.email_announcements, email_url)
    {
        emails = queue_announcement_emails(conn, url, p)?;
    }
    Ok(emails)
}

/// What a new thread in a channel of `kind` notifies its readers of, and the least level a
/// reader must keep to hear of it.
pub fn new_thread(kind: ChannelKind) -> (&'static str, Level) {
    match kind {
        ChannelKind::Announcements => ("announcement", Level::AnnouncementsOnly),
        ChannelKind::Questions => ("question", Level::All),
        ChannelKind::Discussion | ChannelKind::Restricted => ("post", Level::All),
    }
}

/// Notifies the space's admins (a join request), unless they muted the space.
pub fn admins(conn: &Connection, n: &Notice<'_>) -> SpaceResult<usize> {
    store::notify_role(conn, n, Role::Admin, Level::AnnouncementsOnly)
}

/// Notifies one member about themselves (approval, a role change) if their space level is at
/// least `min` (`Level::Muted` reaches even a member who muted the space).
pub fn direct(
    conn: &Connection,
    n: &Notice<'_>,
    recipient: &str,
    min: Level,
) -> SpaceResult<usize> {
    store::notify_member(conn, n, recipient, min)
}

/// Queues an announcement email for every member who reads the channel, confirmed an address,
/// keeps announcement emails on and has not muted it. Same transaction as the post.
fn queue_announcement_emails(
    conn: &Connection,
    public_url: &str,
    p: &NewPost<'_>,
) -> SpaceResult<usize> {
    let subject = format!(
        "[{}] {}",
        snippet(&p.space.name, 60),
        snippet(&p.channel.name, 40)
    );
    let body = format!(
        "A new announcement in {} ({}):\n\n{}\n\nOpen Hearth to read and reply: {}\n\n\
         You receive this because announcement emails are on in your Hearth notification settings.\n",
        p.space.name, p.channel.name, p.text, public_url
    );
    store::queue_announcement(
        conn, p.space.id, p.channel, p.author, &subject, &body, p.now,
    )
}
