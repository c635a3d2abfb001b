//! The PDS's side of the shared sender: its `email_outbox` table as a [`hearth_mail::Outbox`].

use super::store;
use crate::db::{Db, DbError, WriteTxn};
use hearth_mail::{Email, Outbox, Queued, Settled};
use std::sync::Arc;
use tokio::sync::Notify;

/// The outbox in the PDS database, and the signal a commit that queued mail gives.
pub struct PdsOutbox {
    pub db: Db,
    pub queued: Arc<Notify>,
}

impl Outbox for PdsOutbox {
    type Error = DbError;
    // Every message answers a request, and those are rate-limited per account, address and IP.
    const DAILY_CAP: Option<i64> = None;
    const NAME: &'static str = "pds";

    async fn due(&self, now: i64, limit: i64) -> Result<Vec<Queued>, DbError> {
        let due = self
            .db
            .readers
            .read(move |c| store::due(c, now, limit))
            .await?;
        Ok(due
            .into_iter()
            .map(|q| Queued {
                id: q.id,
                email: Email {
                    to: q.to,
                    subject: q.subject,
                    text: q.body,
                    unsubscribe: None,
                },
                attempts: q.attempts,
                sent_today: 0,
            })
            .collect())
    }

    async fn settle(&self, pass: Settled, _now: i64) -> Result<(), DbError> {
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                for id in pass
                    .dropped
                    .into_iter()
                    .chain(pass.sent.into_iter().map(|s| s.0))
                {
                    store::drop_queued(txn.conn, id)?;
                }
                for (id, at) in pass.retry {
                    store::retry(txn.conn, id, at)?;
                }
                Ok::<_, DbError>(())
            })
            .await
    }

    async fn queued(&self) {
        self.queued.notified().await;
    }
}
