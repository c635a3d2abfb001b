use super::*;

const APPVIEW: &str = "did:web:api.bsky.app#bsky_appview";

fn set(s: &str) -> ScopeSet {
    ScopeSet::parse_with(s, atproto::lexicon::Catalog::official()).expect(s)
}

/// Each string parses and prints back in its normal form.
#[test]
fn canonical_forms() {
    for (input, printed) in [
        ("atproto", "atproto"),
        ("transition:generic", "transition:generic"),
        ("transition:chat.bsky", "transition:chat.bsky"),
        ("repo:app.bsky.feed.post", "repo:app.bsky.feed.post"),
        (
            "repo?collection=app.bsky.feed.post",
            "repo:app.bsky.feed.post",
        ),
        (
            "repo:app.bsky.feed.post?action=create",
            "repo:app.bsky.feed.post?action=create",
        ),
        (
            "repo:app.bsky.feed.post?action=create&action=update&action=delete",
            "repo:app.bsky.feed.post",
        ),
        (
            "repo?collection=app.bsky.feed.post&collection=app.bsky.feed.like&action=delete&action=create",
            "repo?collection=app.bsky.feed.like&collection=app.bsky.feed.post&action=create&action=delete",
        ),
        ("repo?collection=app.bsky.feed.post&collection=*", "repo:*"),
        (
            "rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview",
            "rpc:app.bsky.feed.getTimeline?aud=did%3Aweb%3Aapi.bsky.app%23bsky_appview",
        ),
        (
            "rpc:*?aud=did:web:api.bsky.app%23bsky_appview",
            "rpc:*?aud=did%3Aweb%3Aapi.bsky.app%23bsky_appview",
        ),
        (
            "rpc:app.bsky.feed.getTimeline?aud=*",
            "rpc:app.bsky.feed.getTimeline?aud=*",
        ),
        ("blob:image/*", "blob:image/*"),
        ("blob:*/*", "blob:*/*"),
        ("blob?accept=image/png&accept=image/*", "blob:image/*"),
        (
            "blob?accept=video/mp4&accept=image/*&accept=*/*",
            "blob:*/*",
        ),
        ("blob:IMAGE/PNG", "blob:image/png"),
        ("account:email", "account:email"),
        ("account:email?action=read", "account:email"),
        ("account:repo?action=manage", "account:repo?action=manage"),
        ("account?attr=status", "account:status"),
        ("identity:handle", "identity:handle"),
        ("identity:*", "identity:*"),
        (
            "include:app.bsky.authCreatePosts",
            "include:app.bsky.authCreatePosts",
        ),
        (
            "include:app.bsky.authFullApp?aud=did:web:api.bsky.app%23bsky_appview",
            "include:app.bsky.authFullApp?aud=did%3Aweb%3Aapi.bsky.app%23bsky_appview",
        ),
    ] {
        let scope = Scope::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(scope.to_string(), printed, "{input}");
        assert_eq!(Scope::parse(printed), Ok(scope), "{printed} reparses");
    }
}

#[test]
fn malformed_scopes_refused() {
    for bad in [
        "",
        "repo",
        "repo:",
        "repo:not-an-nsid",
        "repo:app.bsky.feed.post?action=destroy",
        "repo:app.bsky.feed.post?collection=app.bsky.feed.like",
        "repo:app.bsky.feed.post?color=red",
        "rpc:app.bsky.feed.getTimeline",
        "rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app",
        "rpc:app.bsky.feed.getTimeline?aud=api.bsky.app%23x",
        "rpc:*?aud=*",
        "rpc:app.bsky.feed.getTimeline?aud=*&aud=did:web:x%23y",
        "blob:image",
        "blob:image/png;q=1",
        "blob",
        "account:password",
        "account:email?action=write",
        "identity:did",
        "identity",
        "include:notansid",
        "include:app.bsky.authFullApp?aud=not-a-did",
        "transition:everything",
        "openid",
        "atproto:x",
        "unknown:thing",
    ] {
        assert!(Scope::parse(bad).is_err(), "{bad:?} should be refused");
    }
    assert_eq!(
        ScopeSet::parse("atproto repo:x").err(),
        Some(ScopeError::Invalid {
            scope: "repo:x".into(),
            why: "collection must be an NSID or *"
        })
    );
}

#[test]
fn repo_permissions() {
    let s = set("atproto repo:app.bsky.feed.post?action=create repo:app.bsky.feed.like");
    assert!(s.has_atproto());
    assert!(s.allows_repo("app.bsky.feed.post", RepoAction::Create));
    assert!(!s.allows_repo("app.bsky.feed.post", RepoAction::Update));
    assert!(!s.allows_repo("app.bsky.feed.post", RepoAction::Delete));
    for a in RepoAction::ALL {
        assert!(s.allows_repo("app.bsky.feed.like", a));
        assert!(!s.allows_repo("app.bsky.graph.follow", a));
    }
    assert_eq!(
        s.require_repo("app.bsky.feed.post", RepoAction::Delete),
        Err(ScopeMissing("repo:app.bsky.feed.post?action=delete".into()))
    );
    let any = set("atproto repo:*?action=delete");
    assert!(any.allows_repo("com.example.anything", RepoAction::Delete));
    assert!(!any.allows_repo("com.example.anything", RepoAction::Create));
    // `atproto` alone allows no writes.
    let bare = set("atproto");
    assert!(!bare.allows_repo("app.bsky.feed.post", RepoAction::Create));
    assert!(!bare.allows_blob("image/png"));
    assert!(!bare.allows_rpc("app.bsky.feed.getTimeline", APPVIEW));
}

#[test]
fn rpc_permissions_by_method_and_audience() {
    let s = set(
        "atproto rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview rpc:*?aud=did:web:hearth.example%23hearth_appview rpc:com.example.ping?aud=*",
    );
    assert!(s.allows_rpc("app.bsky.feed.getTimeline", APPVIEW));
    assert!(!s.allows_rpc(
        "app.bsky.feed.getTimeline",
        "did:web:evil.example#bsky_appview"
    ));
    assert!(!s.allows_rpc("app.bsky.feed.getTimeline", "did:web:api.bsky.app#other"));
    assert!(!s.allows_rpc("app.bsky.feed.getAuthorFeed", APPVIEW));
    assert!(s.allows_rpc(
        "social.hearth.space.getSpace",
        "did:web:hearth.example#hearth_appview"
    ));
    assert!(s.allows_rpc("com.example.ping", "did:web:anyone.example#svc"));
    assert_eq!(
        s.require_rpc("app.bsky.feed.getAuthorFeed", APPVIEW),
        Err(ScopeMissing(
            "rpc:app.bsky.feed.getAuthorFeed?aud=did%3Aweb%3Aapi.bsky.app%23bsky_appview".into()
        ))
    );
}

#[test]
fn blob_permissions_by_mime() {
    let s = set("atproto blob:image/*");
    assert!(s.allows_blob("image/png"));
    assert!(s.allows_blob("IMAGE/JPEG"));
    assert!(s.allows_blob("image/webp; charset=binary"));
    assert!(!s.allows_blob("video/mp4"));
    assert!(!s.allows_blob("image"));
    assert!(!s.allows_blob("imagex/png"));
    let exact = set("atproto blob:video/mp4");
    assert!(exact.allows_blob("video/mp4"));
    assert!(!exact.allows_blob("video/webm"));
    let any = set("atproto blob:*/*");
    assert!(any.allows_blob("application/octet-stream"));
    assert!(!any.allows_blob("garbage"));
}

#[test]
fn account_and_identity_permissions() {
    let s = set("atproto account:email account:repo?action=manage identity:handle");
    assert!(s.allows_account(AccountAttr::Email, AccountAction::Read));
    assert!(!s.allows_account(AccountAttr::Email, AccountAction::Manage));
    assert!(s.allows_account(AccountAttr::Repo, AccountAction::Read));
    assert!(s.allows_account(AccountAttr::Repo, AccountAction::Manage));
    assert!(!s.allows_account(AccountAttr::Status, AccountAction::Read));
    assert!(s.allows_identity(IdentityAttr::Handle));
    assert!(!s.allows_identity(IdentityAttr::All));
    assert_eq!(
        s.require_account(AccountAttr::Email, AccountAction::Manage),
        Err(ScopeMissing("account:email?action=manage".into()))
    );
    assert_eq!(
        s.require_identity(IdentityAttr::All),
        Err(ScopeMissing("identity:*".into()))
    );
    let all = set("atproto identity:*");
    assert!(all.allows_identity(IdentityAttr::Handle));
    assert!(all.allows_identity(IdentityAttr::All));
    let email = set("atproto transition:email");
    assert!(email.allows_account(AccountAttr::Email, AccountAction::Read));
    assert!(!email.allows_account(AccountAttr::Email, AccountAction::Manage));
}

/// `transition:generic` is what an app password allows: records, blobs and proxied calls other
/// than chat; never account or identity management.
#[test]
fn transition_scopes() {
    let g = set("atproto transition:generic");
    assert!(g.allows_repo("app.bsky.feed.post", RepoAction::Delete));
    assert!(g.allows_repo("social.hearth.space.post", RepoAction::Create));
    assert!(g.allows_blob("video/mp4"));
    assert!(g.allows_rpc("app.bsky.feed.getTimeline", APPVIEW));
    assert!(g.allows_rpc(
        "social.hearth.space.getSpace",
        "did:web:h.example#hearth_appview"
    ));
    assert!(!g.allows_rpc(
        "chat.bsky.convo.listConvos",
        "did:web:api.bsky.chat#bsky_chat"
    ));
    assert!(!g.allows_account(AccountAttr::Email, AccountAction::Manage));
    assert!(!g.allows_account(AccountAttr::Status, AccountAction::Manage));
    assert!(!g.allows_identity(IdentityAttr::Handle));
    let chat = set("atproto transition:chat.bsky");
    assert!(chat.allows_rpc(
        "chat.bsky.convo.listConvos",
        "did:web:api.bsky.chat#bsky_chat"
    ));
    assert!(!chat.allows_rpc("app.bsky.feed.getTimeline", APPVIEW));
    assert!(!chat.allows_repo("app.bsky.feed.post", RepoAction::Create));
}

/// The official `app.bsky.authCreatePosts` set: create posts (not delete them), and video
/// upload methods at the audience the include names.
#[test]
fn include_expands_an_official_permission_set() {
    let s = set("atproto include:app.bsky.authCreatePosts?aud=did:web:api.bsky.app%23bsky_appview");
    assert!(s.unresolved().is_empty());
    assert!(s.allows_repo("app.bsky.feed.post", RepoAction::Create));
    assert!(s.allows_repo("app.bsky.feed.threadgate", RepoAction::Create));
    assert!(!s.allows_repo("app.bsky.feed.post", RepoAction::Delete));
    assert!(!s.allows_repo("app.bsky.feed.like", RepoAction::Create));
    assert!(s.allows_rpc("app.bsky.video.uploadVideo", APPVIEW));
    assert!(!s.allows_rpc("app.bsky.video.uploadVideo", "did:web:evil.example#x"));
    // Without an aud to inherit, the inheriting rpc permissions grant nothing.
    let no_aud = set("atproto include:app.bsky.authCreatePosts");
    assert!(no_aud.allows_repo("app.bsky.feed.post", RepoAction::Create));
    assert!(!no_aud.allows_rpc("app.bsky.video.uploadVideo", APPVIEW));
    // Printing keeps the include, not its expansion.
    assert_eq!(
        s.to_string(),
        "atproto include:app.bsky.authCreatePosts?aud=did%3Aweb%3Aapi.bsky.app%23bsky_appview"
    );
    let unknown = set("atproto include:com.example.authNothing");
    assert_eq!(unknown.unresolved(), ["com.example.authNothing"]);
    assert!(!unknown.allows_repo("com.example.post", RepoAction::Create));
}

struct OneSet(serde_json::Value);

impl PermissionSets for OneSet {
    fn permission_set(&self, nsid: &str) -> Option<PermissionSetDef> {
        (nsid == "com.example.authFull")
            .then(|| serde_json::from_value(self.0.clone()).expect("a permission set"))
    }
}

/// A permission set grants only its own namespace: records and methods of another authority,
/// and `account`/`identity` permissions, are dropped.
#[test]
fn include_is_limited_to_the_sets_namespace() {
    let sets = OneSet(serde_json::json!({
        "permissions": [
            {"type": "permission", "resource": "repo",
             "collection": ["com.example.post", "com.example.sub.thing"]},
            {"type": "permission", "resource": "repo", "collection": ["app.bsky.feed.post"]},
            {"type": "permission", "resource": "repo",
             "collection": ["com.example.like", "com.exampleother.like"]},
            {"type": "permission", "resource": "rpc", "lxm": ["com.example.getThing"],
             "inheritAud": true},
            {"type": "permission", "resource": "rpc", "lxm": ["com.example.ping"], "aud": "*"},
            {"type": "permission", "resource": "rpc", "lxm": ["app.bsky.feed.getTimeline"],
             "aud": "*"},
            {"type": "permission", "resource": "account", "attr": "email", "action": ["manage"]},
            {"type": "permission", "resource": "identity", "attr": "*"},
            {"type": "permission", "resource": "blob", "accept": ["image/*"]}
        ]
    }));
    let s = ScopeSet::parse_with(
        "atproto include:com.example.authFull?aud=did:web:svc.example%23svc",
        &sets,
    )
    .expect("parses");
    assert!(s.allows_repo("com.example.post", RepoAction::Delete));
    assert!(s.allows_repo("com.example.sub.thing", RepoAction::Create));
    assert!(!s.allows_repo("app.bsky.feed.post", RepoAction::Create));
    // One foreign collection drops the whole permission.
    assert!(!s.allows_repo("com.example.like", RepoAction::Create));
    assert!(!s.allows_repo("com.exampleother.like", RepoAction::Create));
    assert!(s.allows_rpc("com.example.getThing", "did:web:svc.example#svc"));
    assert!(!s.allows_rpc("com.example.getThing", "did:web:other.example#svc"));
    assert!(s.allows_rpc("com.example.ping", "did:web:other.example#svc"));
    assert!(!s.allows_rpc("app.bsky.feed.getTimeline", "did:web:svc.example#svc"));
    assert!(!s.allows_account(AccountAttr::Email, AccountAction::Read));
    assert!(!s.allows_identity(IdentityAttr::Handle));
    assert!(s.allows_blob("image/png"));
}

proptest::proptest! {
    /// Printing any parsed scope gives a string that parses to the same scope.
    #[test]
    fn printed_scopes_reparse(
        resource in "repo|rpc|blob|account|identity|include",
        positional in proptest::option::of("[a-z*]{1,6}(\\.[a-z]{1,6}){0,3}|[a-z]{1,5}/[a-z*]{1,5}"),
        params in proptest::collection::vec(
            ("collection|action|lxm|aud|accept|attr|nsid",
             "create|delete|manage|read|\\*|\\*/\\*|image/\\*|handle|email|did:web:a\\.example%23s|com\\.example\\.[a-z]{1,5}"),
            0..4,
        ),
    ) {
        let mut s = resource;
        if let Some(p) = positional {
            s.push(':');
            s.push_str(&p);
        }
        let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !q.is_empty() {
            s.push('?');
            s.push_str(&q.join("&"));
        }
        if let Ok(scope) = Scope::parse(&s) {
            let printed = scope.to_string();
            proptest::prop_assert_eq!(Scope::parse(&printed), Ok(scope), "{} -> {}", s, printed);
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,40}") {
        let _ = ScopeSet::parse(&s);
    }
}
