//! A space (`/s/{skey}`): its channels and pinned posts; a channel's feed with its composer
//! (`/s/{skey}/c/{rkey}`); a thread with its replies (`/s/{skey}/p/{author}/{rkey}`); and the
//! small forms under posts (reply, react, mark as answer). Every read and write goes through
//! the spaces service with the viewer's DID.

use super::organize::AdminNav;
use super::posts::{PostItem, item, mention_facets};
use super::{Layout, render};
use crate::Web;
use crate::http::error::WebError;
use crate::http::extract::Form;
use crate::session::Viewer;
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_spaces::model::Role;
use hearth_spaces::ops::posts::{CreatePost, ImageInput};
use hearth_spaces::uri::{Collection, SpaceUri};
use hearth_spaces::views::{ChannelView, SpaceView};
use serde::Deserialize;

/// Threads on one page of a channel.
const FEED_PAGE: u32 = 20;
/// Replies on one page of a thread.
const THREAD_PAGE: u32 = 100;
/// Pinned threads shown per channel on the space page.
const PINNED_PER_CHANNEL: u32 = 3;
/// Most bytes of a composer's form (text and four images of at most 5 MB each).
pub const COMPOSER_BYTES: usize = 21 * 1024 * 1024;

/// The URI of space `skey` (a malformed key is a page that does not exist).
fn space_uri(web: &Web, skey: &str) -> Result<SpaceUri, WebError> {
    SpaceUri::space(&web.spaces.authority, skey)
        .to_string()
        .parse()
        .map_err(|_| WebError::NotFound)
}

fn record_uri(
    web: &Web,
    skey: &str,
    author: &str,
    c: Collection,
    rkey: &str,
) -> Result<String, WebError> {
    let uri = SpaceUri::record(&web.spaces.authority, skey, author, c, rkey).to_string();
    uri.parse::<SpaceUri>().map_err(|_| WebError::NotFound)?;
    Ok(uri)
}

fn role_of(space: &SpaceView) -> Option<Role> {
    space
        .viewer
        .as_ref()
        .and_then(|v| v.role.as_deref())
        .and_then(Role::parse)
}

/// The space and its channels, for a member (anyone else: not found, whatever the space).
async fn member_space(
    web: &Web,
    did: &str,
    skey: &str,
) -> Result<(SpaceView, Vec<ChannelView>, Role), WebError> {
    let uri = space_uri(web, skey)?;
    let got = web.spaces.get_space(did, &uri.to_string()).await?;
    // A listed space answers non-members with its public face: not a member's page.
    let role = role_of(&got.space).ok_or(WebError::NotFound)?;
    Ok((got.space, got.channels, role))
}

struct ChannelLink {
    href: String,
    name: String,
    kind: String,
}

fn channel_link(skey: &str, c: &ChannelView) -> ChannelLink {
    let rkey = c.uri.rsplit('/').next().unwrap_or_default();
    ChannelLink {
        href: format!("/s/{skey}/c/{rkey}"),
        name: c.name.clone(),
        kind: c.kind.clone(),
    }
}

#[derive(Template)]
#[template(path = "space.html")]
struct SpacePage {
    layout: Layout,
    name: String,
    description: String,
    member_count: i64,
    unread: i64,
    role: &'static str,
    /// Invite, members, reports…: what the viewer's role lets them manage, one tap away.
    nav: AdminNav,
    channels: Vec<ChannelLink>,
    pinned: Vec<PostItem>,
    /// The newest announcement that is not pinned.
    latest: Option<PostItem>,
    /// Where the Questions channel's composer posts, if the viewer may ask.
    ask: Option<String>,
    csrf: String,
    here: String,
}

/// `GET /s/{skey}`.
pub async fn space(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
) -> Result<Response, WebError> {
    let (space, channels, role) = member_space(&web, &v.did, &skey).await?;
    let feeds = futures::future::join_all(channels.iter().map(|c| {
        web.spaces
            .channel_feed(&v.did, &c.uri, PINNED_PER_CHANNEL, None)
    }))
    .await;
    let mut pinned = Vec::new();
    let mut latest = None;
    for (feed, c) in feeds.into_iter().zip(&channels) {
        let questions = c.kind == "questions";
        for p in feed?.posts {
            if p.pinned {
                pinned.push((p, questions));
            } else if c.kind == "announcements" && latest.is_none() {
                // A newcomer's first look at the space: what its leaders said last.
                latest = Some(p);
            }
        }
    }
    web.spaces
        .fill_profiles(
            pinned
                .iter_mut()
                .map(|(p, _)| &mut p.author)
                .chain(latest.iter_mut().map(|p| &mut p.author)),
        )
        .await;
    let pinned = pinned
        .into_iter()
        .map(|(p, questions)| item(p, questions, false))
        .collect();
    let latest = latest.map(|p| item(p, false, false));
    // Asking is what a new member most often comes to do: the Questions channel's composer is
    // on the space's own page.
    let ask = channels
        .iter()
        .find(|c| c.kind == "questions" && Role::parse(&c.post_role).is_some_and(|r| role >= r))
        .map(|c| format!("{}/post", channel_link(&skey, c).href));
    Ok(render(&SpacePage {
        layout: Layout::signed_in(&space.name, &v),
        description: space.description.clone().unwrap_or_default(),
        member_count: space.member_count,
        unread: space
            .viewer
            .as_ref()
            .and_then(|s| s.unread_count)
            .unwrap_or(0),
        role: role.as_str(),
        nav: AdminNav {
            skey: skey.clone(),
            name: space.name.clone(),
            admin: role >= Role::Admin,
            moderator: role >= Role::Moderator,
        },
        channels: channels.iter().map(|c| channel_link(&skey, c)).collect(),
        name: space.name,
        pinned,
        latest,
        ask,
        csrf: v.csrf.clone(),
        here: format!("/s/{skey}"),
    }))
}

#[derive(Deserialize)]
pub struct Paging {
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "channel.html")]
struct ChannelPage {
    layout: Layout,
    space_name: String,
    space_href: String,
    channel: ChannelLink,
    description: String,
    posts: Vec<PostItem>,
    next: Option<String>,
    first_page: bool,
    can_post: bool,
    questions: bool,
    announcements: bool,
    /// For the composer: whom a new thread notifies and emails.
    notified: i64,
    emailed: i64,
    csrf: String,
    action: String,
}

/// The channel `rkey` of a member's space, with everything its page needs.
pub(crate) async fn member_channel(
    web: &Web,
    did: &str,
    skey: &str,
    rkey: &str,
) -> Result<(SpaceView, ChannelView, Role), WebError> {
    let (space, channels, role) = member_space(web, did, skey).await?;
    let channel = channels
        .into_iter()
        .find(|c| c.uri.rsplit('/').next() == Some(rkey))
        .ok_or(WebError::NotFound)?;
    Ok((space, channel, role))
}

/// `GET /s/{skey}/c/{rkey}?cursor=`.
pub async fn channel(
    State(web): State<Web>,
    v: Viewer,
    Path((skey, rkey)): Path<(String, String)>,
    Query(q): Query<Paging>,
) -> Result<Response, WebError> {
    let (space, channel, role) = member_channel(&web, &v.did, &skey, &rkey).await?;
    let first_page = q.cursor.as_deref().is_none_or(str::is_empty);
    let mut feed = web
        .spaces
        .channel_feed(&v.did, &channel.uri, FEED_PAGE, q.cursor)
        .await?;
    web.spaces
        .fill_profiles(feed.posts.iter_mut().map(|p| &mut p.author))
        .await;
    let can_post = Role::parse(&channel.post_role).is_some_and(|r| role >= r);
    let announcements = channel.kind == "announcements";
    // Counting the audience reads every member's levels: only the announcement composer shows
    // it, and only on the first page, where the composer is.
    let (notified, emailed) = if can_post && first_page && announcements {
        let a = web.spaces.thread_audience(&v.did, &channel.uri).await?;
        (a.notified, a.emailed)
    } else {
        (0, 0)
    };
    let questions = channel.kind == "questions";
    let link = channel_link(&skey, &channel);
    let next = feed.cursor.map(|c| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("cursor", &c);
        format!("{}?{}", link.href, q.finish())
    });
    let mut layout = Layout::signed_in(&format!("{} · {}", channel.name, space.name), &v);
    // Newer posts appear at the top of the first page only.
    if first_page {
        layout.live = Some(format!("{}/events", link.href));
    }
    Ok(render(&ChannelPage {
        layout,
        space_href: format!("/s/{skey}"),
        space_name: space.name,
        description: channel.description.clone().unwrap_or_default(),
        posts: feed
            .posts
            .into_iter()
            .map(|p| {
                let share = (announcements && p.reply.is_none() && p.author.did == v.did)
                    .then(|| crate::oauth::routes::share_href(&p.uri));
                PostItem {
                    share,
                    ..item(p, questions, false)
                }
            })
            .collect(),
        next,
        first_page,
        can_post,
        questions,
        announcements,
        notified,
        emailed,
        csrf: v.csrf.clone(),
        action: format!("{}/post", link.href),
        channel: link,
    }))
}

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadPage {
    layout: Layout,
    space_name: String,
    space_href: String,
    channel: Option<ChannelLink>,
    root: PostItem,
    replies: Vec<PostItem>,
    more: Option<String>,
    can_reply: bool,
    /// The author of an announcement may share its text publicly (`/share`).
    share: Option<String>,
    csrf: String,
    here: String,
}

/// `GET /s/{skey}/p/{author}/{rkey}?cursor=`.
pub async fn thread(
    State(web): State<Web>,
    v: Viewer,
    Path((skey, author, rkey)): Path<(String, String, String)>,
    Query(q): Query<Paging>,
) -> Result<Response, WebError> {
    let uri = record_uri(&web, &skey, &author, Collection::Post, &rkey)?;
    let (space, channels, role) = member_space(&web, &v.did, &skey).await?;
    let mut t = web
        .spaces
        .thread(&v.did, &uri, THREAD_PAGE, q.cursor)
        .await?;
    if t.unread {
        // Opening the thread is reading what the inbox said about it.
        web.spaces.mark_thread_read(&v.did, &uri).await?;
    }
    web.spaces
        .fill_profiles(
            std::iter::once(&mut t.thread.root.author)
                .chain(t.thread.replies.iter_mut().map(|p| &mut p.author)),
        )
        .await;
    let root = t.thread.root;
    let channel = channels.iter().find(|c| c.uri == root.channel);
    let questions = channel.is_some_and(|c| c.kind == "questions");
    let may_mark = root.author.did == v.did || role >= Role::Moderator;
    let can_reply = root.viewer.as_ref().is_some_and(|s| s.can_reply);
    let share = (root.author.did == v.did && channel.is_some_and(|c| c.kind == "announcements"))
        .then(|| crate::oauth::routes::share_href(&root.uri));
    let here = super::path_of(&root.uri);
    let more = t.cursor.map(|c| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("cursor", &c);
        format!("{here}?{}", q.finish())
    });
    Ok(render(&ThreadPage {
        layout: Layout::signed_in(&format!("Thread · {}", space.name), &v),
        space_href: format!("/s/{skey}"),
        space_name: space.name,
        channel: channel.map(|c| channel_link(&skey, c)),
        root: item(root, questions, false),
        replies: t
            .thread
            .replies
            .into_iter()
            .map(|p| item(p, questions, may_mark))
            .collect(),
        more,
        can_reply,
        share,
        csrf: v.csrf.clone(),
        here,
    }))
}

/// What the composer sends (multipart: it may carry an image).
#[derive(Default)]
struct Composed {
    csrf: String,
    text: String,
    /// The images in the order of the form's slots, each with its description.
    images: Vec<(Vec<u8>, String)>,
}

/// The composer's image slots: `image`/`alt`, then `image2`/`alt2` … (a post holds at most 4).
const IMAGE_SLOTS: usize = 4;

/// The slot (0-based) a field named `image…` or `alt…` belongs to.
fn slot(name: &str, prefix: &str) -> Option<usize> {
    match name.strip_prefix(prefix)? {
        "" => Some(0),
        n => n
            .parse::<usize>()
            .ok()
            .filter(|n| (2..=IMAGE_SLOTS).contains(n))
            .map(|n| n - 1),
    }
}

async fn read_composer(mut m: Multipart) -> Result<Composed, WebError> {
    let bad = |_| WebError::BadRequest("The form could not be read".into());
    let mut csrf = String::new();
    let mut text = String::new();
    let mut files: [Option<Vec<u8>>; IMAGE_SLOTS] = Default::default();
    let mut alts: [String; IMAGE_SLOTS] = Default::default();
    while let Some(field) = m.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "csrf" {
            csrf = field.text().await.map_err(bad)?;
        } else if name == "text" {
            text = field.text().await.map_err(bad)?;
        } else if let Some(i) = slot(&name, "alt") {
            alts[i] = field.text().await.map_err(bad)?;
        } else if let Some(i) = slot(&name, "image") {
            let bytes = field.bytes().await.map_err(bad)?;
            // A file input left empty still sends an empty part.
            if !bytes.is_empty() {
                files[i] = Some(bytes.to_vec());
            }
        }
    }
    let mut images = Vec::new();
    for (i, (file, alt)) in files.into_iter().zip(alts).enumerate() {
        let Some(bytes) = file else { continue };
        let alt = alt.trim().to_owned();
        if alt.is_empty() {
            let which = if i == 0 {
                "the image".to_owned()
            } else {
                format!("image {}", i + 1)
            };
            return Err(WebError::BadRequest(format!(
                "Describe {which} for people who cannot see it (alt text is required)"
            )));
        }
        images.push((bytes, alt));
    }
    Ok(Composed { csrf, text, images })
}

/// Posts `c` into `channel` (a new thread) or as a reply to `reply_to`.
async fn publish(
    web: &Web,
    v: &Viewer,
    space: &str,
    channel: Option<String>,
    reply_to: Option<String>,
    c: Composed,
) -> Result<(), WebError> {
    if c.text.trim().is_empty() && c.images.is_empty() {
        return Err(WebError::BadRequest("Write something first".into()));
    }
    let mut images = Vec::with_capacity(c.images.len());
    for (bytes, alt) in c.images {
        let up = web.spaces.upload_image(&v.did, space, bytes).await?;
        images.push(ImageInput {
            image: up.image,
            alt,
        });
    }
    let images = (!images.is_empty()).then_some(images);
    let facets = mention_facets(&web.handles, &c.text).await;
    web.spaces
        .create_post(
            &v.did,
            CreatePost {
                channel,
                text: c.text,
                facets: (!facets.is_empty()).then_some(facets),
                images,
                reply_to,
            },
        )
        .await?;
    Ok(())
}

/// `POST /s/{skey}/c/{rkey}/post`: a new thread.
pub async fn post(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path((skey, rkey)): Path<(String, String)>,
    form: Multipart,
) -> Result<Response, WebError> {
    let c = read_composer(form).await?;
    crate::csrf::check(&headers, &web.origin, &v.csrf, &c.csrf)?;
    let (space, channel, _) = member_channel(&web, &v.did, &skey, &rkey).await?;
    publish(&web, &v, &space.uri, Some(channel.uri), None, c).await?;
    Ok(Redirect::to(&format!("/s/{skey}/c/{rkey}")).into_response())
}

/// `POST /s/{skey}/p/{author}/{rkey}/reply`.
pub async fn reply(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path((skey, author, rkey)): Path<(String, String, String)>,
    form: Multipart,
) -> Result<Response, WebError> {
    let c = read_composer(form).await?;
    crate::csrf::check(&headers, &web.origin, &v.csrf, &c.csrf)?;
    let uri = record_uri(&web, &skey, &author, Collection::Post, &rkey)?;
    let space = space_uri(&web, &skey)?.to_string();
    publish(&web, &v, &space, None, Some(uri), c).await?;
    Ok(Redirect::to(&format!("/s/{skey}/p/{author}/{rkey}")).into_response())
}

#[derive(Deserialize)]
pub struct ReactForm {
    csrf: String,
    /// The button pressed: `+` and the emoji to add it, `-` and the emoji to take it away.
    r: String,
    back: Option<String>,
}

/// `POST /s/{skey}/p/{author}/{rkey}/react`.
pub async fn react(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path((skey, author, rkey)): Path<(String, String, String)>,
    Form(f): Form<ReactForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let uri = record_uri(&web, &skey, &author, Collection::Post, &rkey)?;
    let (emoji, remove) = match (f.r.strip_prefix('+'), f.r.strip_prefix('-')) {
        (Some(e), _) => (e, false),
        (_, Some(e)) => (e, true),
        _ => return Err(WebError::BadRequest("Choose a reaction".into())),
    };
    web.spaces.react(&v.did, &uri, emoji, remove).await?;
    let back = crate::session::safe_next(f.back.as_deref());
    Ok(Redirect::to(&back).into_response())
}

#[derive(Deserialize)]
pub struct AnswerForm {
    csrf: String,
    /// "0": unmark.
    accepted: Option<String>,
}

/// `POST /s/{skey}/p/{author}/{rkey}/answer`: marks a reply as its question's answer.
pub async fn answer(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path((skey, author, rkey)): Path<(String, String, String)>,
    Form(f): Form<AnswerForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let uri = record_uri(&web, &skey, &author, Collection::Post, &rkey)?;
    let out = web
        .spaces
        .mark_answer(&v.did, &uri, f.accepted.as_deref() != Some("0"))
        .await?;
    let back = out
        .post
        .reply
        .map_or_else(|| super::path_of(&uri), |r| super::path_of(&r.root));
    Ok(Redirect::to(&back).into_response())
}

/// `GET /s/{skey}/img/{cid}`: a private image, to a member who may see it.
pub async fn image(
    State(web): State<Web>,
    v: Viewer,
    Path((skey, cid)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let space = space_uri(&web, &skey)?.to_string();
    let img = web
        .spaces
        .get_image(&v.did, &space, &cid)
        .await
        .map_err(|e| match e {
            // Whether an image exists is not for a viewer who may not see it.
            hearth_spaces::model::SpaceError::Forbidden(_) => WebError::NotFound,
            e => e.into(),
        })?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, img.mime),
            (
                axum::http::header::CACHE_CONTROL,
                "private, max-age=3600".to_owned(),
            ),
        ],
        img.bytes,
    )
        .into_response())
}
