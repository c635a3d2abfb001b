//! Email abuse resistance, with a real SMTP server (aiosmtpd): only confirmed addresses get
//! email (single-use, expiring confirmation links), every email carries one-click
//! unsubscribe headers with a working endpoint, and each recipient has a daily cap.

mod spaces_common;

use hearth_spaces::email::DAILY_CAP;
use hearth_spaces::model::{SpaceError, now_ms};
use hearth_spaces::ops::notifications::CONFIRMATION_HOURS;
use serde_json::{Value, json};
use spaces_common::*;
use std::time::Duration;

struct World {
    smtp: Smtp,
    app: Appview,
    c: Client,
    lead: Actor,
    ana: Actor,
    announcements: String,
    _tmp: tempfile::TempDir,
    /// The PLC directory; it stops when dropped.
    _plc: TestPlc,
}

/// A space whose lead posts announcements (emailed) and a member, Ana.
async fn world() -> World {
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = start_smtp(tmp.path()).await;
    let directory = TestPlc::spawn().expect("PLC directory");
    let plc = directory.url().to_owned();
    let app = start_appview(&plc, Some(format!("smtp://127.0.0.1:{}", smtp.port))).await;
    let c = Client::new(&app);
    let lead = actor(&plc, "lead").await;
    let ana = actor(&plc, "ana").await;
    let created = c
        .post(
            &lead,
            "space.create",
            json!({ "name": "Mail", "joinPolicy": "invite" }),
        )
        .await
        .expect_ok("space");
    let space = created["space"]["uri"].as_str().expect("uri").to_owned();
    let announcements = created["channels"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["kind"] == "announcements"))
        .and_then(|c| c["uri"].as_str())
        .expect("announcements")
        .to_owned();
    let inv = c
        .post(&lead, "invite.create", json!({ "space": space }))
        .await
        .expect_ok("invite");
    c.post(&ana, "invite.accept", json!({ "token": inv["token"] }))
        .await
        .expect_ok("accept");
    World {
        smtp,
        app,
        c,
        lead,
        ana,
        announcements,
        _tmp: tmp,
        _plc: directory,
    }
}

impl World {
    async fn announce(&self, text: &str) {
        self.c
            .post(
                &self.lead,
                "post.create",
                json!({ "channel": self.announcements, "text": text }),
            )
            .await
            .expect_ok("announce");
    }

    async fn set_email(&self, addr: &str) -> Value {
        self.c
            .post(
                &self.ana,
                "notification.putSettings",
                json!({ "email": addr }),
            )
            .await
            .expect_ok("settings")
    }

    /// Waits until the outbox is empty (everything sent or dropped).
    async fn drained(&self) {
        let conn = rusqlite::Connection::open(self.app.dir.join("spaces.sqlite")).expect("db");
        for _ in 0..400 {
            let n: i64 = conn
                .query_row("SELECT count(*) FROM email_outbox", [], |r| r.get(0))
                .expect("count");
            if n == 0 {
                // aiosmtpd writes the file after accepting.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the outbox did not drain");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn email_needs_verified_address() {
    let cases = Cases::new("spaces email needs a confirmed address");
    let w = world().await;
    let addr = "victim@example.test";
    let st = w.set_email(addr).await;
    assert_eq!(st["emailVerified"], false);
    w.announce("Unconfirmed: must not be mailed").await;
    w.drained().await;
    let got = w.smtp.to(addr);
    assert_eq!(got.len(), 1, "only the confirmation: {got:?}");
    assert!(got[0].contains("/email/confirm/"), "{}", got[0]);
    assert!(!got[0].contains("must not be mailed"));
    cases.case("an unconfirmed address gets only the confirmation");
    let link = w.smtp.confirm(addr).await;
    let st =
        w.c.get(&w.ana, "notification.getSettings", &[])
            .await
            .expect_ok("settings");
    assert_eq!(st["emailVerified"], true);
    // Single use.
    let again = reqwest::get(&link).await.expect("again");
    assert_eq!(again.status(), 400);
    w.announce("Confirmed: mailed").await;
    w.smtp
        .wait_for("the announcement after confirming", |m| {
            m.contains(&format!("To: {addr}")) && m.contains("Confirmed: mailed")
        })
        .await;
    cases.case("a confirmation link works once");
    // A new address starts unconfirmed again, and its link expires.
    let other = "other@example.test";
    let st = w.set_email(other).await;
    assert_eq!(st["emailVerified"], false);
    w.drained().await;
    let mail = w.smtp.to(other).pop().expect("a confirmation");
    let link = link_in(&mail, "/email/confirm/").expect("link");
    let token = link.rsplit('/').next().expect("token");
    let late = now_ms() + (CONFIRMATION_HOURS + 1) * 3_600_000;
    let r = w.app.spaces.confirm_email(token, late).await;
    assert!(
        matches!(r, Err(SpaceError::Named("InvalidToken", _))),
        "{r:?}"
    );
    w.announce("Not to the expired one").await;
    w.drained().await;
    assert!(
        !w.smtp
            .to(other)
            .iter()
            .any(|m| m.contains("Not to the expired")),
        "an unconfirmed address gets nothing else"
    );
    cases.case("an expired confirmation link is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn email_has_one_click_unsubscribe() {
    let cases = Cases::new("spaces email has one-click unsubscribe");
    let w = world().await;
    let addr = "ana@example.test";
    w.set_email(addr).await;
    w.smtp.confirm(addr).await;
    w.announce("With an unsubscribe header").await;
    let mail = w
        .smtp
        .wait_for("the announcement", |m| {
            m.contains(&format!("To: {addr}")) && m.contains("With an unsubscribe")
        })
        .await;
    assert!(
        mail.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{mail}"
    );
    assert!(mail.contains("List-Unsubscribe: <"), "{mail}");
    let url = link_in(&mail, "/email/unsubscribe/").expect("unsubscribe link");
    cases.case("every email carries one-click unsubscribe headers");
    // A browser (or a link scanner) opening it unsubscribes no one; the one-click POST does.
    let page = reqwest::get(&url).await.expect("get");
    assert!(page.status().is_success());
    let st =
        w.c.get(&w.ana, "notification.getSettings", &[])
            .await
            .expect_ok("settings");
    assert_eq!(st["announcementEmails"], true);
    let res = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("post");
    assert!(res.status().is_success(), "{}", res.status());
    let st =
        w.c.get(&w.ana, "notification.getSettings", &[])
            .await
            .expect_ok("settings");
    assert_eq!(
        (st["announcementEmails"].as_bool(), st["digest"].as_str()),
        (Some(false), Some("off"))
    );
    w.announce("After unsubscribing").await;
    w.drained().await;
    assert!(
        !w.smtp
            .to(addr)
            .iter()
            .any(|m| m.contains("After unsubscribing"))
    );
    let bogus = url.replace("/unsubscribe/", "/unsubscribe/x");
    let res = reqwest::Client::new()
        .post(&bogus)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    cases.case("unsubscribe works by POST; a bogus token is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn email_daily_cap_per_recipient() {
    let cases = Cases::new("spaces email daily cap per recipient");
    let w = world().await;
    let addr = "ana@example.test";
    w.set_email(addr).await;
    w.smtp.confirm(addr).await;
    for i in 0..(DAILY_CAP + 3) {
        w.announce(&format!("Announcement number {i}")).await;
    }
    w.drained().await;
    let got = w.smtp.to(addr);
    // The confirmation counts too: the address got exactly the cap, no more.
    assert_eq!(got.len() as i64, DAILY_CAP, "{} messages", got.len());
    cases.case("an address gets at most the daily cap");
}

/// Saving an unconfirmed address again and again does not mail it again: otherwise anyone
/// could make Hearth mail a stranger repeatedly (and use up that address's daily cap).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn confirmations_are_not_resent_at_will() {
    let cases = Cases::new("spaces email confirmations are not resent at will");
    let w = world().await;
    let addr = "stranger@example.test";
    for _ in 0..5 {
        w.set_email(addr).await;
    }
    w.drained().await;
    assert_eq!(w.smtp.to(addr).len(), 1, "one confirmation for five saves");
    cases.case("the same address saved five times is mailed once");
    // A different spelling of the same mailbox is a new address here (addresses are compared
    // as given), so it gets its own confirmation; the daily cap counts both together.
    let upper = "Stranger@Example.test";
    w.set_email(upper).await;
    w.drained().await;
    assert_eq!(w.smtp.to(upper).len(), 1, "a new address is confirmed once");
    let sent: i64 = rusqlite::Connection::open(w.app.dir.join("spaces.sqlite"))
        .expect("db")
        .query_row(
            "SELECT count(*) FROM email_sent WHERE to_addr = 'stranger@example.test'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(sent, 2, "the cap counts both spellings as one mailbox");
    cases.case("the daily cap is counted case-blind");
}
