//! Background work: sending queued email, telling relays about this server, trimming the
//! firehose backfill window, and collecting blobs nothing references any more.

use crate::clock::now_secs;
use crate::db::{DbError, WriteTxn};
use crate::repo::store as repo_store;
use crate::state::AppState;
use std::time::Duration;

/// Unreferenced blobs are kept this long, so a client can upload first and write the record
/// referencing the blob a little later.
pub const BLOB_GRACE_SECS: i64 = 3600;

pub fn spawn_all(state: &AppState) {
    if let Some(mail) = &state.mail {
        match mail.connect() {
            Ok(mailer) => hearth_mail::spawn(
                mailer,
                crate::email::PdsOutbox {
                    db: state.db.clone(),
                    queued: state.outbox.clone(),
                },
            ),
            Err(e) => tracing::error!(error = %e, "PDS email is off"),
        }
    } else {
        tracing::info!("PDS: no SMTP server configured; account email is off");
    }
    let s = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(20 * 60));
        loop {
            tick.tick().await;
            request_crawl(&s).await;
        }
    });
    let s = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10 * 60));
        loop {
            tick.tick().await;
            if let Err(e) = prune_events(&s).await {
                tracing::warn!(error = %e, "pruning firehose events failed");
            }
            if let Err(e) = collect_blobs(&s, BLOB_GRACE_SECS).await {
                tracing::warn!(error = %e, "collecting blobs failed");
            }
        }
    });
}

/// Asks each configured relay to crawl this server.
pub async fn request_crawl(state: &AppState) {
    for crawler in &state.cfg.crawlers {
        let base = if crawler.starts_with("http://") || crawler.starts_with("https://") {
            crawler.trim_end_matches('/').to_owned()
        } else {
            format!("https://{}", crawler.trim_end_matches('/'))
        };
        let res = state
            .http
            .post(format!("{base}/xrpc/com.atproto.sync.requestCrawl"))
            .json(&serde_json::json!({ "hostname": state.cfg.hostname }))
            .send()
            .await;
        match res {
            Ok(r) if r.status().is_success() => tracing::info!(crawler = %base, "requested crawl"),
            Ok(r) => tracing::warn!(crawler = %base, status = %r.status(), "crawl request refused"),
            Err(e) => tracing::warn!(crawler = %base, error = %e, "crawl request failed"),
        }
    }
}

/// Drops events older than the backfill window (the newest event is always kept so sequence
/// numbers continue after a restart).
pub async fn prune_events(state: &AppState) -> Result<usize, DbError> {
    let cutoff = now_secs() - (state.cfg.backfill_hours as i64) * 3600;
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            Ok(txn.conn.execute(
                "DELETE FROM repo_seq WHERE created_at < ?1 AND seq < (SELECT MAX(seq) FROM repo_seq)",
                [cutoff],
            )?)
        })
        .await
}

/// Deletes blobs unreferenced for at least `grace` seconds; their bytes go when no account
/// holds them.
pub async fn collect_blobs(state: &AppState, grace: i64) -> Result<usize, DbError> {
    let cutoff = now_secs() - grace;
    let st = state.clone();
    let orphaned = state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            // `<=`: times are whole seconds, so with `<` a grace of 0 would spare every blob
            // unreferenced within the current second.
            let gone = repo_store::delete_unreferenced_blobs(txn.conn, cutoff)?;
            let mut orphaned = Vec::new();
            for cid in gone {
                if !repo_store::blob_held(txn.conn, &cid)?
                    && let Ok(c) = atproto::data::parse_cid(&cid)
                {
                    // Here, in the job, not after it: see `blobs` on ordering with uploads.
                    st.blobs.remove(&c);
                    orphaned.push(c);
                }
            }
            Ok::<_, DbError>(orphaned)
        })
        .await?;
    let count = orphaned.len();
    state.blobs.release_unheld(&state.db, orphaned).await;
    Ok(count)
}
