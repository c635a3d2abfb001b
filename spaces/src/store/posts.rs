//! Posts, their images and reactions, and the images uploaded to a space.

use super::{POST_COLS, PostRow};
use crate::model::{Role, SpaceResult};
use rusqlite::{Connection, OptionalExtension, params};

/// A post about to be written.
pub struct NewPost<'a> {
    pub space: i64,
    pub channel: i64,
    pub author: &'a str,
    pub rkey: &'a str,
    /// For a reply: the thread's root (id and URI), and the post replied to (URI and id).
    pub root: Option<i64>,
    pub root_uri: Option<&'a str>,
    pub parent_uri: Option<&'a str>,
    pub parent: Option<i64>,
    pub text: &'a str,
    pub facets: Option<&'a str>,
    pub now: i64,
}

/// Writes a post and its images (CID and alt text, in order); returns its id. A reply counts
/// in its root's and its parent's reply counts.
pub fn insert_post(
    conn: &Connection,
    p: &NewPost<'_>,
    images: &[(String, String)],
) -> SpaceResult<i64> {
    conn.prepare_cached(
        "INSERT INTO post (space, channel, author, rkey, root, root_uri, parent_uri, parent,
                           text, facets, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        p.space,
        p.channel,
        p.author,
        p.rkey,
        p.root,
        p.root_uri,
        p.parent_uri,
        p.parent,
        p.text,
        p.facets,
        p.now
    ])?;
    let id = conn.last_insert_rowid();
    for (i, (cid, alt)) in images.iter().enumerate() {
        conn.prepare_cached(
            "INSERT INTO post_image (post, position, cid, alt) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, i as i64, cid, alt])?;
    }
    if let (Some(root), Some(parent)) = (p.root, p.parent) {
        conn.prepare_cached(
            "UPDATE post SET reply_count = reply_count + 1 WHERE id = ?1 OR id = ?2",
        )?
        .execute(params![root, parent])?;
    }
    Ok(id)
}

/// The author of a post.
pub fn post_author(conn: &Connection, id: i64) -> SpaceResult<String> {
    Ok(conn
        .prepare_cached("SELECT author FROM post WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

/// Whether a post is hidden (false if there is no such post).
pub fn post_hidden(conn: &Connection, id: i64) -> SpaceResult<bool> {
    Ok(conn
        .prepare_cached("SELECT hidden FROM post WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

pub fn has_images(conn: &Connection, post: i64) -> SpaceResult<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM post_image WHERE post = ?1)")?
        .query_row([post], |r| r.get(0))?)
}

pub fn edit_post(
    conn: &Connection,
    id: i64,
    text: &str,
    facets: Option<&str>,
    now: i64,
) -> SpaceResult<()> {
    conn.prepare_cached("UPDATE post SET text = ?2, facets = ?3, edited_at = ?4 WHERE id = ?1")?
        .execute(params![id, text, facets, now])?;
    Ok(())
}

/// Deletes a post (a root takes its thread along) and keeps its thread's counts and
/// accepted answer right; reports still open on what goes are closed as `deleted`. Returns
/// the images that no post of the space shows any more, which leave the space.
pub fn delete_post(conn: &Connection, post: &PostRow, now: i64) -> SpaceResult<Vec<String>> {
    super::close_reports_of_thread(conn, post.id, now)?;
    // The images of the post, and of its replies if it is a root.
    let cids: Vec<String> = {
        let mut stmt = conn.prepare_cached(
            "SELECT pi.cid FROM post_image pi WHERE pi.post = ?1
             UNION SELECT pi.cid FROM post_image pi JOIN post p ON p.id = pi.post WHERE p.root = ?1",
        )?;
        let rows = stmt.query_map([post.id], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    if let Some(root) = post.root {
        conn.prepare_cached(
            "UPDATE post SET reply_count = max(reply_count - 1, 0) WHERE id = ?1 OR id = ?2",
        )?
        .execute(params![root, post.parent])?;
        set_accepted_answer(conn, root, post.id, false)?;
    }
    conn.prepare_cached("DELETE FROM post WHERE id = ?1")?
        .execute([post.id])?;
    let mut gone = Vec::new();
    for cid in cids {
        let used: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM post_image pi JOIN post p ON p.id = pi.post
                                WHERE pi.cid = ?1 AND p.space = ?2)",
            )?
            .query_row(params![cid, post.space], |r| r.get(0))?;
        if !used {
            conn.prepare_cached("DELETE FROM space_image WHERE space = ?1 AND cid = ?2")?
                .execute(params![post.space, cid])?;
            gone.push(cid);
        }
    }
    Ok(gone)
}

/// Adds (or, with `remove`, takes back) one emoji reaction.
/// How much room a post has for one more reaction of `did` with `emoji`.
pub struct ReactionRoom {
    /// `did` already reacted with this emoji.
    pub already: bool,
    /// Some member already reacted with this emoji.
    pub emoji_present: bool,
    /// Distinct emoji `did` put on the post.
    pub mine: i64,
    /// Distinct emoji on the post.
    pub distinct: i64,
}

/// Counts over the post's reactions only (the primary key's `post` prefix).
pub fn reaction_room(
    conn: &Connection,
    post: i64,
    did: &str,
    emoji: &str,
) -> SpaceResult<ReactionRoom> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(max(did = ?2 AND emoji = ?3), 0), coalesce(max(emoji = ?3), 0),
                    count(CASE WHEN did = ?2 THEN 1 END), count(DISTINCT emoji)
             FROM reaction WHERE post = ?1",
        )?
        .query_row(params![post, did, emoji], |r| {
            Ok(ReactionRoom {
                already: r.get(0)?,
                emoji_present: r.get(1)?,
                mine: r.get(2)?,
                distinct: r.get(3)?,
            })
        })?)
}

pub fn react(
    conn: &Connection,
    post: i64,
    did: &str,
    emoji: &str,
    remove: bool,
    now: i64,
) -> SpaceResult<()> {
    if remove {
        conn.prepare_cached("DELETE FROM reaction WHERE post = ?1 AND emoji = ?2 AND did = ?3")?
            .execute(params![post, emoji, did])?;
    } else {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO reaction (post, emoji, did, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![post, emoji, did, now])?;
    }
    Ok(())
}

pub fn set_hidden(conn: &Connection, post: i64, hidden: bool) -> SpaceResult<()> {
    conn.prepare_cached("UPDATE post SET hidden = ?2 WHERE id = ?1")?
        .execute(params![post, hidden])?;
    Ok(())
}

pub fn set_pinned(conn: &Connection, post: i64, pinned: bool) -> SpaceResult<()> {
    conn.prepare_cached("UPDATE post SET pinned = ?2 WHERE id = ?1")?
        .execute(params![post, pinned])?;
    Ok(())
}

/// Marks `answer` as the accepted answer of `root`, or (`accepted` false) unmarks it if it
/// was the one.
pub fn set_accepted_answer(
    conn: &Connection,
    root: i64,
    answer: i64,
    accepted: bool,
) -> SpaceResult<()> {
    if accepted {
        conn.prepare_cached("UPDATE post SET accepted_answer = ?2 WHERE id = ?1")?
            .execute(params![root, answer])?;
    } else {
        conn.prepare_cached(
            "UPDATE post SET accepted_answer = NULL WHERE id = ?1 AND accepted_answer = ?2",
        )?
        .execute(params![root, answer])?;
    }
    Ok(())
}

/// A channel's pinned threads, newest first (hidden ones only with `hidden`).
pub fn pinned_threads(
    conn: &Connection,
    channel: i64,
    hidden: bool,
    limit: i64,
) -> SpaceResult<Vec<PostRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {POST_COLS} FROM post INDEXED BY post_pinned
         WHERE channel = ?1 AND root IS NULL AND pinned = 1 AND (hidden = 0 OR ?2)
         ORDER BY id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![channel, hidden, limit], PostRow::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A channel's unpinned threads with ids below `before`, newest first.
pub fn threads_before(
    conn: &Connection,
    channel: i64,
    before: i64,
    hidden: bool,
    limit: i64,
) -> SpaceResult<Vec<PostRow>> {
    // The planner would otherwise take `post_by_channel` (every post of the channel, replies
    // included) over the roots-only feed index, and filter tens of thousands of rows a page.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {POST_COLS} FROM post INDEXED BY post_feed
         WHERE channel = ?1 AND root IS NULL AND id < ?2 AND pinned = 0 AND (hidden = 0 OR ?3)
         ORDER BY id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![channel, before, hidden, limit], PostRow::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A thread's replies, oldest first.
pub fn replies(
    conn: &Connection,
    root: i64,
    hidden: bool,
    after: i64,
    limit: i64,
) -> SpaceResult<Vec<PostRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {POST_COLS} FROM post WHERE root = ?1 AND root IS NOT NULL AND (hidden = 0 OR ?2)
           AND id > ?3
         ORDER BY id LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![root, hidden, after, limit], PostRow::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Who uploaded an image to the space, if anyone did.
pub fn image_uploader(conn: &Connection, space: i64, cid: &str) -> SpaceResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT uploader FROM space_image WHERE space = ?1 AND cid = ?2")?
        .query_row(params![space, cid], |r| r.get(0))
        .optional()?)
}

/// An image uploaded to a space.
pub struct NewImage<'a> {
    pub space: i64,
    pub cid: &'a str,
    pub mime: &'a str,
    pub size: i64,
    pub uploader: &'a str,
    pub now: i64,
}

/// Image bytes stored: by `uploader` across all spaces, and in `space` by everyone.
pub fn image_usage(conn: &Connection, space: i64, uploader: &str) -> SpaceResult<(i64, i64)> {
    Ok(conn
        .prepare_cached(
            "SELECT (SELECT coalesce(sum(size), 0) FROM space_image WHERE uploader = ?2),
                    (SELECT coalesce(sum(size), 0) FROM space_image WHERE space = ?1)",
        )?
        .query_row(params![space, uploader], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Whether `space` already holds the image `cid` (uploading it again costs nothing).
pub fn has_image(conn: &Connection, space: i64, cid: &str) -> SpaceResult<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM space_image WHERE space = ?1 AND cid = ?2)")?
        .query_row(params![space, cid], |r| r.get(0))?)
}

/// Forgets up to `limit` uploads made before `before` that no post in their space shows;
/// returns their CIDs (whose files may go, if no other space holds them).
pub fn forget_unattached_images(
    conn: &Connection,
    before: i64,
    limit: i64,
) -> SpaceResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM space_image WHERE (space, cid) IN (
             SELECT si.space, si.cid FROM space_image si
             WHERE si.created_at < ?1
               AND NOT EXISTS (SELECT 1 FROM post_image pi JOIN post p ON p.id = pi.post
                               WHERE pi.cid = si.cid AND p.space = si.space)
             ORDER BY si.created_at LIMIT ?2)
         RETURNING cid",
    )?;
    let rows = stmt.query_map(params![before, limit], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert_image(conn: &Connection, i: &NewImage<'_>) -> SpaceResult<()> {
    conn.prepare_cached(
        // Uploading the same image again restarts its grace period: the collector must not
        // take an image just uploaded for a post because it was first uploaded long ago.
        "INSERT INTO space_image (space, cid, mime, size, uploader, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (space, cid) DO UPDATE SET created_at = excluded.created_at",
    )?
    .execute(params![i.space, i.cid, i.mime, i.size, i.uploader, i.now])?;
    Ok(())
}

/// An image's type and uploader.
pub fn image(conn: &Connection, space: i64, cid: &str) -> SpaceResult<Option<(String, String)>> {
    Ok(conn
        .prepare_cached("SELECT mime, uploader FROM space_image WHERE space = ?1 AND cid = ?2")?
        .query_row(params![space, cid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Whether a post of the space that a member with `role` may read shows the image.
pub fn image_shown_to(conn: &Connection, space: i64, cid: &str, role: Role) -> SpaceResult<bool> {
    let moderator = role >= Role::Moderator;
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (
               SELECT 1 FROM post_image pi
               JOIN post p ON p.id = pi.post
               JOIN channel c ON c.id = p.channel
               LEFT JOIN post r ON r.id = p.root
               WHERE pi.cid = ?1 AND p.space = ?2 AND c.read_role <= ?3
                 AND ((p.hidden = 0 AND coalesce(r.hidden, 0) = 0) OR ?4))",
        )?
        .query_row(params![cid, space, role.as_i64(), moderator], |r| r.get(0))?)
}
