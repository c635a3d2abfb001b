//! Sending email: a background task drains the outbox over SMTP (lettre, tokio, rustls), and
//! another queues digests hourly. A message leaves the outbox only once the SMTP server has
//! accepted it; failures are retried with backoff, then dropped. Logs carry outbox ids only,
//! never addresses or text.

use crate::model::{SpaceError, SpaceResult, now_ms};
use crate::service::{SetupError, Spaces};
use crate::store;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Give up on a message after this many failed attempts.
const MAX_ATTEMPTS: i64 = 8;
/// Messages sent per outbox pass.
const BATCH: i64 = 50;
/// Most messages one address receives in a day; what is over it is dropped, not delayed.
pub const DAILY_CAP: i64 = 10;
const DAY_MS: i64 = 24 * 3_600_000;

struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

fn mailer(s: &Spaces) -> Result<Option<Mailer>, SetupError> {
    let Some(url) = &s.smtp_url else {
        return Ok(None);
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|_| SetupError::SmtpUrl)?
        .timeout(Some(Duration::from_secs(30)))
        .build();
    let from: Mailbox = s.smtp_from.parse().map_err(|_| SetupError::SmtpFrom)?;
    Ok(Some(Mailer { transport, from }))
}

/// Starts the outbox sender and the hourly digest check, if email is configured.
pub fn start(s: &Spaces) -> Result<(), SetupError> {
    let Some(m) = mailer(s)? else {
        tracing::info!("spaces: no SMTP server configured; email is off");
        return Ok(());
    };
    let sender = s.clone();
    tokio::spawn(async move {
        loop {
            match drain(&sender, &m).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "spaces: outbox pass failed"),
            }
            // Woken by a commit that queued mail; otherwise look again for retries.
            let _ = tokio::time::timeout(Duration::from_secs(30), sender.outbox.notified()).await;
        }
    });
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

/// Sends what is due; returns how many messages were handled (sent or given up).
async fn drain(s: &Spaces, m: &Mailer) -> SpaceResult<usize> {
    let now = now_ms();
    let due = s
        .read(move |conn, _| {
            let due = store::due_emails(conn, now, BATCH)?;
            let mut with_counts = Vec::with_capacity(due.len());
            for q in due {
                let sent = store::sent_since(conn, &q.to, now - DAY_MS)?;
                with_counts.push((q, sent));
            }
            Ok(with_counts)
        })
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut done = Vec::new();
    let mut sent_to: Vec<String> = Vec::new();
    let mut failed = Vec::new();
    for (
        store::Queued {
            id,
            to,
            subject,
            body,
            attempts,
            unsubscribe_token,
        },
        sent_before,
    ) in due
    {
        let this_pass = sent_to.iter().filter(|a| **a == to).count() as i64;
        if sent_before + this_pass >= DAILY_CAP {
            tracing::debug!(
                id,
                "spaces: dropping an email over the recipient's daily cap"
            );
            done.push(id);
            continue;
        }
        let unsubscribe =
            unsubscribe_token.map(|t| format!("{}/email/unsubscribe/{t}", s.public_url));
        let msg = to
            .parse::<Mailbox>()
            .map_err(|_| "bad address")
            .and_then(|to| build(m, to, subject, body, unsubscribe.as_deref()));
        match msg {
            Err(why) => {
                tracing::warn!(id, why, "spaces: dropping an undeliverable email");
                done.push(id);
            }
            Ok(msg) => match m.transport.send(msg).await {
                Ok(_) => {
                    tracing::debug!(id, "spaces: email sent");
                    done.push(id);
                    sent_to.push(to);
                }
                Err(e) => {
                    // The SMTP server's reply may quote the address: debug level only.
                    tracing::debug!(id, error = %e, "spaces: email not accepted");
                    tracing::warn!(id, attempts, "spaces: email delivery failed; will retry");
                    failed.push((id, attempts));
                }
            },
        }
    }
    let handled = done.len() + failed.iter().filter(|(_, a)| a + 1 >= MAX_ATTEMPTS).count();
    s.write(move |txn, _| {
        let conn = txn.conn;
        for id in done {
            store::drop_email(conn, id)?;
        }
        for to in sent_to {
            store::record_sent(conn, &to, now, now - DAY_MS)?;
        }
        for (id, attempts) in failed {
            if attempts + 1 >= MAX_ATTEMPTS {
                store::drop_email(conn, id)?;
            } else {
                let backoff = 60_000i64.saturating_mul(1 << attempts.min(10));
                store::retry_email(conn, id, now_ms() + backoff)?;
            }
        }
        Ok::<_, SpaceError>(())
    })
    .await?;
    Ok(handled)
}

/// A message with, when the recipient has an unsubscribe link, the one-click unsubscribe
/// headers of RFC 8058 (and the link in the text, for readers without the button).
fn build(
    m: &Mailer,
    to: Mailbox,
    subject: String,
    mut body: String,
    unsubscribe: Option<&str>,
) -> Result<Message, &'static str> {
    let mut b = Message::builder()
        .from(m.from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    if let Some(url) = unsubscribe {
        b = b
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
        body.push_str(&format!("\nTo stop all email from Hearth: {url}\n"));
    }
    b.body(body).map_err(|_| "could not build the message")
}
