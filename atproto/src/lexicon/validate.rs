//! Checking a data-model value ([`Ipld`]) against a lexicon definition.
//!
//! Built for the record-write path: the schema is borrowed from the catalog, references are
//! resolved by lookup, values are never cloned, and nothing is allocated unless validation
//! fails. The error path is assembled while unwinding, so the success path pays nothing for
//! it.

use super::catalog::Catalog;
use super::schema::split_ref;
use super::schema::{
    BlobDef, BooleanDef, Def, IntegerDef, LexiconDoc, ObjectDef, ParamsDef, StringDef,
    StringFormat, UnionDef,
};
use crate::data::{DataError, Ipld, MAX_DEPTH};
use crate::syntax::{self, SyntaxError, SyntaxKind};
use std::cmp::Ordering;
use std::fmt;
use unicode_segmentation::UnicodeSegmentation;

/// Deepest recursion of the validator: every level of data may add one reference hop.
const MAX_VALIDATION_DEPTH: usize = 2 * MAX_DEPTH + 8;

/// Why a value failed validation.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The catalog has no lexicon with this NSID. Under the spec's optimistic validation a
    /// PDS may still accept the record (see the "Validation Options" of the lexicon spec).
    #[error("no lexicon is known for collection {0}")]
    UnknownCollection(String),
    /// The lexicon exists but its `main` definition is not a record.
    #[error("lexicon {0} does not define a record type")]
    NotARecord(String),
    /// The catalog has no XRPC method with this NSID.
    #[error("no lexicon is known for method {0}")]
    UnknownMethod(String),
    /// A reference given to [`Catalog::validate_value`] names nothing.
    #[error("no lexicon definition {0}")]
    UnknownDefinition(String),
    /// E.g. an input body validated against a query.
    #[error("{nsid} is a {actual}, not a {expected}")]
    WrongMethodKind {
        nsid: String,
        expected: &'static str,
        actual: &'static str,
    },
    /// The record key breaks the collection's `key` rule.
    #[error("invalid record key {rkey:?}: must be {expected}")]
    RecordKey { rkey: String, expected: String },
    /// The value is not valid atproto data (floats, malformed blobs, ...).
    #[error("invalid data: {0}")]
    Data(DataError),
    /// The value does not match the schema.
    #[error("{0}")]
    Invalid(Box<Violation>),
}

impl ValidationError {
    pub(crate) fn at(root: Root, reason: Reason) -> ValidationError {
        ValidationError::Invalid(Box::new(Violation {
            root,
            path: Vec::new(),
            reason,
        }))
    }

    pub(crate) fn at_key(root: Root, key: &str, reason: Reason) -> ValidationError {
        ValidationError::Invalid(Box::new(Violation {
            root,
            path: vec![PathSegment::Key(key.to_owned())],
            reason,
        }))
    }

    /// Where and how the value broke the schema, for [`ValidationError::Invalid`].
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            ValidationError::Invalid(v) => Some(v),
            _ => None,
        }
    }
}

/// What was being validated: the first element of an error path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    Record,
    Object,
    Params,
    Input,
    Output,
    Message,
}

impl Root {
    pub fn name(self) -> &'static str {
        match self {
            Root::Record => "Record",
            Root::Object => "Object",
            Root::Params => "Params",
            Root::Input => "Input",
            Root::Output => "Output",
            Root::Message => "Message",
        }
    }
}

/// One step of an error path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// A schema violation: where (`root` then `path`) and why. Displays like the reference
/// implementation: `Record/embed/images/0/alt must be a string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub root: Root,
    pub path: Vec<PathSegment>,
    pub reason: Reason,
}

impl Violation {
    /// The path as text, e.g. `Record/embed/images/0/alt`.
    pub fn path_string(&self) -> String {
        let mut s = self.root.name().to_owned();
        for seg in &self.path {
            match seg {
                PathSegment::Key(k) => {
                    s.push('/');
                    s.push_str(k);
                }
                PathSegment::Index(i) => {
                    s.push('/');
                    s.push_str(&i.to_string());
                }
            }
        }
        s
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path_string(), self.reason)
    }
}

/// What is wrong at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Wrong kind of value: "must be a string", "must be an object", ...
    MustBe(&'static str),
    /// A `const` (or the record's `$type`) differs; holds the expected value as displayed.
    MustEqual(String),
    /// Not in an `enum`; holds the allowed values joined with `|`.
    NotInEnum(String),
    MissingProperty(String),
    StringTooLong(u64),
    StringTooShort(u64),
    TooManyGraphemes(u64),
    TooFewGraphemes(u64),
    BytesTooLong(u64),
    BytesTooShort(u64),
    TooManyItems(u64),
    TooFewItems(u64),
    IntegerTooLarge(i64),
    IntegerTooSmall(i64),
    /// A string breaks its `format`.
    Format(StringFormat, SyntaxError),
    /// A union member (or a ref to a record) without a string `$type`.
    MissingType,
    /// A `$type` ending in `#main`, which the spec forbids.
    MainSuffix,
    /// A closed union member of another type; holds the allowed refs joined with `, `.
    NotInUnion(String),
    BlobMimeType {
        mime: String,
        accept: String,
    },
    BlobTooLarge {
        size: u64,
        max: u64,
    },
    /// `unknown` data shaped like a blob.
    UnknownIsBlob,
    /// A scalar query parameter given more than once.
    Repeated,
    /// A reference the catalog can't resolve.
    UnresolvedRef(String),
    /// A definition type that describes no data ("a token", "a query", ...).
    NotData(&'static str),
    TooDeep,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::MustBe(what) => write!(f, "must be {what}"),
            Reason::MustEqual(v) => write!(f, "must be {v}"),
            Reason::NotInEnum(vs) => write!(f, "must be one of ({vs})"),
            Reason::MissingProperty(p) => write!(f, "must have the property {p:?}"),
            Reason::StringTooLong(n) => write!(f, "must not be longer than {n} bytes (UTF-8)"),
            Reason::StringTooShort(n) => write!(f, "must not be shorter than {n} bytes (UTF-8)"),
            Reason::TooManyGraphemes(n) => write!(f, "must not be longer than {n} graphemes"),
            Reason::TooFewGraphemes(n) => write!(f, "must not be shorter than {n} graphemes"),
            Reason::BytesTooLong(n) => write!(f, "must not be larger than {n} bytes"),
            Reason::BytesTooShort(n) => write!(f, "must not be smaller than {n} bytes"),
            Reason::TooManyItems(n) => write!(f, "must not have more than {n} elements"),
            Reason::TooFewItems(n) => write!(f, "must not have fewer than {n} elements"),
            Reason::IntegerTooLarge(n) => write!(f, "can not be greater than {n}"),
            Reason::IntegerTooSmall(n) => write!(f, "can not be less than {n}"),
            Reason::Format(format, e) => write!(f, "must be a valid {} ({e})", format.name()),
            Reason::MissingType => {
                write!(f, "must be an object which includes the \"$type\" property")
            }
            Reason::MainSuffix => write!(f, "$type must not end in #main"),
            Reason::NotInUnion(refs) => write!(f, "$type must be one of {refs}"),
            Reason::BlobMimeType { mime, accept } => {
                write!(f, "has MIME type {mime:?}, which is not one of {accept}")
            }
            Reason::BlobTooLarge { size, max } => {
                write!(f, "is {size} bytes, larger than the maximum of {max}")
            }
            Reason::UnknownIsBlob => write!(f, "must be an object, not a blob"),
            Reason::Repeated => write!(f, "must not be given more than once"),
            Reason::UnresolvedRef(r) => write!(f, "refers to {r:?}, which is not in the catalog"),
            Reason::NotData(t) => {
                write!(f, "is described by a {t} definition, which holds no data")
            }
            Reason::TooDeep => write!(f, "is nested too deeply"),
        }
    }
}

/// A violation on its way up the stack: the path is collected innermost first and put in
/// order by [`Failure::finish`].
#[derive(Debug)]
pub(crate) struct Failure(Box<Violation>);

impl Failure {
    #[cold]
    fn new(reason: Reason) -> Failure {
        Failure(Box::new(Violation {
            root: Root::Object,
            path: Vec::new(),
            reason,
        }))
    }

    #[cold]
    fn key(mut self, key: &str) -> Failure {
        self.0.path.push(PathSegment::Key(key.to_owned()));
        self
    }

    #[cold]
    fn index(mut self, i: usize) -> Failure {
        self.0.path.push(PathSegment::Index(i));
        self
    }

    pub(crate) fn finish(mut self, root: Root) -> ValidationError {
        self.0.path.reverse();
        self.0.root = root;
        ValidationError::Invalid(self.0)
    }
}

impl From<Reason> for Failure {
    fn from(r: Reason) -> Failure {
        Failure::new(r)
    }
}

type VResult = Result<(), Failure>;

/// Walks a value and a definition together, resolving references through the catalog.
pub(crate) struct Validator<'a> {
    catalog: &'a Catalog,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(catalog: &'a Catalog) -> Validator<'a> {
        Validator { catalog }
    }

    /// Validates `v` against `def`, which belongs to `doc` (for `#local` references).
    pub(crate) fn def(&self, doc: &'a LexiconDoc, def: &'a Def, v: &Ipld) -> VResult {
        self.check(doc, def, v, 0)
    }

    /// Validates `v` against an object definition of `doc`.
    pub(crate) fn object(&self, doc: &'a LexiconDoc, o: &'a ObjectDef, v: &Ipld) -> VResult {
        self.check_object(doc, o, v, 0)
    }

    /// Validates `v` as the union member named `member` (`#name` or `nsid#name`), for
    /// subscription messages whose type is given outside the body.
    pub(crate) fn union_member(
        &self,
        doc: &'a LexiconDoc,
        u: &'a UnionDef,
        member: &str,
        v: &Ipld,
    ) -> VResult {
        let (nsid, name) = split_ref(member);
        self.member(doc, u, nsid.unwrap_or(doc.id.as_str()), name, v, 0)
    }

    fn check(&self, doc: &'a LexiconDoc, def: &'a Def, v: &Ipld, depth: usize) -> VResult {
        if depth > MAX_VALIDATION_DEPTH {
            return Err(Reason::TooDeep.into());
        }
        match def {
            Def::Object(o) => self.check_object(doc, o, v, depth),
            Def::Array(a) => {
                let Ipld::List(items) = v else {
                    return Err(Reason::MustBe("an array").into());
                };
                check_count(items.len(), a.min_length, a.max_length)?;
                for (i, item) in items.iter().enumerate() {
                    self.check(doc, &a.items, item, depth + 1)
                        .map_err(|e| e.index(i))?;
                }
                Ok(())
            }
            Def::String(s) => match v {
                Ipld::String(x) => Ok(check_string(s, x)?),
                _ => Err(Reason::MustBe("a string").into()),
            },
            Def::Integer(d) => match v {
                Ipld::Integer(n) => Ok(check_integer(d, *n)?),
                _ => Err(Reason::MustBe("an integer").into()),
            },
            Def::Boolean(d) => match v {
                Ipld::Bool(b) => Ok(check_bool(d, *b)?),
                _ => Err(Reason::MustBe("a boolean").into()),
            },
            Def::Bytes(d) => match v {
                Ipld::Bytes(b) => {
                    let n = b.len() as u64;
                    if let Some(max) = d.max_length
                        && n > max
                    {
                        return Err(Reason::BytesTooLong(max).into());
                    }
                    if let Some(min) = d.min_length
                        && n < min
                    {
                        return Err(Reason::BytesTooShort(min).into());
                    }
                    Ok(())
                }
                _ => Err(Reason::MustBe("a byte array").into()),
            },
            Def::CidLink(_) => match v {
                Ipld::Link(_) => Ok(()),
                _ => Err(Reason::MustBe("a CID link").into()),
            },
            Def::Blob(b) => Ok(check_blob(b, v)?),
            Def::Unknown(_) => match v {
                Ipld::Map(m) if is_blob_type(m.get("$type")) => Err(Reason::UnknownIsBlob.into()),
                Ipld::Map(_) => Ok(()),
                _ => Err(Reason::MustBe("an object").into()),
            },
            Def::Ref(r) => {
                let Some((tdoc, target)) = self.catalog.resolve(doc, &r.reference) else {
                    return Err(Reason::UnresolvedRef(r.reference.clone()).into());
                };
                match target {
                    // Records are self-describing even when referenced.
                    Def::Record(rec) => {
                        let Ipld::Map(m) = v else {
                            return Err(Reason::MustBe("an object").into());
                        };
                        match m.get("$type") {
                            Some(Ipld::String(t)) if t == tdoc.id.as_str() => {}
                            Some(Ipld::String(_)) => {
                                return Err(Failure::new(Reason::MustEqual(format!(
                                    "{:?}",
                                    tdoc.id.as_str()
                                )))
                                .key("$type"));
                            }
                            _ => return Err(Reason::MissingType.into()),
                        }
                        self.check_object(tdoc, &rec.record, v, depth + 1)
                    }
                    other => self.check(tdoc, other, v, depth + 1),
                }
            }
            Def::Union(u) => {
                let Ipld::Map(m) = v else {
                    return Err(Reason::MissingType.into());
                };
                let Some(Ipld::String(t)) = m.get("$type") else {
                    return Err(Reason::MissingType.into());
                };
                if t.ends_with("#main") {
                    return Err(Reason::MainSuffix.into());
                }
                let (nsid, name) = t.split_once('#').unwrap_or((t.as_str(), "main"));
                self.member(doc, u, nsid, name, v, depth)
            }
            Def::Record(_)
            | Def::Query(_)
            | Def::Procedure(_)
            | Def::Subscription(_)
            | Def::PermissionSet(_)
            | Def::Token(_) => Err(Reason::NotData(def.a_type_name()).into()),
        }
    }

    fn check_object(
        &self,
        doc: &'a LexiconDoc,
        o: &'a ObjectDef,
        v: &Ipld,
        depth: usize,
    ) -> VResult {
        let Ipld::Map(map) = v else {
            return Err(Reason::MustBe("an object").into());
        };
        // Both maps are sorted by the same (byte-wise) key order, so one merged pass finds
        // each property's value without a lookup per property.
        let mut values = map.iter().peekable();
        for (key, prop) in &o.properties {
            let mut found = None;
            while let Some((k, v)) = values.peek() {
                match k.as_str().cmp(key.as_str()) {
                    Ordering::Less => {
                        values.next();
                    }
                    Ordering::Equal => {
                        found = Some(*v);
                        values.next();
                        break;
                    }
                    Ordering::Greater => break,
                }
            }
            match found {
                None => {
                    if o.is_required(key) {
                        return Err(Reason::MissingProperty(key.clone()).into());
                    }
                }
                Some(Ipld::Null) if o.is_nullable(key) => {}
                Some(value) => {
                    self.check(doc, prop, value, depth + 1)
                        .map_err(|e| e.key(key))?;
                }
            }
        }
        Ok(())
    }

    /// Validates `v` as the member `nsid#name` of union `u` (declared in `doc`).
    fn member(
        &self,
        doc: &'a LexiconDoc,
        u: &'a UnionDef,
        nsid: &str,
        name: &str,
        v: &Ipld,
        depth: usize,
    ) -> VResult {
        let found = u.refs.iter().find(|r| {
            let (rn, rname) = split_ref(r);
            rname == name && rn.unwrap_or(doc.id.as_str()) == nsid
        });
        let Some(r) = found else {
            // An open union accepts types it doesn't list (their data validity is the data
            // model's business); a closed one doesn't.
            return if u.closed {
                Err(Reason::NotInUnion(u.refs.join(", ")).into())
            } else {
                Ok(())
            };
        };
        let Some((tdoc, target)) = self.catalog.resolve(doc, r) else {
            return Err(Reason::UnresolvedRef(r.clone()).into());
        };
        match target {
            Def::Object(o) => self.check_object(tdoc, o, v, depth + 1),
            Def::Record(rec) => self.check_object(tdoc, &rec.record, v, depth + 1),
            other => Err(Reason::NotData(other.a_type_name()).into()),
        }
    }
}

fn is_blob_type(t: Option<&Ipld>) -> bool {
    matches!(t, Some(Ipld::String(t)) if t == "blob")
}

fn check_count(n: usize, min: Option<u64>, max: Option<u64>) -> Result<(), Reason> {
    let n = n as u64;
    if let Some(max) = max
        && n > max
    {
        return Err(Reason::TooManyItems(max));
    }
    if let Some(min) = min
        && n < min
    {
        return Err(Reason::TooFewItems(min));
    }
    Ok(())
}

/// Checks a string's value constraints and format.
pub(crate) fn check_string(d: &StringDef, s: &str) -> Result<(), Reason> {
    if let Some(c) = &d.const_value
        && c != s
    {
        return Err(Reason::MustEqual(format!("{c:?}")));
    }
    if let Some(values) = &d.enum_values
        && !values.iter().any(|v| v == s)
    {
        return Err(Reason::NotInEnum(values.join("|")));
    }
    let bytes = s.len() as u64;
    if let Some(max) = d.max_length
        && bytes > max
    {
        return Err(Reason::StringTooLong(max));
    }
    if let Some(min) = d.min_length
        && bytes < min
    {
        return Err(Reason::StringTooShort(min));
    }
    // A grapheme is at least one byte, so the byte length bounds the count: most strings
    // are settled without segmenting, and counting stops as soon as the answer is known.
    if let Some(max) = d.max_graphemes
        && bytes > max
    {
        let limit = usize::try_from(max).unwrap_or(usize::MAX).saturating_add(1);
        if s.graphemes(true).take(limit).count() as u64 > max {
            return Err(Reason::TooManyGraphemes(max));
        }
    }
    if let Some(min) = d.min_graphemes {
        let limit = usize::try_from(min).unwrap_or(usize::MAX);
        if bytes < min || (s.graphemes(true).take(limit).count() as u64) < min {
            return Err(Reason::TooFewGraphemes(min));
        }
    }
    if let Some(format) = d.format {
        check_format(format, s).map_err(|e| Reason::Format(format, e))?;
    }
    Ok(())
}

/// Checks a string against a lexicon `format`, with the syntax module's validators.
pub fn check_format(format: StringFormat, s: &str) -> Result<(), SyntaxError> {
    match format {
        StringFormat::AtIdentifier => syntax::atidentifier::validate(s),
        StringFormat::AtUri => syntax::aturi::validate(s),
        StringFormat::Cid => {
            syntax::cid::validate_cid_string(s)?;
            // The syntax gate only checks characters; the string must also decode.
            crate::data::cid_from_str(s)
                .map(|_| ())
                .map_err(|_| SyntaxError::new(SyntaxKind::Cid, "does not decode as a CID"))
        }
        StringFormat::Datetime => syntax::datetime::validate(s),
        StringFormat::Did => syntax::did::validate(s),
        StringFormat::Handle => syntax::handle::validate(s),
        StringFormat::Nsid => syntax::nsid::validate(s),
        StringFormat::Tid => syntax::tid::validate(s),
        StringFormat::RecordKey => syntax::recordkey::validate(s),
        StringFormat::Uri => syntax::uri::validate(s),
        // The spec asks for a well-formed tag; validity (e.g. no repeated variant) is the
        // application's concern.
        StringFormat::Language => syntax::language::validate_syntax(s),
    }
}

pub(crate) fn check_integer(d: &IntegerDef, n: i128) -> Result<(), Reason> {
    if let Some(c) = d.const_value
        && n != i128::from(c)
    {
        return Err(Reason::MustEqual(c.to_string()));
    }
    if let Some(values) = &d.enum_values
        && !values.iter().any(|v| i128::from(*v) == n)
    {
        let joined: Vec<String> = values.iter().map(i64::to_string).collect();
        return Err(Reason::NotInEnum(joined.join("|")));
    }
    if let Some(max) = d.maximum
        && n > i128::from(max)
    {
        return Err(Reason::IntegerTooLarge(max));
    }
    if let Some(min) = d.minimum
        && n < i128::from(min)
    {
        return Err(Reason::IntegerTooSmall(min));
    }
    Ok(())
}

fn check_bool(d: &BooleanDef, b: bool) -> Result<(), Reason> {
    match d.const_value {
        Some(c) if c != b => Err(Reason::MustEqual(c.to_string())),
        _ => Ok(()),
    }
}

/// A blob: the typed form (`$type: blob`, `ref`, `mimeType`, `size`), or the legacy
/// `{cid, mimeType}` form, which old records still carry and which has no size. Then the
/// definition's `accept` and `maxSize`.
fn check_blob(d: &BlobDef, v: &Ipld) -> Result<(), Reason> {
    const NOT_BLOB: Reason = Reason::MustBe("a blob ref");
    let Ipld::Map(m) = v else {
        return Err(NOT_BLOB);
    };
    let (mime, size) = match m.get("$type") {
        Some(t) if is_blob_type(Some(t)) => {
            let (Some(Ipld::Link(_)), Some(Ipld::String(mime)), Some(Ipld::Integer(size))) =
                (m.get("ref"), m.get("mimeType"), m.get("size"))
            else {
                return Err(NOT_BLOB);
            };
            let size = u64::try_from(*size).map_err(|_| NOT_BLOB)?;
            (mime, Some(size))
        }
        None if m.len() == 2 => {
            let (Some(Ipld::String(cid)), Some(Ipld::String(mime))) =
                (m.get("cid"), m.get("mimeType"))
            else {
                return Err(NOT_BLOB);
            };
            if check_format(StringFormat::Cid, cid).is_err() {
                return Err(NOT_BLOB);
            }
            (mime, None)
        }
        _ => return Err(NOT_BLOB),
    };
    if mime.is_empty() {
        return Err(NOT_BLOB);
    }
    if !d.accepts(mime) {
        return Err(Reason::BlobMimeType {
            mime: mime.clone(),
            accept: d.accept.as_deref().unwrap_or_default().join(", "),
        });
    }
    if let (Some(max), Some(size)) = (d.max_size, size)
        && size > max
    {
        return Err(Reason::BlobTooLarge { size, max });
    }
    Ok(())
}

/// Validates XRPC query parameters, given as decoded name/value pairs.
pub(crate) fn params(def: &ParamsDef, params: &[(String, String)]) -> VResult {
    for (name, prop) in &def.properties {
        let mut values = params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        match prop {
            Def::Array(a) => {
                let mut n = 0usize;
                for (i, v) in values.enumerate() {
                    n += 1;
                    scalar_param(&a.items, v).map_err(|r| Failure::new(r).index(i).key(name))?;
                }
                if n == 0 {
                    if def.is_required(name) {
                        return Err(Reason::MissingProperty(name.clone()).into());
                    }
                    continue;
                }
                check_count(n, a.min_length, a.max_length)
                    .map_err(|r| Failure::new(r).key(name))?;
            }
            _ => match values.next() {
                None if def.is_required(name) => {
                    return Err(Reason::MissingProperty(name.clone()).into());
                }
                None => {}
                Some(v) => {
                    if values.next().is_some() {
                        return Err(Failure::new(Reason::Repeated).key(name));
                    }
                    scalar_param(prop, v).map_err(|r| Failure::new(r).key(name))?;
                }
            },
        }
    }
    Ok(())
}

fn scalar_param(def: &Def, s: &str) -> Result<(), Reason> {
    match def {
        Def::String(d) => check_string(d, s),
        Def::Integer(d) => match s.parse::<i64>() {
            Ok(n) => check_integer(d, i128::from(n)),
            Err(_) => Err(Reason::MustBe("an integer")),
        },
        Def::Boolean(d) => match s {
            "true" => check_bool(d, true),
            "false" => check_bool(d, false),
            _ => Err(Reason::MustBe("a boolean")),
        },
        other => Err(Reason::NotData(other.a_type_name())),
    }
}
