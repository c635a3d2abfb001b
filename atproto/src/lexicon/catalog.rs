//! [`Catalog`]: a set of lexicon documents keyed by NSID, and reference resolution. Its
//! validation entry points are in `entry_points.rs`.

use super::document::{check_document, parse_document};
use super::schema::{BodyDef, Def, LexiconDoc, split_ref};
use super::{LexiconError, official};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The kind of an XRPC method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodKind {
    Query,
    Procedure,
    Subscription,
}

impl MethodKind {
    pub fn name(self) -> &'static str {
        match self {
            MethodKind::Query => "query",
            MethodKind::Procedure => "procedure",
            MethodKind::Subscription => "subscription",
        }
    }
}

/// A set of lexicon documents, keyed by NSID.
///
/// Documents are immutable once added and shared (`Arc`), so cloning a catalog, e.g. to
/// extend [`Catalog::official`] with an application's own lexicons, is cheap.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    docs: HashMap<String, Arc<LexiconDoc>>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Every official lexicon (`com.atproto.*`, `app.bsky.*`, `chat.bsky.*`), embedded in the
    /// binary and parsed once, on first use.
    pub fn official() -> &'static Catalog {
        official::catalog()
    }

    /// A catalog holding the official lexicons, to add one's own on top of.
    pub fn with_official() -> Catalog {
        Catalog::official().clone()
    }

    /// Parses and adds one document. Refuses a malformed or invalid document, and one whose
    /// NSID is already present.
    pub fn add(&mut self, doc_json: &serde_json::Value) -> Result<(), LexiconError> {
        let doc = parse_document(doc_json)?;
        self.insert(doc)
    }

    /// Adds an already parsed document (checked again, as it may have been built by hand).
    pub fn add_doc(&mut self, doc: LexiconDoc) -> Result<(), LexiconError> {
        check_document(&doc)?;
        self.insert(doc)
    }

    fn insert(&mut self, doc: LexiconDoc) -> Result<(), LexiconError> {
        let id = doc.id.as_str();
        if self.docs.contains_key(id) {
            return Err(LexiconError::Duplicate(id.to_owned()));
        }
        self.docs.insert(id.to_owned(), Arc::new(doc));
        Ok(())
    }

    /// Adds every `*.json` file under `path`, recursively, and returns how many. All or
    /// nothing: if any file fails to read or parse, or repeats an NSID, nothing is added.
    pub fn add_dir(&mut self, path: &Path) -> Result<usize, LexiconError> {
        let mut files = Vec::new();
        collect_json_files(path, &mut files, 0)?;
        files.sort();
        let mut docs = Vec::with_capacity(files.len());
        for file in &files {
            let io = |message: String| LexiconError::Io {
                path: file.display().to_string(),
                message,
            };
            let text = std::fs::read_to_string(file).map_err(|e| io(e.to_string()))?;
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| io(e.to_string()))?;
            let doc = parse_document(&json).map_err(|e| io(e.to_string()))?;
            docs.push(doc);
        }
        let mut seen = std::collections::HashSet::new();
        for doc in &docs {
            let id = doc.id.as_str();
            if self.docs.contains_key(id) || !seen.insert(id) {
                return Err(LexiconError::Duplicate(id.to_owned()));
            }
        }
        let n = docs.len();
        for doc in docs {
            self.docs.insert(doc.id.as_str().to_owned(), Arc::new(doc));
        }
        Ok(n)
    }

    /// The document with this NSID.
    pub fn get(&self, nsid: &str) -> Option<&LexiconDoc> {
        self.docs.get(nsid).map(|d| &**d)
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Every document, in no particular order.
    pub fn docs(&self) -> impl Iterator<Item = &LexiconDoc> {
        self.docs.values().map(|d| &**d)
    }

    /// The definition a global reference (`nsid` or `nsid#name`) names.
    pub fn get_def(&self, reference: &str) -> Option<&Def> {
        match split_ref(reference) {
            (Some(nsid), name) => self.get(nsid)?.def(name),
            (None, _) => None,
        }
    }

    /// Resolves a reference as written inside `context` (`#name` is local to it), returning
    /// the document that holds the target and the target.
    pub fn resolve<'a>(
        &'a self,
        context: &'a LexiconDoc,
        reference: &str,
    ) -> Option<(&'a LexiconDoc, &'a Def)> {
        let (nsid, name) = split_ref(reference);
        let doc = match nsid {
            None => context,
            Some(n) if n == context.id.as_str() => context,
            Some(n) => self.get(n)?,
        };
        Some((doc, doc.def(name)?))
    }

    /// Checks that every `ref` and union member in the catalog resolves, and to a definition
    /// it may point at: a `ref` not to a token or an XRPC method or permission set; a union
    /// member only to an object or a record.
    pub fn check_refs(&self) -> Result<(), LexiconError> {
        let mut ids: Vec<&String> = self.docs.keys().collect();
        ids.sort();
        for id in ids {
            let Some(doc) = self.docs.get(id) else {
                continue;
            };
            for def in doc.defs.values() {
                self.check_def_refs(doc, def)?;
            }
        }
        Ok(())
    }

    fn check_def_refs(&self, doc: &LexiconDoc, def: &Def) -> Result<(), LexiconError> {
        let bad = |reference: &str, message: String| LexiconError::BadReference {
            id: doc.id.to_string(),
            reference: reference.to_owned(),
            message,
        };
        match def {
            Def::Ref(r) => match self.resolve(doc, &r.reference) {
                None => Err(bad(&r.reference, "not found".into())),
                Some((_, target)) if target.is_primary() && !matches!(target, Def::Record(_)) => {
                    Err(bad(
                        &r.reference,
                        format!("a ref can't point to {}", target.a_type_name()),
                    ))
                }
                Some((_, Def::Token(_))) => {
                    Err(bad(&r.reference, "a ref can't point to a token".into()))
                }
                Some(_) => Ok(()),
            },
            Def::Union(u) => {
                for r in &u.refs {
                    match self.resolve(doc, r) {
                        None => return Err(bad(r, "not found".into())),
                        Some((_, Def::Object(_) | Def::Record(_))) => {}
                        Some((_, target)) => {
                            return Err(bad(
                                r,
                                format!(
                                    "a union member must be an object or a record, not {}",
                                    target.a_type_name()
                                ),
                            ));
                        }
                    }
                }
                Ok(())
            }
            Def::Record(r) => self.check_object_refs(doc, &r.record.properties),
            Def::Object(o) => self.check_object_refs(doc, &o.properties),
            Def::Array(a) => self.check_def_refs(doc, &a.items),
            Def::Query(q) => self.check_body_refs(doc, q.output.as_ref()),
            Def::Procedure(p) => {
                self.check_body_refs(doc, p.input.as_ref())?;
                self.check_body_refs(doc, p.output.as_ref())
            }
            Def::Subscription(s) => self.check_def_refs(doc, &s.message.schema),
            Def::PermissionSet(_)
            | Def::Token(_)
            | Def::String(_)
            | Def::Integer(_)
            | Def::Boolean(_)
            | Def::Bytes(_)
            | Def::CidLink(_)
            | Def::Blob(_)
            | Def::Unknown(_) => Ok(()),
        }
    }

    fn check_object_refs(
        &self,
        doc: &LexiconDoc,
        props: &std::collections::BTreeMap<String, Def>,
    ) -> Result<(), LexiconError> {
        props.values().try_for_each(|p| self.check_def_refs(doc, p))
    }

    fn check_body_refs(
        &self,
        doc: &LexiconDoc,
        body: Option<&BodyDef>,
    ) -> Result<(), LexiconError> {
        match body.and_then(|b| b.schema.as_deref()) {
            Some(schema) => self.check_def_refs(doc, schema),
            None => Ok(()),
        }
    }

    /// What kind of XRPC method `nsid` is, if the catalog knows it as one.
    pub fn method_kind(&self, nsid: &str) -> Option<MethodKind> {
        match self.get(nsid)?.main()? {
            Def::Query(_) => Some(MethodKind::Query),
            Def::Procedure(_) => Some(MethodKind::Procedure),
            Def::Subscription(_) => Some(MethodKind::Subscription),
            _ => None,
        }
    }
}

fn collect_json_files(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    depth: usize,
) -> Result<(), LexiconError> {
    let io = |e: std::io::Error| LexiconError::Io {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    if depth > 32 {
        return Err(LexiconError::Io {
            path: dir.display().to_string(),
            message: "directories nested too deeply".into(),
        });
    }
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            collect_json_files(&path, out, depth + 1)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}
