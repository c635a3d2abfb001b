//! Serde types for lexicon documents: every definition type of the lexicon language, with all
//! of its constraints.
//!
//! Parsing is strict, like the reference implementation: an unknown definition type, an
//! unknown field on a definition, or a field of the wrong JSON type refuses the document
//! (so a typo such as `maxLenght` is caught when the lexicon is loaded, not ignored). The
//! only open-ended object is a `permission`, whose fields depend on its resource and may grow
//! over time. Rules that span fields or definitions live in [`super::document`].

use crate::syntax::{Nsid, recordkey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A lexicon document (a "lexicon file").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexiconDoc {
    /// Language version; only `1` exists.
    pub lexicon: u32,
    pub id: Nsid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub defs: BTreeMap<String, Def>,
    /// Present when the document comes from a `com.atproto.lexicon.schema` record.
    #[serde(rename = "$type", default, skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
}

impl LexiconDoc {
    /// The definition named `name` (`main` for the primary one).
    pub fn def(&self, name: &str) -> Option<&Def> {
        self.defs.get(name)
    }

    /// The `main` definition, if there is one.
    pub fn main(&self) -> Option<&Def> {
        self.defs.get("main")
    }
}

/// One schema definition, distinguished by its `type` field.
///
/// Where each type may appear (top level, object property, array item, ...) is checked by
/// [`super::document`]: serde accepts any of them anywhere a definition is expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Def {
    #[serde(rename = "record")]
    Record(RecordDef),
    #[serde(rename = "query")]
    Query(QueryDef),
    #[serde(rename = "procedure")]
    Procedure(ProcedureDef),
    #[serde(rename = "subscription")]
    Subscription(SubscriptionDef),
    #[serde(rename = "permission-set")]
    PermissionSet(PermissionSetDef),
    #[serde(rename = "token")]
    Token(TokenDef),
    #[serde(rename = "object")]
    Object(ObjectDef),
    #[serde(rename = "array")]
    Array(ArrayDef),
    #[serde(rename = "string")]
    String(StringDef),
    #[serde(rename = "integer")]
    Integer(IntegerDef),
    #[serde(rename = "boolean")]
    Boolean(BooleanDef),
    #[serde(rename = "bytes")]
    Bytes(BytesDef),
    #[serde(rename = "cid-link")]
    CidLink(CidLinkDef),
    #[serde(rename = "blob")]
    Blob(BlobDef),
    #[serde(rename = "unknown")]
    Unknown(UnknownDef),
    #[serde(rename = "ref")]
    Ref(RefDef),
    #[serde(rename = "union")]
    Union(UnionDef),
}

impl Def {
    /// The `type` name as written in lexicon JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            Def::Record(_) => "record",
            Def::Query(_) => "query",
            Def::Procedure(_) => "procedure",
            Def::Subscription(_) => "subscription",
            Def::PermissionSet(_) => "permission-set",
            Def::Token(_) => "token",
            Def::Object(_) => "object",
            Def::Array(_) => "array",
            Def::String(_) => "string",
            Def::Integer(_) => "integer",
            Def::Boolean(_) => "boolean",
            Def::Bytes(_) => "bytes",
            Def::CidLink(_) => "cid-link",
            Def::Blob(_) => "blob",
            Def::Unknown(_) => "unknown",
            Def::Ref(_) => "ref",
            Def::Union(_) => "union",
        }
    }

    /// The type name with its indefinite article, for messages ("an object").
    pub fn a_type_name(&self) -> &'static str {
        match self {
            Def::Record(_) => "a record",
            Def::Query(_) => "a query",
            Def::Procedure(_) => "a procedure",
            Def::Subscription(_) => "a subscription",
            Def::PermissionSet(_) => "a permission-set",
            Def::Token(_) => "a token",
            Def::Object(_) => "an object",
            Def::Array(_) => "an array",
            Def::String(_) => "a string",
            Def::Integer(_) => "an integer",
            Def::Boolean(_) => "a boolean",
            Def::Bytes(_) => "a bytes",
            Def::CidLink(_) => "a cid-link",
            Def::Blob(_) => "a blob",
            Def::Unknown(_) => "an unknown",
            Def::Ref(_) => "a ref",
            Def::Union(_) => "a union",
        }
    }

    /// Whether this is a primary type (record, query, procedure, subscription,
    /// permission-set), which must be the `main` definition.
    pub fn is_primary(&self) -> bool {
        matches!(
            self,
            Def::Record(_)
                | Def::Query(_)
                | Def::Procedure(_)
                | Def::Subscription(_)
                | Def::PermissionSet(_)
        )
    }

    /// The description, whatever the type.
    pub fn description(&self) -> Option<&str> {
        match self {
            Def::Record(d) => d.description.as_deref(),
            Def::Query(d) => d.description.as_deref(),
            Def::Procedure(d) => d.description.as_deref(),
            Def::Subscription(d) => d.description.as_deref(),
            Def::PermissionSet(d) => d.description.as_deref(),
            Def::Token(d) => d.description.as_deref(),
            Def::Object(d) => d.description.as_deref(),
            Def::Array(d) => d.description.as_deref(),
            Def::String(d) => d.description.as_deref(),
            Def::Integer(d) => d.description.as_deref(),
            Def::Boolean(d) => d.description.as_deref(),
            Def::Bytes(d) => d.description.as_deref(),
            Def::CidLink(d) => d.description.as_deref(),
            Def::Blob(d) => d.description.as_deref(),
            Def::Unknown(d) => d.description.as_deref(),
            Def::Ref(d) => d.description.as_deref(),
            Def::Union(d) => d.description.as_deref(),
        }
    }
}

// ----- primary types -----

/// `record`: the schema of a repository record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which record keys are allowed.
    pub key: RecordKeyType,
    /// The record's data: always a definition of type `object`.
    #[serde(with = "object_tagged")]
    pub record: ObjectDef,
}

/// A record's `key` rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RecordKeyType {
    /// A TID.
    Tid,
    /// An NSID.
    Nsid,
    /// Any valid record key.
    Any,
    /// Exactly this key (`literal:self` allows only `self`).
    Literal(String),
}

impl TryFrom<String> for RecordKeyType {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "tid" => Ok(RecordKeyType::Tid),
            "nsid" => Ok(RecordKeyType::Nsid),
            "any" => Ok(RecordKeyType::Any),
            _ => match s.strip_prefix("literal:") {
                Some(lit) => match recordkey::validate(lit) {
                    Ok(()) => Ok(RecordKeyType::Literal(lit.to_owned())),
                    Err(e) => Err(format!("record key literal {lit:?}: {e}")),
                },
                None => Err(format!(
                    "record key type {s:?} is not one of tid, nsid, any, literal:<key>"
                )),
            },
        }
    }
}

impl From<RecordKeyType> for String {
    fn from(k: RecordKeyType) -> String {
        match k {
            RecordKeyType::Tid => "tid".into(),
            RecordKeyType::Nsid => "nsid".into(),
            RecordKeyType::Any => "any".into(),
            RecordKeyType::Literal(l) => format!("literal:{l}"),
        }
    }
}

/// `query`: an XRPC query (HTTP GET).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "params_tagged"
    )]
    pub parameters: Option<ParamsDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<BodyDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ErrorDef>>,
}

/// `procedure`: an XRPC procedure (HTTP POST).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "params_tagged"
    )]
    pub parameters: Option<ParamsDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<BodyDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<BodyDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ErrorDef>>,
}

/// `subscription`: an event stream (WebSocket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "params_tagged"
    )]
    pub parameters: Option<ParamsDef>,
    /// Required by the spec.
    pub message: MessageDef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ErrorDef>>,
}

/// An XRPC request or response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// MIME type of the body (`application/json` for JSON).
    pub encoding: String,
    /// An `object`, a `ref` or a `union`; absent means the body is not described.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Box<Def>>,
}

/// The messages of a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Always a `union` (required by the spec).
    pub schema: Box<Def>,
}

/// An error an XRPC method may return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `permission-set`: a bundle of auth permissions, for OAuth scopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSetDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Localized titles, keyed by language tag.
    #[serde(
        rename = "title:lang",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub title_lang: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Localized details, keyed by language tag.
    #[serde(
        rename = "detail:lang",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub detail_lang: Option<BTreeMap<String, String>>,
    pub permissions: Vec<Permission>,
}

/// The fixed `type` of a [`Permission`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PermissionTag {
    #[serde(rename = "permission")]
    Permission,
}

/// One `permission` of a permission set. Fields beyond the ones named here depend on the
/// resource and are kept in `extra`: the set of resources and fields may grow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    #[serde(rename = "type")]
    pub tag: PermissionTag,
    /// `repo`, `rpc`, or a resource this version doesn't know.
    pub resource: String,
    /// `repo`: record collections (NSIDs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<Vec<String>>,
    /// `repo`: `create`, `update`, `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Vec<String>>,
    /// `rpc`: XRPC methods (NSIDs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lxm: Option<Vec<String>>,
    /// `rpc`: the audience (service), or `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// `rpc`: the audience is inherited from the request.
    #[serde(
        rename = "inheritAud",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inherit_aud: Option<bool>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

// ----- meta and container types -----

/// `token`: a named value with no data representation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `object`: a map with named, typed properties. Properties not listed are allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nullable: Vec<String>,
    pub properties: BTreeMap<String, Def>,
}

impl ObjectDef {
    pub fn is_required(&self, name: &str) -> bool {
        self.required.iter().any(|r| r == name)
    }

    pub fn is_nullable(&self, name: &str) -> bool {
        self.nullable.iter().any(|r| r == name)
    }
}

/// `params`: the HTTP query parameters of an XRPC method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamsDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// Only `boolean`, `integer`, `string`, or an `array` of one of those.
    pub properties: BTreeMap<String, Def>,
}

impl ParamsDef {
    pub fn is_required(&self, name: &str) -> bool {
        self.required.iter().any(|r| r == name)
    }
}

/// `array`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArrayDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub items: Box<Def>,
    /// Fewest elements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// Most elements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
}

/// `ref`: the definition named elsewhere (`#local`, `nsid`, or `nsid#name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "ref")]
    pub reference: String,
}

/// `union`: one of several object types, told apart by `$type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnionDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub refs: Vec<String>,
    /// A closed union refuses `$type`s not in `refs`; an open one (the default) accepts them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
}

/// `unknown`: any object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnknownDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ----- concrete types -----

/// `string`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StringDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<StringFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(rename = "const", default, skip_serializing_if = "Option::is_none")]
    pub const_value: Option<String>,
    /// A closed set of allowed values.
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<String>>,
    /// Suggested values; others are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_values: Option<Vec<String>>,
    /// In UTF-8 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// In UTF-8 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// In extended grapheme clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_graphemes: Option<u64>,
    /// In extended grapheme clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_graphemes: Option<u64>,
}

/// The string `format`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StringFormat {
    AtIdentifier,
    AtUri,
    Cid,
    Datetime,
    Did,
    Handle,
    Nsid,
    Tid,
    RecordKey,
    Uri,
    Language,
}

impl StringFormat {
    /// The name as written in lexicon JSON.
    pub fn name(self) -> &'static str {
        match self {
            StringFormat::AtIdentifier => "at-identifier",
            StringFormat::AtUri => "at-uri",
            StringFormat::Cid => "cid",
            StringFormat::Datetime => "datetime",
            StringFormat::Did => "did",
            StringFormat::Handle => "handle",
            StringFormat::Nsid => "nsid",
            StringFormat::Tid => "tid",
            StringFormat::RecordKey => "record-key",
            StringFormat::Uri => "uri",
            StringFormat::Language => "language",
        }
    }
}

/// `integer`: a signed 64-bit integer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegerDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<i64>,
    #[serde(rename = "const", default, skip_serializing_if = "Option::is_none")]
    pub const_value: Option<i64>,
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
}

/// `boolean`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BooleanDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    #[serde(rename = "const", default, skip_serializing_if = "Option::is_none")]
    pub const_value: Option<bool>,
}

/// `bytes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BytesDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
}

/// `cid-link`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CidLinkDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `blob`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BlobDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Acceptable MIME types: exact (`image/png`), `type/*`, or `*/*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<Vec<String>>,
    /// Largest size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
}

impl BlobDef {
    /// Whether `mime` is allowed by `accept` (everything is when `accept` is absent).
    pub fn accepts(&self, mime: &str) -> bool {
        let Some(accept) = &self.accept else {
            return true;
        };
        accept.iter().any(|pattern| mime_matches(pattern, mime))
    }
}

/// Matches a MIME type against one `accept` pattern. MIME types are case-insensitive.
pub fn mime_matches(pattern: &str, mime: &str) -> bool {
    if pattern == "*/*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        // `image/*`: the prefix includes the slash, so `image/*` never matches `imagex/y`.
        Some(prefix) => {
            mime.len() > prefix.len()
                && mime
                    .get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        }
        None => pattern.eq_ignore_ascii_case(mime),
    }
}

// ----- `{"type": "object", ...}` and `{"type": "params", ...}` in fixed positions -----

/// (De)serializes an [`ObjectDef`] together with its `"type": "object"` tag, for the one
/// place an object is required by position (a record's `record`).
mod object_tagged {
    use super::ObjectDef;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(tag = "type")]
    enum In {
        #[serde(rename = "object")]
        Object(ObjectDef),
    }

    #[derive(Serialize)]
    #[serde(tag = "type")]
    enum Out<'a> {
        #[serde(rename = "object")]
        Object(&'a ObjectDef),
    }

    pub fn serialize<S: Serializer>(o: &ObjectDef, s: S) -> Result<S::Ok, S::Error> {
        Out::Object(o).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectDef, D::Error> {
        let In::Object(o) = In::deserialize(d)?;
        Ok(o)
    }
}

/// (De)serializes an optional [`ParamsDef`] with its `"type": "params"` tag.
mod params_tagged {
    use super::ParamsDef;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(tag = "type")]
    enum In {
        #[serde(rename = "params")]
        Params(ParamsDef),
    }

    #[derive(Serialize)]
    #[serde(tag = "type")]
    enum Out<'a> {
        #[serde(rename = "params")]
        Params(&'a ParamsDef),
    }

    pub fn serialize<S: Serializer>(p: &Option<ParamsDef>, s: S) -> Result<S::Ok, S::Error> {
        p.as_ref().map(Out::Params).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ParamsDef>, D::Error> {
        Ok(Option::<In>::deserialize(d)?.map(|In::Params(p)| p))
    }
}

/// Splits a reference into its NSID (`None` for a local `#name`) and definition name
/// (`main` when there is no fragment). Does not check syntax.
pub(crate) fn split_ref(r: &str) -> (Option<&str>, &str) {
    match r.split_once('#') {
        Some(("", name)) => (None, name),
        Some((nsid, name)) => (Some(nsid), name),
        None => (Some(r), "main"),
    }
}
