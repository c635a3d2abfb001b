//! The names the `social.hearth` lexicons define, and the service id under which a Hearth
//! AppView serves them.

/// Every `social.hearth` method and record NSID starts with this.
pub const NAMESPACE: &str = "social.hearth.";
/// The NSID in every space URI.
pub const SPACE: &str = "social.hearth.space";
pub const CHANNEL: &str = "social.hearth.channel";
pub const POST: &str = "social.hearth.post";

/// The service id of a Hearth AppView in DID documents (`#hearth_appview`) and in the `aud` of
/// service-auth tokens for `social.hearth` methods (`<did>#hearth_appview`).
pub const SERVICE_ID: &str = "hearth_appview";
/// The service type beside [`SERVICE_ID`] in a DID document.
pub const SERVICE_TYPE: &str = "HearthAppView";

/// Whether an NSID is a `social.hearth` method (served by a Hearth AppView).
pub fn is_hearth_method(nsid: &str) -> bool {
    nsid.starts_with(NAMESPACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_nsids_are_in_the_namespace() {
        for nsid in [SPACE, CHANNEL, POST, "social.hearth.space.create"] {
            assert!(is_hearth_method(nsid), "{nsid}");
        }
        for nsid in [
            "app.bsky.feed.getTimeline",
            "social.hearthx.a",
            "social.hearth",
        ] {
            assert!(!is_hearth_method(nsid), "{nsid}");
        }
    }
}
