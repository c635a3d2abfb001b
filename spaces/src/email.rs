//! Sending email: the shared sender (`hearth_mail`) drains the spaces outbox, and a task queues
//! digests hourly. Each recipient gets at most [`DAILY_CAP`] messages a day.

use crate::model::{SpaceError, now_ms};
use crate::service::{SetupError, Spaces};
use crate::store;
use hearth_mail::{Email, Outbox, Queued, Settled};
use std::time::Duration;

/// Most messages one address receives in a day; what is over it is dropped, not delayed.
pub const DAILY_CAP: i64 = 10;

/// Starts the outbox sender and the hourly digest check, if email is configured.
pub fn start(s: &Spaces) -> Result<(), SetupError> {
    let Some(mail) = &s.mail else {
        tracing::info!("spaces: no SMTP server configured; email is off");
        return Ok(());
    };
    hearth_mail::spawn(mail.connect()?, SpacesOutbox(s.clone()));
    let digests = s.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = digests.queue_digests(now_ms()).await {
                tracing::warn!(error = %e, "spaces: digest pass failed");
            }
        }
    });
    Ok(())
}

/// The spaces database's `email_outbox` and `email_sent` tables.
struct SpacesOutbox(Spaces);

impl Outbox for SpacesOutbox {
    type Error = SpaceError;
    const DAILY_CAP: Option<i64> = Some(DAILY_CAP);
    const NAME: &'static str = "spaces";

    async fn due(&self, now: i64, limit: i64) -> Result<Vec<Queued>, SpaceError> {
        let public_url = self.0.public_url.clone();
        self.0
            .read(move |conn, _| {
                let due = store::due_emails(conn, now, limit)?;
                let mut out = Vec::with_capacity(due.len());
                for q in due {
                    let sent_today = store::sent_since(conn, &q.to, now - hearth_mail::DAY_MS)?;
                    out.push(Queued {
                        id: q.id,
                        email: Email {
                            to: q.to,
                            subject: q.subject,
                            text: q.body,
                            unsubscribe: q
                                .unsubscribe_token
                                .map(|t| format!("{public_url}/email/unsubscribe/{t}")),
                        },
                        attempts: q.attempts,
                        sent_today,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn settle(&self, pass: Settled, now: i64) -> Result<(), SpaceError> {
        self.0
            .write(move |txn, _| {
                let conn = txn.conn;
                for id in pass.dropped {
                    store::drop_email(conn, id)?;
                }
                for (id, to) in pass.sent {
                    store::drop_email(conn, id)?;
                    store::record_sent(conn, &to, now, now - hearth_mail::DAY_MS)?;
                }
                for (id, at) in pass.retry {
                    store::retry_email(conn, id, at)?;
                }
                Ok::<_, SpaceError>(())
            })
            .await
    }

    async fn queued(&self) {
        self.0.outbox.notified().await;
    }
}
