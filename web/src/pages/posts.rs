//! Posts as the pages show them: a [`PostView`] turned into what a template needs (paths,
//! author names, images at this site's image route, reaction buttons), and the mentions the
//! composer turns into facets.

use super::path_of;
use atproto::identity::HandleResolver;
use hearth_spaces::ops::posts::MAX_MENTIONS;
use hearth_spaces::views::PostView;
use serde_json::{Value, json};

/// The reactions offered under every post (any emoji others used is shown too).
pub const PALETTE: &[&str] = &["👍", "❤️", "🎉", "🙏", "😂"];

pub struct Image {
    pub src: String,
    pub alt: String,
}

pub struct Reaction {
    pub emoji: String,
    pub count: i64,
    pub mine: bool,
}

/// A post, ready for a template.
pub struct PostItem {
    /// The thread page of this post's thread (for a reply, its root's).
    pub href: String,
    /// This post's own path (forms post to `{base}/react`, `{base}/answer`).
    pub base: String,
    pub author: String,
    pub text: String,
    /// The machine-readable time (the `datetime` attribute).
    pub at: String,
    /// The time as people read it.
    pub at_text: String,
    pub edited: bool,
    pub images: Vec<Image>,
    pub reactions: Vec<Reaction>,
    pub reply_count: i64,
    pub pinned: bool,
    pub hidden: bool,
    /// For a question (a thread root in a Questions channel): whether it has an answer.
    pub answered: Option<bool>,
    pub is_answer: bool,
    /// Whether the viewer may mark this reply as the answer.
    pub can_mark_answer: bool,
    /// Whether the viewer may report it to the moderators (anyone's but their own).
    pub can_report: bool,
    /// Where its author may turn it into a public Bluesky post (announcements only; set by the
    /// page, which knows the channel).
    pub share: Option<String>,
}

/// The name shown for a member: `@handle`, else the display name, else the DID.
pub fn name_of(m: &hearth_spaces::views::MemberView) -> String {
    match (&m.profile.handle, &m.profile.display_name) {
        (Some(h), _) => format!("@{h}"),
        (None, Some(n)) => n.clone(),
        _ => m.did.clone(),
    }
}

/// A post for a template. `questions`: the post is in a Questions channel; `may_mark`:
/// the viewer may mark this (reply) as the answer.
pub fn item(p: PostView, questions: bool, may_mark: bool) -> PostItem {
    let base = path_of(&p.uri);
    let href = p
        .reply
        .as_ref()
        .map_or_else(|| base.clone(), |r| path_of(&r.root));
    let skey_path = base.split("/p/").next().unwrap_or("/").to_owned();
    let mut reactions: Vec<Reaction> = PALETTE
        .iter()
        .map(|e| Reaction {
            emoji: (*e).to_owned(),
            count: 0,
            mine: false,
        })
        .collect();
    for r in p.reactions {
        match reactions.iter_mut().find(|x| x.emoji == r.emoji) {
            Some(x) => {
                x.count = r.count;
                x.mine = r.viewer_reacted;
            }
            None => reactions.push(Reaction {
                emoji: r.emoji,
                count: r.count,
                mine: r.viewer_reacted,
            }),
        }
    }
    let is_reply = p.reply.is_some();
    let can_report = p.viewer.as_ref().is_some_and(|v| !v.can_edit);
    PostItem {
        href,
        author: name_of(&p.author),
        text: p.text,
        at_text: readable_time(&p.created_at),
        at: p.created_at,
        edited: p.edited_at.is_some(),
        images: p
            .images
            .into_iter()
            .map(|i| Image {
                src: format!("{skey_path}/img/{}", i.cid),
                alt: i.alt,
            })
            .collect(),
        reactions,
        reply_count: p.reply_count,
        pinned: p.pinned,
        hidden: p.hidden,
        answered: (questions && !is_reply).then_some(p.accepted_answer.is_some()),
        is_answer: p.is_accepted_answer == Some(true),
        can_mark_answer: questions && is_reply && may_mark,
        can_report,
        share: None,
        base,
    }
}

/// "5 Dec 2026, 07:34 UTC" from an RFC 3339 time in UTC; anything else as it came. Written out
/// here rather than with a date crate: records carry one shape, and no time zone is converted
/// (the page does not know the reader's).
pub fn readable_time(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts = (
        iso.get(0..4),
        iso.get(5..7).and_then(|m| m.parse::<usize>().ok()),
        iso.get(8..10).and_then(|d| d.parse::<u8>().ok()),
        iso.get(11..16),
    );
    let utc = iso.ends_with('Z') || iso.ends_with("+00:00");
    match parts {
        (Some(year), Some(month @ 1..=12), Some(day), Some(hm))
            if utc && iso.as_bytes().get(10) == Some(&b'T') =>
        {
            format!("{day} {} {year}, {hm} UTC", MONTHS[month - 1])
        }
        _ => iso.to_owned(),
    }
}

/// The `@handle` mentions in `text`: each handle with its byte range (the `@` included).
pub fn find_mentions(text: &str) -> Vec<(String, usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i] == b'@' && (i == 0 || !is_handle_byte(bytes[i - 1]));
        if !starts {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < bytes.len() && is_handle_byte(bytes[end]) {
            end += 1;
        }
        // A sentence's full stop is not part of the handle.
        while end > i + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let handle = &text[i + 1..end];
        if handle.contains('.') && atproto::syntax::handle::validate(handle).is_ok() {
            out.push((handle.to_ascii_lowercase(), i, end));
        }
        i = end.max(i + 1);
    }
    out
}

fn is_handle_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// Mention facets for the handles in `text` that resolve (at most [`MAX_MENTIONS`] distinct
/// accounts); a handle that does not resolve stays plain text.
pub async fn mention_facets(handles: &HandleResolver, text: &str) -> Vec<Value> {
    let mut facets = Vec::new();
    let mut resolved: Vec<(String, Option<String>)> = Vec::new();
    for (handle, start, end) in find_mentions(text) {
        let did = match resolved.iter().find(|(h, _)| *h == handle) {
            Some((_, d)) => d.clone(),
            None => {
                if resolved.len() == MAX_MENTIONS {
                    break;
                }
                let did = match handle.parse() {
                    Ok(h) => handles.resolve(&h).await.ok().map(|d| d.to_string()),
                    Err(_) => None,
                };
                resolved.push((handle.clone(), did.clone()));
                did
            }
        };
        if let Some(did) = did {
            facets.push(json!({
                "index": { "byteStart": start, "byteEnd": end },
                "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": did }],
            }));
        }
    }
    facets
}

#[cfg(test)]
mod tests {
    use super::{find_mentions, readable_time};

    #[test]
    fn times_read_as_people_write_them() {
        assert_eq!(
            readable_time("2026-12-05T07:34:52.101Z"),
            "5 Dec 2026, 07:34 UTC"
        );
        assert_eq!(
            readable_time("2026-01-09T23:05:00+00:00"),
            "9 Jan 2026, 23:05 UTC"
        );
        // Another zone, or not a time: shown as written, never a wrong hour.
        for odd in [
            "2026-12-05T07:34:52+02:00",
            "2026-13-05T07:34:52Z",
            "yesterday",
            "",
        ] {
            assert_eq!(readable_time(odd), odd);
        }
    }

    #[test]
    fn finds_handles_with_their_byte_ranges() {
        let text = "Hi @Ana.example.com and @ben.test. Mail a@b.com, not @nodot; é @cé.test";
        let got = find_mentions(text);
        let handles: Vec<&str> = got.iter().map(|(h, _, _)| h.as_str()).collect();
        assert_eq!(handles, ["ana.example.com", "ben.test"]);
        let (_, s, e) = &got[1];
        assert_eq!(&text[*s..*e], "@ben.test");
    }
}
