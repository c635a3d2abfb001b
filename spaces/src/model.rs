//! The vocabulary of spaces: roles, join policies, channel kinds, notification levels, digest
//! periods, and the errors the service answers with.
//!
//! Every value that comes from a request is one of a lexicon's `knownValues`; anything else is
//! refused with a message that names the field, never the value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hearth_db::DbError;
use sha2::{Digest as _, Sha256};

/// SHA-256 of a token (an invite, an email confirmation): all the database keeps.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

/// A fresh token: 128 random bits, base64url (22 characters).
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// A role in a space, ordered: owner > admin > moderator > member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member = 1,
    Moderator = 2,
    Admin = 3,
    Owner = 4,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "member" => Role::Member,
            "moderator" => Role::Moderator,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn from_i64(n: i64) -> Role {
        match n {
            4 => Role::Owner,
            3 => Role::Admin,
            2 => Role::Moderator,
            // Anything unexpected in the table grants the least.
            _ => Role::Member,
        }
    }

    pub fn as_i64(self) -> i64 {
        self as i64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinPolicy {
    Invite,
    Request,
    Open,
}

impl JoinPolicy {
    pub fn parse(s: &str) -> Option<JoinPolicy> {
        Some(match s {
            "invite" => JoinPolicy::Invite,
            "request" => JoinPolicy::Request,
            "open" => JoinPolicy::Open,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JoinPolicy::Invite => "invite",
            JoinPolicy::Request => "request",
            JoinPolicy::Open => "open",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Announcements,
    Discussion,
    Questions,
    Restricted,
}

impl ChannelKind {
    pub fn parse(s: &str) -> Option<ChannelKind> {
        Some(match s {
            "announcements" => ChannelKind::Announcements,
            "discussion" => ChannelKind::Discussion,
            "questions" => ChannelKind::Questions,
            "restricted" => ChannelKind::Restricted,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Announcements => "announcements",
            ChannelKind::Discussion => "discussion",
            ChannelKind::Questions => "questions",
            ChannelKind::Restricted => "restricted",
        }
    }

    /// Who may read and who may post, when the creator doesn't say: announcements are read by
    /// members and posted by admins; a restricted channel is the leadership's (admins).
    pub fn default_roles(self) -> (Role, Role) {
        match self {
            ChannelKind::Announcements => (Role::Member, Role::Admin),
            ChannelKind::Discussion | ChannelKind::Questions => (Role::Member, Role::Member),
            ChannelKind::Restricted => (Role::Admin, Role::Admin),
        }
    }
}

/// How much a space or channel notifies a member, in the order of how much it lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Muted = 0,
    AnnouncementsOnly = 1,
    MentionsAndReplies = 2,
    All = 3,
}

impl Level {
    /// A new member's space level. Not `all`: people in several groups asked for no
    /// notification overload, so new threads notify only those who opt in; announcements,
    /// replies and mentions still arrive.
    pub const DEFAULT: Level = Level::MentionsAndReplies;

    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "muted" => Level::Muted,
            "announcementsOnly" => Level::AnnouncementsOnly,
            "mentionsAndReplies" => Level::MentionsAndReplies,
            "all" => Level::All,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Muted => "muted",
            Level::AnnouncementsOnly => "announcementsOnly",
            Level::MentionsAndReplies => "mentionsAndReplies",
            Level::All => "all",
        }
    }

    pub fn from_i64(n: i64) -> Level {
        match n {
            0 => Level::Muted,
            1 => Level::AnnouncementsOnly,
            3 => Level::All,
            _ => Level::MentionsAndReplies,
        }
    }

    pub fn as_i64(self) -> i64 {
        self as i64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Off,
    Daily,
    Weekly,
}

impl Digest {
    pub fn parse(s: &str) -> Option<Digest> {
        Some(match s {
            "off" => Digest::Off,
            "daily" => Digest::Daily,
            "weekly" => Digest::Weekly,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Digest::Off => "off",
            Digest::Daily => "daily",
            Digest::Weekly => "weekly",
        }
    }

    /// Milliseconds between two digests.
    pub fn period_ms(self) -> Option<i64> {
        match self {
            Digest::Off => None,
            Digest::Daily => Some(24 * 3600 * 1000),
            Digest::Weekly => Some(7 * 24 * 3600 * 1000),
        }
    }
}

/// Why a member reports a post (the report.create lexicon's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportReason {
    Spam,
    Harassment,
    OffTopic,
    Misleading,
    Other,
}

impl ReportReason {
    pub const ALL: [ReportReason; 5] = [
        ReportReason::Spam,
        ReportReason::Harassment,
        ReportReason::OffTopic,
        ReportReason::Misleading,
        ReportReason::Other,
    ];

    pub fn parse(s: &str) -> Option<ReportReason> {
        ReportReason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReportReason::Spam => "spam",
            ReportReason::Harassment => "harassment",
            ReportReason::OffTopic => "offTopic",
            ReportReason::Misleading => "misleading",
            ReportReason::Other => "other",
        }
    }
}

/// What a moderator decides about a reported post (moderation.resolve's `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Hide,
    Remove,
    Dismiss,
}

impl Resolution {
    pub fn parse(s: &str) -> Option<Resolution> {
        Some(match s {
            "hide" => Resolution::Hide,
            "remove" => Resolution::Remove,
            "dismiss" => Resolution::Dismiss,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Hide => "hide",
            Resolution::Remove => "remove",
            Resolution::Dismiss => "dismiss",
        }
    }

    /// The status the post's case takes (a reportCaseView `status`).
    pub fn case_status(self) -> &'static str {
        match self {
            Resolution::Hide => "hidden",
            Resolution::Remove => "removed",
            Resolution::Dismiss => "dismissed",
        }
    }
}

/// Why the spaces service refused or failed. Every message is static text (or built from
/// ids and schema names): none echoes private text, so errors are safe to return and to log.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    /// Not a current member (never a member, removed, banned, or no such space): one answer
    /// for all, so a refusal does not reveal whether a space exists or who is in it.
    #[error("Not a member of this space")]
    NotMember,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    Invalid(String),
    /// An error the method's lexicon names (400).
    #[error("{1}")]
    Named(&'static str, &'static str),
    #[error("Rate limit exceeded")]
    RateLimited,
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
}

pub type SpaceResult<T> = Result<T, SpaceError>;

impl SpaceError {
    pub fn invalid(msg: impl Into<String>) -> SpaceError {
        SpaceError::Invalid(msg.into())
    }
}

/// Most items in one page of any list (the list lexicons' `limit` maximum).
pub const MAX_PAGE: u32 = 100;

/// A list's page size, within 1..=[`MAX_PAGE`] whatever the caller asked for.
pub fn page_size(limit: u32) -> u32 {
    limit.clamp(1, MAX_PAGE)
}

/// Reads a `{time}_{key}` list cursor; no cursor (or an empty one) is `start`, the position
/// before the first item.
pub fn time_cursor<K: std::str::FromStr>(
    cursor: Option<&str>,
    start: (i64, K),
) -> SpaceResult<(i64, K)> {
    match cursor {
        None | Some("") => Ok(start),
        Some(c) => c
            .split_once('_')
            .and_then(|(t, k)| Some((t.parse().ok()?, k.parse().ok()?)))
            .ok_or_else(|| SpaceError::invalid("Malformed cursor")),
    }
}

/// Milliseconds since the UNIX epoch.
pub fn now_ms() -> i64 {
    atproto::syntax::Datetime::unix_now_millis()
}

/// An atproto datetime for a time in milliseconds.
pub fn fmt_time(ms: i64) -> String {
    atproto::syntax::Datetime::from_unix_millis(ms).to_string()
}

/// Parses an atproto datetime into milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let dt: atproto::syntax::Datetime = s.parse().ok()?;
    Some(dt.timestamp_micros().div_euclid(1000))
}

/// Parses a lexicon `knownValues` field; the message names the field only.
pub(crate) fn known<T>(v: &str, parse: fn(&str) -> Option<T>, field: &str) -> SpaceResult<T> {
    parse(v).ok_or_else(|| SpaceError::invalid(format!("Unknown value for {field}")))
}

/// Parses a `limit`/`cursor` pair for pages ordered by a descending integer id.
pub(crate) fn id_cursor(cursor: Option<&str>) -> SpaceResult<i64> {
    match cursor {
        None | Some("") => Ok(i64::MAX),
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| SpaceError::invalid("Malformed cursor")),
    }
}

/// A post written in a channel, for pages open on it ([`crate::live`]): keys only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The space's key (`/s/{skey}`).
    pub skey: String,
    /// The channel's record key (`/s/{skey}/c/{rkey}`).
    pub channel: String,
}
