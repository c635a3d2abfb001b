//! atproto OAuth scopes and permissions (atproto.com/specs/permission): parse and print the
//! scope grammar, expand `include:` permission sets, and answer "does this grant allow X".
//!
//! A granular scope is `resource[:positional][?name=value&...]`: the positional part is the
//! shorthand of one parameter (`repo:app.bsky.feed.post` is `repo?collection=app.bsky.feed.post`)
//! and may not be combined with that parameter named. Printing normalizes (sorted, duplicates
//! and redundant values dropped, a single value in positional form), so a scope string the
//! server stores or shows is canonical.

use atproto::lexicon::schema::{Def, PermissionSetDef};
use std::fmt;

/// Why a scope string was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("unknown scope {0:?}")]
    Unknown(String),
    #[error("scope {scope:?}: {why}")]
    Invalid { scope: String, why: &'static str },
}

/// A missing permission; its message names the scope that would have allowed the call, as the
/// reference PDS's `ScopeMissingError` does.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("Missing required scope \"{0}\"")]
pub struct ScopeMissing(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepoAction {
    Create,
    Update,
    Delete,
}

impl RepoAction {
    pub const ALL: [RepoAction; 3] = [RepoAction::Create, RepoAction::Update, RepoAction::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            RepoAction::Create => "create",
            RepoAction::Update => "update",
            RepoAction::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Option<RepoAction> {
        RepoAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The account attributes `account:` permissions name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountAttr {
    Email,
    Repo,
    Status,
}

impl AccountAttr {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountAttr::Email => "email",
            AccountAttr::Repo => "repo",
            AccountAttr::Status => "status",
        }
    }

    fn parse(s: &str) -> Option<AccountAttr> {
        [AccountAttr::Email, AccountAttr::Repo, AccountAttr::Status]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// `manage` includes `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountAction {
    Read,
    Manage,
}

impl AccountAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountAction::Read => "read",
            AccountAction::Manage => "manage",
        }
    }
}

/// The identity attributes `identity:` permissions name; `*` is all of them (including the DID
/// document, through PLC operations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentityAttr {
    Handle,
    All,
}

impl IdentityAttr {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityAttr::Handle => "handle",
            IdentityAttr::All => "*",
        }
    }
}

/// One scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Required in every atproto grant; alone it allows signing in and reading.
    Atproto,
    /// What an app password allows: any record, any blob, any proxied call but chat.
    TransitionGeneric,
    /// Proxied `chat.bsky.*` calls.
    TransitionChatBsky,
    /// Reading the account's email address.
    TransitionEmail,
    /// Writes to the listed collections (`*`: any), for the listed actions.
    Repo {
        collections: Vec<String>,
        actions: Vec<RepoAction>,
    },
    /// Service-auth calls (proxied, or tokens from `getServiceAuth`) to methods `lxm` (`*`: any)
    /// at service `aud` (`did#id`, or `*`: any). Not both `*`.
    Rpc {
        lxm: Vec<String>,
        aud: String,
    },
    /// Blob uploads whose MIME type matches one of `accept` (`*/*`, `image/*`, `image/png`).
    Blob {
        accept: Vec<String>,
    },
    Account {
        attr: AccountAttr,
        action: AccountAction,
    },
    Identity {
        attr: IdentityAttr,
    },
    /// A permission set (a lexicon document) to expand, with the audience its `rpc`
    /// permissions inherit.
    Include {
        nsid: String,
        aud: Option<String>,
    },
}

/// The parts of one granular scope string.
struct Syntax<'a> {
    scope: &'a str,
    positional: Option<String>,
    params: Vec<(String, String)>,
}

impl<'a> Syntax<'a> {
    fn invalid(&self, why: &'static str) -> ScopeError {
        ScopeError::Invalid {
            scope: self.scope.to_owned(),
            why,
        }
    }

    /// The values of `name`, from the positional part when `positional` says it is this
    /// parameter's shorthand. `None` when absent.
    fn multi(&self, name: &str, positional: bool) -> Result<Option<Vec<String>>, ScopeError> {
        let named: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect();
        match (
            positional.then_some(self.positional.as_ref()).flatten(),
            named.is_empty(),
        ) {
            (Some(_), false) => Err(self.invalid("a parameter given both positionally and named")),
            (Some(p), true) => Ok(Some(vec![p.clone()])),
            (None, false) => Ok(Some(named)),
            (None, true) => Ok(None),
        }
    }

    fn single(&self, name: &str, positional: bool) -> Result<Option<String>, ScopeError> {
        match self.multi(name, positional)? {
            Some(mut v) if v.len() == 1 => Ok(v.pop()),
            Some(_) => Err(self.invalid("a parameter that takes one value was given several")),
            None => Ok(None),
        }
    }

    /// Refuses parameters other than `allowed`, and a positional part when the resource has no
    /// positional parameter.
    fn only(&self, allowed: &[&str], has_positional: bool) -> Result<(), ScopeError> {
        if !has_positional && self.positional.is_some() {
            return Err(self.invalid("this resource takes no positional parameter"));
        }
        if self
            .params
            .iter()
            .any(|(k, _)| !allowed.contains(&k.as_str()))
        {
            return Err(self.invalid("unknown parameter"));
        }
        Ok(())
    }
}

fn is_nsid(s: &str) -> bool {
    atproto::syntax::nsid::validate(s).is_ok()
}

/// An atproto service audience: `did:...#service_id`.
fn is_audience(s: &str) -> bool {
    match s.split_once('#') {
        Some((did, id)) => {
            !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
                && atproto::syntax::did::validate(did).is_ok()
        }
        None => false,
    }
}

/// `type/subtype`, `type/*` or `*/*`, lowercased.
fn is_accept(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(
                        b,
                        b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
                    )
            })
    };
    match s.split_once('/') {
        Some(("*", "*")) => true,
        Some((t, "*")) => token(t),
        Some((t, st)) => token(t) && token(st),
        None => false,
    }
}

fn mime_matches(accept: &str, mime: &str) -> bool {
    let mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match accept.split_once('/') {
        Some(("*", "*")) => mime.contains('/'),
        Some((t, "*")) => mime
            .split_once('/')
            .is_some_and(|(mt, st)| mt == t && !st.is_empty()),
        _ => mime == accept,
    }
}

/// Sorted, deduplicated; `*` alone when present.
fn normalize_list(mut v: Vec<String>) -> Vec<String> {
    if v.iter().any(|x| x == "*") {
        return vec!["*".into()];
    }
    v.sort();
    v.dedup();
    v
}

impl Scope {
    /// Parses one scope (no spaces).
    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        match s {
            "atproto" => return Ok(Scope::Atproto),
            "transition:generic" => return Ok(Scope::TransitionGeneric),
            "transition:chat.bsky" => return Ok(Scope::TransitionChatBsky),
            "transition:email" => return Ok(Scope::TransitionEmail),
            _ => {}
        }
        let unknown = || ScopeError::Unknown(s.to_owned());
        let end = s.find([':', '?']).unwrap_or(s.len());
        let resource = &s[..end];
        let rest = &s[end..];
        let (positional, query) = match rest.strip_prefix(':') {
            Some(r) => match r.split_once('?') {
                Some((p, q)) => (Some(p), Some(q)),
                None => (Some(r), None),
            },
            None => (None, rest.strip_prefix('?')),
        };
        let decode = |p: &str| -> Result<String, ScopeError> {
            // Percent-decoding of the positional part, as the query's values are decoded.
            form_urlencoded::parse(format!("v={}", p.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .ok_or_else(unknown)
        };
        let syn = Syntax {
            scope: s,
            positional: positional.map(decode).transpose()?,
            params: query
                .map(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        };
        if syn.positional.as_deref() == Some("") {
            return Err(syn.invalid("empty positional parameter"));
        }
        match resource {
            "repo" => {
                syn.only(&["collection", "action"], true)?;
                let collections = syn
                    .multi("collection", true)?
                    .ok_or_else(|| syn.invalid("a collection is required"))?;
                if !collections.iter().all(|c| c == "*" || is_nsid(c)) {
                    return Err(syn.invalid("collection must be an NSID or *"));
                }
                let actions = match syn.multi("action", false)? {
                    None => RepoAction::ALL.to_vec(),
                    Some(v) => {
                        let mut a = v
                            .iter()
                            .map(|x| RepoAction::parse(x))
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(|| {
                                syn.invalid("action must be create, update or delete")
                            })?;
                        a.sort();
                        a.dedup();
                        a
                    }
                };
                Ok(Scope::Repo {
                    collections: normalize_list(collections),
                    actions,
                })
            }
            "rpc" => {
                syn.only(&["lxm", "aud"], true)?;
                let lxm = syn
                    .multi("lxm", true)?
                    .ok_or_else(|| syn.invalid("an lxm is required"))?;
                if !lxm.iter().all(|l| l == "*" || is_nsid(l)) {
                    return Err(syn.invalid("lxm must be an NSID or *"));
                }
                let aud = syn
                    .single("aud", false)?
                    .ok_or_else(|| syn.invalid("an aud is required"))?;
                if aud != "*" && !is_audience(&aud) {
                    return Err(syn.invalid("aud must be did#service or *"));
                }
                let lxm = normalize_list(lxm);
                if aud == "*" && lxm == ["*"] {
                    return Err(syn.invalid("lxm and aud can not both be *"));
                }
                Ok(Scope::Rpc { lxm, aud })
            }
            "blob" => {
                syn.only(&["accept"], true)?;
                let accept: Vec<String> = syn
                    .multi("accept", true)?
                    .ok_or_else(|| syn.invalid("an accept MIME pattern is required"))?
                    .into_iter()
                    .map(|a| a.to_ascii_lowercase())
                    .collect();
                if !accept.iter().all(|a| is_accept(a)) {
                    return Err(syn.invalid("accept must be type/subtype, type/* or */*"));
                }
                let mut accept = if accept.iter().any(|a| a == "*/*") {
                    vec!["*/*".to_owned()]
                } else {
                    // `image/png` is redundant next to `image/*`.
                    accept
                        .iter()
                        .filter(|a| {
                            a.ends_with("/*")
                                || a.split_once('/')
                                    .is_none_or(|(t, _)| !accept.contains(&format!("{t}/*")))
                        })
                        .cloned()
                        .collect()
                };
                accept.sort();
                accept.dedup();
                Ok(Scope::Blob { accept })
            }
            "account" => {
                syn.only(&["attr", "action"], true)?;
                let attr = syn
                    .single("attr", true)?
                    .ok_or_else(|| syn.invalid("an attr is required"))?;
                let attr = AccountAttr::parse(&attr)
                    .ok_or_else(|| syn.invalid("attr must be email, repo or status"))?;
                let action = match syn.single("action", false)?.as_deref() {
                    None | Some("read") => AccountAction::Read,
                    Some("manage") => AccountAction::Manage,
                    Some(_) => return Err(syn.invalid("action must be read or manage")),
                };
                Ok(Scope::Account { attr, action })
            }
            "identity" => {
                syn.only(&["attr"], true)?;
                let attr = match syn.single("attr", true)?.as_deref() {
                    Some("handle") => IdentityAttr::Handle,
                    Some("*") => IdentityAttr::All,
                    _ => return Err(syn.invalid("attr must be handle or *")),
                };
                Ok(Scope::Identity { attr })
            }
            "include" => {
                syn.only(&["nsid", "aud"], true)?;
                let nsid = syn
                    .single("nsid", true)?
                    .filter(|n| is_nsid(n))
                    .ok_or_else(|| syn.invalid("include needs a permission set NSID"))?;
                let aud = syn.single("aud", false)?;
                if aud.as_deref().is_some_and(|a| !is_audience(a)) {
                    return Err(syn.invalid("aud must be did#service"));
                }
                Ok(Scope::Include { nsid, aud })
            }
            _ => Err(unknown()),
        }
    }
}

/// Writes `resource[:positional][?params]`, the positional form when `positional` has exactly
/// one value.
fn write_granular(
    f: &mut fmt::Formatter<'_>,
    resource: &str,
    positional: (&str, &[String]),
    params: &[(&str, &[String])],
) -> fmt::Result {
    let mut q = form_urlencoded::Serializer::new(String::new());
    f.write_str(resource)?;
    let (pname, pvalues) = positional;
    if let [one] = pvalues {
        // Percent-encode what would end or confuse the positional part.
        let enc: String = one
            .chars()
            .map(|c| match c {
                '?' | '&' | '%' | ' ' | '#' | '+' => {
                    let mut b = [0u8; 4];
                    c.encode_utf8(&mut b)
                        .bytes()
                        .map(|x| format!("%{x:02X}"))
                        .collect()
                }
                c => c.to_string(),
            })
            .collect();
        write!(f, ":{enc}")?;
    } else {
        for v in pvalues {
            q.append_pair(pname, v);
        }
    }
    for (name, values) in params {
        for v in *values {
            q.append_pair(name, v);
        }
    }
    let q = q.finish();
    if !q.is_empty() {
        write!(f, "?{q}")?;
    }
    Ok(())
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Atproto => f.write_str("atproto"),
            Scope::TransitionGeneric => f.write_str("transition:generic"),
            Scope::TransitionChatBsky => f.write_str("transition:chat.bsky"),
            Scope::TransitionEmail => f.write_str("transition:email"),
            Scope::Repo {
                collections,
                actions,
            } => {
                let actions: Vec<String> = if actions.len() == RepoAction::ALL.len() {
                    Vec::new()
                } else {
                    actions.iter().map(|a| a.as_str().to_owned()).collect()
                };
                write_granular(
                    f,
                    "repo",
                    ("collection", collections),
                    &[("action", &actions)],
                )
            }
            Scope::Rpc { lxm, aud } => write_granular(
                f,
                "rpc",
                ("lxm", lxm),
                &[("aud", std::slice::from_ref(aud))],
            ),
            Scope::Blob { accept } => write_granular(f, "blob", ("accept", accept), &[]),
            Scope::Account { attr, action } => {
                let action: Vec<String> = match action {
                    AccountAction::Read => Vec::new(),
                    AccountAction::Manage => vec!["manage".into()],
                };
                write_granular(
                    f,
                    "account",
                    ("attr", &[attr.as_str().to_owned()]),
                    &[("action", &action)],
                )
            }
            Scope::Identity { attr } => {
                write_granular(f, "identity", ("attr", &[attr.as_str().to_owned()]), &[])
            }
            Scope::Include { nsid, aud } => {
                let aud: Vec<String> = aud.iter().cloned().collect();
                write_granular(
                    f,
                    "include",
                    ("nsid", std::slice::from_ref(nsid)),
                    &[("aud", &aud)],
                )
            }
        }
    }
}

/// Where `include:` permission sets come from: the PDS looks them up in its lexicon catalog.
pub trait PermissionSets {
    /// The permission set named `nsid`, if known.
    fn permission_set(&self, nsid: &str) -> Option<PermissionSetDef>;
}

impl PermissionSets for atproto::lexicon::Catalog {
    fn permission_set(&self, nsid: &str) -> Option<PermissionSetDef> {
        match self.get(nsid)?.main()? {
            Def::PermissionSet(p) => Some(p.clone()),
            _ => None,
        }
    }
}

/// The NSID's namespace: everything before its last segment.
fn namespace(nsid: &str) -> &str {
    nsid.rsplit_once('.').map_or(nsid, |(ns, _)| ns)
}

/// Whether `item` (an NSID, never `*`) is under the namespace of the permission set `set`: a
/// permission set may only grant its own namespace (the spec's rule, so a set published under
/// one domain cannot grant another's records or methods).
fn under_authority(set: &str, item: &str) -> bool {
    let auth = namespace(set);
    let ns = namespace(item);
    item != "*" && (ns == auth || ns.strip_prefix(auth).is_some_and(|r| r.starts_with('.')))
}

/// The permissions one `include:` grants: the set's `repo`, `rpc` and `blob` permissions that
/// stay in its namespace; others are dropped.
fn expand(nsid: &str, aud: Option<&str>, set: &PermissionSetDef) -> Vec<Scope> {
    let mut out = Vec::new();
    for p in &set.permissions {
        match p.resource.as_str() {
            "repo" => {
                let collections = p.collection.clone().unwrap_or_default();
                let actions: Option<Vec<RepoAction>> = match &p.action {
                    None => Some(RepoAction::ALL.to_vec()),
                    Some(a) => a.iter().map(|x| RepoAction::parse(x)).collect(),
                };
                if let Some(mut actions) = actions
                    && !collections.is_empty()
                    && collections.iter().all(|c| under_authority(nsid, c))
                    && !actions.is_empty()
                {
                    actions.sort();
                    actions.dedup();
                    out.push(Scope::Repo {
                        collections: normalize_list(collections),
                        actions,
                    });
                }
            }
            "rpc" => {
                let lxm = p.lxm.clone().unwrap_or_default();
                let inherit = p.inherit_aud == Some(true) || p.aud.as_deref() == Some("inherit");
                let aud = if inherit { aud } else { p.aud.as_deref() };
                if let Some(aud) = aud
                    && (aud == "*" || is_audience(aud))
                    && !lxm.is_empty()
                    && lxm.iter().all(|l| under_authority(nsid, l))
                {
                    out.push(Scope::Rpc {
                        lxm: normalize_list(lxm),
                        aud: aud.to_owned(),
                    });
                }
            }
            "blob" => {
                let accept: Vec<String> = p
                    .extra
                    .get("accept")
                    .and_then(|a| a.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_ascii_lowercase))
                            .collect()
                    })
                    .unwrap_or_default();
                if !accept.is_empty() && accept.iter().all(|a| is_accept(a)) {
                    out.push(Scope::Blob {
                        accept: normalize_list(accept),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// A grant's scopes, with its `include:` permission sets expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    scopes: Vec<Scope>,
    /// What the `include:` scopes expanded to.
    included: Vec<Scope>,
    /// `include:` NSIDs that could not be resolved; they grant nothing.
    unresolved: Vec<String>,
}

impl ScopeSet {
    /// Parses a space-separated scope string (includes not yet expanded).
    pub fn parse(s: &str) -> Result<ScopeSet, ScopeError> {
        let mut scopes: Vec<Scope> = Vec::new();
        for part in s.split(' ').filter(|p| !p.is_empty()) {
            let scope = Scope::parse(part)?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(ScopeSet {
            scopes,
            included: Vec::new(),
            unresolved: Vec::new(),
        })
    }

    /// Parses and expands `include:` scopes through `sets`.
    pub fn parse_with(s: &str, sets: &impl PermissionSets) -> Result<ScopeSet, ScopeError> {
        let mut set = ScopeSet::parse(s)?;
        set.expand_includes(sets);
        Ok(set)
    }

    /// Expands every `include:` through `sets`; unknown sets are listed in [`Self::unresolved`].
    pub fn expand_includes(&mut self, sets: &impl PermissionSets) {
        self.included.clear();
        self.unresolved.clear();
        for s in &self.scopes {
            if let Scope::Include { nsid, aud } = s {
                match sets.permission_set(nsid) {
                    Some(def) => self.included.extend(expand(nsid, aud.as_deref(), &def)),
                    None => self.unresolved.push(nsid.clone()),
                }
            }
        }
    }

    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    pub fn unresolved(&self) -> &[String] {
        &self.unresolved
    }

    /// What the `include:` scopes expanded to (what the consent page lists for them).
    pub fn included(&self) -> &[Scope] {
        &self.included
    }

    pub fn contains(&self, scope: &Scope) -> bool {
        self.scopes.contains(scope)
    }

    /// Every grant must hold `atproto`.
    pub fn has_atproto(&self) -> bool {
        self.contains(&Scope::Atproto)
    }

    fn granted(&self) -> impl Iterator<Item = &Scope> {
        self.scopes.iter().chain(&self.included)
    }

    pub fn allows_repo(&self, collection: &str, action: RepoAction) -> bool {
        self.contains(&Scope::TransitionGeneric)
            || self.granted().any(|s| match s {
                Scope::Repo {
                    collections,
                    actions,
                } => {
                    actions.contains(&action)
                        && collections.iter().any(|c| c == "*" || c == collection)
                }
                _ => false,
            })
    }

    /// A service-auth call to method `lxm` at service `aud` (`did#id`, as in `atproto-proxy`).
    pub fn allows_rpc(&self, lxm: &str, aud: &str) -> bool {
        let chat = lxm.starts_with("chat.bsky.");
        (!chat && self.contains(&Scope::TransitionGeneric))
            || (chat && self.contains(&Scope::TransitionChatBsky))
            || self.granted().any(|s| match s {
                Scope::Rpc { lxm: l, aud: a } => {
                    (a == "*" || a == aud) && l.iter().any(|x| x == "*" || x == lxm)
                }
                _ => false,
            })
    }

    pub fn allows_blob(&self, mime: &str) -> bool {
        self.contains(&Scope::TransitionGeneric)
            || self.granted().any(|s| match s {
                Scope::Blob { accept } => accept.iter().any(|a| mime_matches(a, mime)),
                _ => false,
            })
    }

    pub fn allows_account(&self, attr: AccountAttr, action: AccountAction) -> bool {
        (attr == AccountAttr::Email
            && action == AccountAction::Read
            && self.contains(&Scope::TransitionEmail))
            || self.granted().any(|s| match s {
                Scope::Account {
                    attr: a,
                    action: granted,
                } => *a == attr && (*granted == AccountAction::Manage || *granted == action),
                _ => false,
            })
    }

    pub fn allows_identity(&self, attr: IdentityAttr) -> bool {
        self.granted().any(|s| match s {
            Scope::Identity { attr: a } => *a == IdentityAttr::All || *a == attr,
            _ => false,
        })
    }

    /// [`Self::allows_repo`], or the scope that would allow it.
    pub fn require_repo(&self, collection: &str, action: RepoAction) -> Result<(), ScopeMissing> {
        self.allows_repo(collection, action)
            .then_some(())
            .ok_or_else(|| {
                ScopeMissing(
                    Scope::Repo {
                        collections: vec![collection.to_owned()],
                        actions: vec![action],
                    }
                    .to_string(),
                )
            })
    }

    pub fn require_rpc(&self, lxm: &str, aud: &str) -> Result<(), ScopeMissing> {
        self.allows_rpc(lxm, aud).then_some(()).ok_or_else(|| {
            ScopeMissing(
                Scope::Rpc {
                    lxm: vec![lxm.to_owned()],
                    aud: aud.to_owned(),
                }
                .to_string(),
            )
        })
    }

    pub fn require_blob(&self, mime: &str) -> Result<(), ScopeMissing> {
        self.allows_blob(mime)
            .then_some(())
            .ok_or_else(|| ScopeMissing(format!("blob:{mime}")))
    }

    pub fn require_account(
        &self,
        attr: AccountAttr,
        action: AccountAction,
    ) -> Result<(), ScopeMissing> {
        self.allows_account(attr, action)
            .then_some(())
            .ok_or_else(|| ScopeMissing(Scope::Account { attr, action }.to_string()))
    }

    pub fn require_identity(&self, attr: IdentityAttr) -> Result<(), ScopeMissing> {
        self.allows_identity(attr)
            .then_some(())
            .ok_or_else(|| ScopeMissing(Scope::Identity { attr }.to_string()))
    }
}

impl fmt::Display for ScopeSet {
    /// The scopes as granted (includes unexpanded), space-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.scopes.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
