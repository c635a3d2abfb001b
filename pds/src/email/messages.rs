//! The emails that carry codes: plain words saying what the code is for, who asked, what to do
//! with it and what to do if it was not you. (`hearth_mail` renders the HTML part from the
//! text.)

use super::{CODE_TTL_SECS, Purpose};
use hearth_mail::Email;

/// Whose account a code is for.
pub struct Recipient<'a> {
    pub to: &'a str,
    pub handle: Option<&'a str>,
    pub did: &'a str,
    /// The server's hostname.
    pub server: &'a str,
}

/// What each email says: (subject, who asked and for what, what to do if it was not you).
fn wording(purpose: Purpose, account: &str, server: &str) -> (String, String, &'static str) {
    match purpose {
        Purpose::ConfirmEmail => (
            format!("Confirm your email address on {server}"),
            format!(
                "Someone signed in to your account {account} asked {server} to confirm that \
                 this email address is yours."
            ),
            "you can ignore this email: the address stays unconfirmed.",
        ),
        Purpose::UpdateEmail => (
            format!("Your code to change your email address on {server}"),
            format!(
                "Someone signed in to your account {account} asked {server} to change the \
                 account's email address away from this one."
            ),
            "someone may be signed in to your account. Do not share this code, and change \
             your password.",
        ),
        Purpose::ResetPassword => (
            format!("Your code to reset your password on {server}"),
            format!(
                "Someone asked {server} to reset the password of your account {account}, \
                 which has this email address."
            ),
            "you can ignore this email: nothing changes without the code, and your password \
             stays as it is.",
        ),
        Purpose::DeleteAccount => (
            format!("Your code to delete your account on {server}"),
            format!(
                "Someone signed in to your account {account} asked {server} to delete it, \
                 with everything it stored. Deletion cannot be undone."
            ),
            "someone may be signed in to your account. Do not share this code, and change \
             your password.",
        ),
        Purpose::PlcOperation => (
            format!("Your code to change your account's identity on {server}"),
            format!(
                "Someone signed in to your account {account} asked {server} to sign a change \
                 to its identity (its DID document): this is how an account moves to another \
                 server, or changes its handle or keys."
            ),
            "someone may be signed in to your account and trying to take it elsewhere. Do not \
             share this code, and change your password.",
        ),
    }
}

/// The email carrying `code` for `purpose`.
pub fn code_email(purpose: Purpose, r: &Recipient<'_>, code: &str) -> Email {
    let account = match r.handle {
        Some(h) => format!("@{h} ({})", r.did),
        None => r.did.to_owned(),
    };
    let (subject, asked, not_you) = wording(purpose, &account, r.server);
    let minutes = CODE_TTL_SECS / 60;
    let text = format!(
        "Hello,\n\n\
         {asked}\n\n\
         Your code: {code}\n\n\
         Enter it in the app where you asked for it. It works once, and expires in {minutes} \
         minutes.\n\n\
         If this was not you, {not_you}\n\n\
         -- \n{server}\n",
        server = r.server,
    );
    Email {
        to: r.to.to_owned(),
        subject,
        text,
        unsubscribe: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_email_says_what_the_code_is_for_who_asked_and_what_if_not_you() {
        let r = Recipient {
            to: "ana@example.test",
            handle: Some("ana.test"),
            did: "did:plc:abc",
            server: "pds.example.test",
        };
        let purposes = [
            (Purpose::ConfirmEmail, "confirm"),
            (Purpose::UpdateEmail, "change the account's email address"),
            (Purpose::ResetPassword, "reset the password"),
            (Purpose::DeleteAccount, "delete it"),
            (Purpose::PlcOperation, "identity"),
        ];
        let mut subjects = Vec::new();
        for (p, what) in purposes {
            let e = code_email(p, &r, "ABCDE-FGHIJ");
            assert_eq!(e.to, "ana@example.test");
            assert!(e.text.contains(what), "{p:?}: {}", e.text);
            assert!(e.text.contains("Your code: ABCDE-FGHIJ"), "{}", e.text);
            assert!(e.text.contains("@ana.test (did:plc:abc)"), "{}", e.text);
            assert!(e.text.contains("If this was not you"), "{}", e.text);
            assert!(e.text.contains("expires in 15 minutes"), "{}", e.text);
            assert!(e.subject.contains("pds.example.test"), "{}", e.subject);
            subjects.push(e.subject);
        }
        subjects.dedup();
        assert_eq!(subjects.len(), 5, "every purpose has its own subject");
    }
}
