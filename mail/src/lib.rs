//! Hearth's one way to send email, shared by the PDS and the spaces service: the SMTP transport
//! (lettre, tokio, rustls; `HEARTH_SMTP_URL`, `HEARTH_SMTP_FROM`), messages with a plain-text
//! part and an HTML twin rendered from it, and the background loop that drains a service's
//! durable outbox. Each service keeps its outbox table in its own store and implements
//! [`Outbox`] over it; mail is queued in the transaction that caused it, and leaves the outbox
//! only once the SMTP server accepted it (failures are retried with backoff, then dropped).
//! Logs carry outbox ids only, never addresses or text.

mod html;

pub use html::html_from_text;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Give up on a message after this many failed attempts.
pub const MAX_ATTEMPTS: i64 = 8;
/// Messages sent per outbox pass.
const BATCH: i64 = 50;
/// The window a recipient's cap ([`Outbox::DAILY_CAP`]) counts over.
pub const DAY_MS: i64 = 24 * 3_600_000;

/// Why the mail settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    // The URL may carry credentials: the error says what failed, not the URL.
    #[error("HEARTH_SMTP_URL is not a valid smtp:// or smtps:// URL")]
    Url,
    #[error("HEARTH_SMTP_FROM is not a valid address")]
    From,
}

/// Whether `s` is an email address mail can be sent to (`local@domain`, no display name).
pub fn is_address(s: &str) -> bool {
    s.parse::<lettre::Address>().is_ok()
}

/// Checked mail settings. Connecting ([`MailConfig::connect`]) needs a tokio runtime (the
/// connection pool runs a task), checking does not, so a service checks its settings when it
/// opens and connects when its background work starts.
#[derive(Clone, Debug)]
pub struct MailConfig {
    url: String,
    from: Mailbox,
}

impl MailConfig {
    /// The settings from `HEARTH_SMTP_URL` and `HEARTH_SMTP_FROM`; `None` (email off) without a
    /// URL. The sender defaults to `Hearth <hearth@{host}>`.
    pub fn new(
        url: Option<&str>,
        from: Option<&str>,
        host: &str,
    ) -> Result<Option<MailConfig>, MailError> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|_| MailError::Url)?;
        let from = match from.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => f.parse().map_err(|_| MailError::From)?,
            None => format!("Hearth <hearth@{host}>")
                .parse()
                .map_err(|_| MailError::From)?,
        };
        Ok(Some(MailConfig {
            url: url.to_owned(),
            from,
        }))
    }

    /// Opens the SMTP transport (connections are made when mail is sent).
    pub fn connect(&self) -> Result<Mailer, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.url)
            .map_err(|_| MailError::Url)?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Mailer {
            transport,
            from: self.from.clone(),
        })
    }
}

/// An SMTP transport and the sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// One message: plain text, sent with an HTML twin rendered from it ([`html_from_text`]).
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// A one-click unsubscribe link (RFC 8058 headers, and the link in the text).
    pub unsubscribe: Option<String>,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Nothing will make this message deliverable: it is dropped.
    #[error("{0}")]
    Undeliverable(&'static str),
    /// The SMTP server did not take it (it may later).
    #[error("the SMTP server did not accept the message: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl Mailer {
    /// Sends one message now.
    pub async fn send(&self, email: &Email) -> Result<(), SendError> {
        let msg = self.build(email)?;
        self.transport.send(msg).await?;
        Ok(())
    }

    /// The message: `multipart/alternative` with the text and its HTML rendering, and when the
    /// recipient has an unsubscribe link, the one-click headers of RFC 8058 and the link in
    /// the body for readers without the button.
    fn build(&self, e: &Email) -> Result<Message, SendError> {
        let to: Mailbox =
            e.to.parse()
                .map_err(|_| SendError::Undeliverable("bad address"))?;
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(e.subject.clone());
        let mut text = e.text.clone();
        if let Some(url) = &e.unsubscribe {
            b = b
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
            text.push_str(&format!("\n\nTo stop all email from Hearth: {url}\n"));
        }
        let html = html_from_text(&e.subject, &text);
        b.multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|_| SendError::Undeliverable("could not build the message"))
    }
}

/// A queued message, as the service's outbox holds it.
pub struct Queued {
    pub id: i64,
    pub email: Email,
    /// Failed attempts so far.
    pub attempts: i64,
    /// Messages sent to this address within the last [`DAY_MS`] (0 where the outbox keeps no
    /// count).
    pub sent_today: i64,
}

/// What an outbox pass did, for the service to record in one transaction.
#[derive(Debug, Default)]
pub struct Settled {
    /// Accepted by the SMTP server: (outbox id, address).
    pub sent: Vec<(i64, String)>,
    /// Given up on (undeliverable, over the cap, or out of attempts).
    pub dropped: Vec<i64>,
    /// Failed, to try again: (outbox id, when, Unix ms).
    pub retry: Vec<(i64, i64)>,
}

/// A service's durable outbox: its table, in its store.
pub trait Outbox: Send + Sync + 'static {
    type Error: std::fmt::Display + Send;
    /// The most messages one address receives in [`DAY_MS`]; what is over it is dropped, not
    /// delayed. `None`: no cap (the service limits the requests that queue mail instead).
    const DAILY_CAP: Option<i64>;
    /// A name for the logs.
    const NAME: &'static str;
    /// Messages due at `now` (Unix ms), oldest first, at most `limit`.
    fn due(
        &self,
        now: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Queued>, Self::Error>> + Send;
    /// Records what a pass did: forgets what was sent or dropped, reschedules what failed.
    fn settle(
        &self,
        pass: Settled,
        now: i64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Resolves when a commit queued mail.
    fn queued(&self) -> impl Future<Output = ()> + Send;
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Drains `outbox` through `mailer` in the background, for as long as the runtime runs.
pub fn spawn<O: Outbox>(mailer: Mailer, outbox: O) {
    tokio::spawn(async move {
        loop {
            match drain(&mailer, &outbox).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "{}: outbox pass failed", O::NAME),
            }
            // Woken by a commit that queued mail; otherwise look again for retries.
            let _ = tokio::time::timeout(Duration::from_secs(30), outbox.queued()).await;
        }
    });
}

/// Sends what is due; returns how many messages were handled (sent or given up).
pub async fn drain<O: Outbox>(mailer: &Mailer, outbox: &O) -> Result<usize, O::Error> {
    let now = now_ms();
    let due = outbox.due(now, BATCH).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut pass = Settled::default();
    for q in due {
        let to = q.email.to.to_ascii_lowercase();
        if let Some(cap) = O::DAILY_CAP {
            let this_pass = pass.sent.iter().filter(|(_, a)| *a == to).count() as i64;
            if q.sent_today + this_pass >= cap {
                tracing::debug!(
                    id = q.id,
                    "{}: dropping an email over the recipient's daily cap",
                    O::NAME
                );
                pass.dropped.push(q.id);
                continue;
            }
        }
        match mailer.send(&q.email).await {
            Ok(()) => {
                tracing::debug!(id = q.id, "{}: email sent", O::NAME);
                pass.sent.push((q.id, to));
            }
            Err(SendError::Undeliverable(why)) => {
                tracing::warn!(
                    id = q.id,
                    why,
                    "{}: dropping an undeliverable email",
                    O::NAME
                );
                pass.dropped.push(q.id);
            }
            Err(e) => {
                // The SMTP server's reply may quote the address: debug level only.
                tracing::debug!(id = q.id, error = %e, "{}: email not accepted", O::NAME);
                tracing::warn!(
                    id = q.id,
                    attempts = q.attempts,
                    "{}: email delivery failed; will retry",
                    O::NAME
                );
                if q.attempts + 1 >= MAX_ATTEMPTS {
                    pass.dropped.push(q.id);
                } else {
                    let backoff = 60_000i64.saturating_mul(1 << q.attempts.clamp(0, 10));
                    pass.retry.push((q.id, now_ms() + backoff));
                }
            }
        }
    }
    let handled = pass.sent.len() + pass.dropped.len();
    outbox.settle(pass, now).await?;
    Ok(handled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_default_the_sender() {
        assert!(MailConfig::new(None, None, "h.test").unwrap().is_none());
        assert!(
            MailConfig::new(Some("  "), Some("x"), "h.test")
                .unwrap()
                .is_none()
        );
        let c = MailConfig::new(Some("smtp://127.0.0.1:2525"), None, "h.test")
            .unwrap()
            .unwrap();
        assert_eq!(c.from.to_string(), "Hearth <hearth@h.test>");
        assert!(matches!(
            MailConfig::new(Some("ftp://nope"), None, "h.test"),
            Err(MailError::Url)
        ));
        assert!(matches!(
            MailConfig::new(
                Some("smtp://127.0.0.1:2525"),
                Some("not an address"),
                "h.test"
            ),
            Err(MailError::From)
        ));
    }

    /// An outbox in memory, with a cap of 2 a day, recording what a pass settled.
    struct Fake {
        due: std::sync::Mutex<Vec<Queued>>,
        settled: std::sync::Mutex<Option<Settled>>,
    }

    impl Outbox for Fake {
        type Error = std::convert::Infallible;
        const DAILY_CAP: Option<i64> = Some(2);
        const NAME: &'static str = "test";

        async fn due(&self, _now: i64, _limit: i64) -> Result<Vec<Queued>, Self::Error> {
            Ok(std::mem::take(&mut *self.due.lock().unwrap()))
        }

        async fn settle(&self, pass: Settled, _now: i64) -> Result<(), Self::Error> {
            *self.settled.lock().unwrap() = Some(pass);
            Ok(())
        }

        async fn queued(&self) {}
    }

    fn queued(id: i64, to: &str, attempts: i64, sent_today: i64) -> Queued {
        Queued {
            id,
            email: Email {
                to: to.into(),
                subject: "s".into(),
                text: "t".into(),
                unsubscribe: None,
            },
            attempts,
            sent_today,
        }
    }

    #[tokio::test]
    async fn a_pass_retries_with_backoff_gives_up_and_drops_what_cannot_go() {
        // Nothing listens on the discard port: every send fails as a server that is down does.
        let m = MailConfig::new(Some("smtp://127.0.0.1:9"), None, "h.test")
            .unwrap()
            .unwrap()
            .connect()
            .unwrap();
        let outbox = Fake {
            due: std::sync::Mutex::new(vec![
                queued(1, "ana@example.test", 0, 0),
                queued(2, "ana@example.test", 3, 0),
                queued(3, "ben@example.test", MAX_ATTEMPTS - 1, 0),
                queued(4, "not an address", 0, 0),
                queued(5, "Cap@Example.test", 0, 2),
            ]),
            settled: std::sync::Mutex::new(None),
        };
        let before = now_ms();
        let handled = drain(&m, &outbox).await.unwrap();
        let pass = outbox.settled.lock().unwrap().take().expect("settled");
        assert!(pass.sent.is_empty());
        // Out of attempts, undeliverable, over the recipient's cap: dropped.
        let mut dropped = pass.dropped.clone();
        dropped.sort();
        assert_eq!(dropped, vec![3, 4, 5]);
        assert_eq!(handled, 3);
        // The rest wait one minute, doubled per failed attempt.
        let retry: Vec<(i64, i64)> = pass
            .retry
            .iter()
            .map(|(id, at)| (*id, at - before))
            .collect();
        assert_eq!(retry.len(), 2, "{retry:?}");
        assert_eq!(retry[0].0, 1);
        assert!((60_000..70_000).contains(&retry[0].1), "{retry:?}");
        assert_eq!(retry[1].0, 2);
        assert!((480_000..490_000).contains(&retry[1].1), "{retry:?}");
        // Nothing due: nothing settled.
        assert_eq!(drain(&m, &outbox).await.unwrap(), 0);
        assert!(outbox.settled.lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn a_message_has_both_parts_and_the_unsubscribe_headers() {
        let m = MailConfig::new(Some("smtp://127.0.0.1:9"), Some("Me <me@h.test>"), "h.test")
            .unwrap()
            .unwrap()
            .connect()
            .unwrap();
        let e = Email {
            to: "ana@example.test".into(),
            subject: "Your code".into(),
            text: "Hello <Ana>,\n\nYour code is ABCDE-FGHIJ.".into(),
            unsubscribe: Some("https://h.test/email/unsubscribe/tok".into()),
        };
        let raw = String::from_utf8(m.build(&e).unwrap().formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
        assert!(raw.contains("List-Unsubscribe: <https://h.test/email/unsubscribe/tok>"));
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        // The HTML part escapes what the text says.
        assert!(raw.contains("Hello &lt;Ana&gt;,"), "{raw}");
        let bad = Email {
            to: "not an address".into(),
            ..e
        };
        assert!(matches!(m.build(&bad), Err(SendError::Undeliverable(_))));
    }
}
