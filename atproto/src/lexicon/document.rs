//! Parsing a lexicon document and checking the rules of the lexicon language that the serde
//! types alone don't express: which definition types may appear where, that `required`
//! names a property, that references are well formed, permission-set rules, and so on.
//!
//! References to other documents are not followed here (a document may be loaded before the
//! ones it refers to): [`super::Catalog::check_refs`] does that once a catalog is complete.

use super::LexiconError;
use super::schema::split_ref;
use super::schema::{
    ArrayDef, BlobDef, BodyDef, Def, LexiconDoc, ObjectDef, ParamsDef, PermissionSetDef, StringDef,
    UnionDef,
};
use crate::syntax::{language, nsid};
use serde::Deserialize;
use serde_json::Value;

/// Deepest nesting of inline definitions accepted (objects in arrays in objects ...).
const MAX_SCHEMA_DEPTH: usize = 32;

/// Parses a lexicon document from JSON and checks it against the rules of the language.
pub fn parse_document(json: &Value) -> Result<LexiconDoc, LexiconError> {
    let doc = LexiconDoc::deserialize(json).map_err(|e| LexiconError::Malformed {
        id: json.get("id").and_then(Value::as_str).map(str::to_owned),
        message: e.to_string(),
    })?;
    check_document(&doc)?;
    Ok(doc)
}

/// Checks an already deserialized document against the rules of the language.
pub fn check_document(doc: &LexiconDoc) -> Result<(), LexiconError> {
    let c = Checker {
        id: doc.id.as_str(),
    };
    if doc.lexicon != 1 {
        return Err(c.err("lexicon", "only lexicon language version 1 exists"));
    }
    if doc.defs.is_empty() {
        return Err(c.err("defs", "a lexicon must have at least one definition"));
    }
    for (name, def) in &doc.defs {
        let at = format!("defs/{name}");
        if name.is_empty() || name.contains('#') {
            return Err(c.err(&at, "definition names must be non-empty and contain no '#'"));
        }
        if def.is_primary() && name != "main" {
            return Err(c.err(
                &at,
                "records, queries, procedures, subscriptions and permission sets must be the \
                 main definition",
            ));
        }
        if matches!(def, Def::Unknown(_) | Def::Ref(_) | Def::Union(_)) {
            return Err(c.err(
                &at,
                &format!("{} can't be a named definition", def.a_type_name()),
            ));
        }
        c.def(def, &at, Position::TopLevel, 0)?;
    }
    Ok(())
}

/// Where a definition sits, which decides the types allowed there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Directly under `defs`.
    TopLevel,
    /// An object property or an array's items: a data field.
    Field,
}

struct Checker<'a> {
    id: &'a str,
}

impl Checker<'_> {
    fn err(&self, at: &str, message: &str) -> LexiconError {
        LexiconError::Invalid {
            id: self.id.to_owned(),
            at: at.to_owned(),
            message: message.to_owned(),
        }
    }

    fn def(&self, def: &Def, at: &str, pos: Position, depth: usize) -> Result<(), LexiconError> {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(self.err(at, "definitions are nested too deeply"));
        }
        if pos == Position::Field && (def.is_primary() || matches!(def, Def::Token(_))) {
            return Err(self.err(
                at,
                &format!("{} can't be used as a data field", def.a_type_name()),
            ));
        }
        match def {
            Def::Record(r) => self.object(&r.record, &format!("{at}/record"), depth),
            Def::Query(q) => {
                self.params(q.parameters.as_ref(), at, depth)?;
                self.body(q.output.as_ref(), &format!("{at}/output"), depth)
            }
            Def::Procedure(p) => {
                self.params(p.parameters.as_ref(), at, depth)?;
                self.body(p.input.as_ref(), &format!("{at}/input"), depth)?;
                self.body(p.output.as_ref(), &format!("{at}/output"), depth)
            }
            Def::Subscription(s) => {
                self.params(s.parameters.as_ref(), at, depth)?;
                let at = format!("{at}/message/schema");
                match &*s.message.schema {
                    Def::Union(u) => self.union(u, &at),
                    other => Err(self.err(
                        &at,
                        &format!(
                            "a subscription message schema must be a union, not {}",
                            other.a_type_name()
                        ),
                    )),
                }
            }
            Def::PermissionSet(p) => self.permission_set(p, at),
            Def::Token(_) | Def::CidLink(_) | Def::Unknown(_) | Def::Boolean(_) => Ok(()),
            Def::Object(o) => self.object(o, at, depth),
            Def::Array(a) => self.array(a, at, depth),
            Def::String(s) => self.string(s, at),
            Def::Integer(i) => {
                if let (Some(min), Some(max)) = (i.minimum, i.maximum)
                    && min > max
                {
                    return Err(self.err(at, "minimum is greater than maximum"));
                }
                if i.const_value.is_some() && i.default.is_some() {
                    return Err(self.err(at, "const and default are mutually exclusive"));
                }
                Ok(())
            }
            Def::Bytes(b) => min_max(self, at, b.min_length, b.max_length, "minLength"),
            Def::Blob(b) => self.blob(b, at),
            Def::Ref(r) => self.reference(&r.reference, &format!("{at}/ref")),
            Def::Union(u) => self.union(u, at),
        }
    }

    fn object(&self, o: &ObjectDef, at: &str, depth: usize) -> Result<(), LexiconError> {
        for name in &o.required {
            if !o.properties.contains_key(name) {
                return Err(self.err(at, &format!("required property {name:?} is not defined")));
            }
        }
        for name in &o.nullable {
            if !o.properties.contains_key(name) {
                return Err(self.err(at, &format!("nullable property {name:?} is not defined")));
            }
        }
        for (name, prop) in &o.properties {
            self.def(
                prop,
                &format!("{at}/properties/{name}"),
                Position::Field,
                depth + 1,
            )?;
        }
        Ok(())
    }

    fn array(&self, a: &ArrayDef, at: &str, depth: usize) -> Result<(), LexiconError> {
        min_max(self, at, a.min_length, a.max_length, "minLength")?;
        self.def(&a.items, &format!("{at}/items"), Position::Field, depth + 1)
    }

    fn string(&self, s: &StringDef, at: &str) -> Result<(), LexiconError> {
        min_max(self, at, s.min_length, s.max_length, "minLength")?;
        min_max(self, at, s.min_graphemes, s.max_graphemes, "minGraphemes")?;
        if s.const_value.is_some() && s.default.is_some() {
            return Err(self.err(at, "const and default are mutually exclusive"));
        }
        Ok(())
    }

    fn blob(&self, b: &BlobDef, at: &str) -> Result<(), LexiconError> {
        for pattern in b.accept.iter().flatten() {
            if !valid_accept_pattern(pattern) {
                return Err(self.err(
                    &format!("{at}/accept"),
                    &format!(
                        "{pattern:?} is not a MIME type, `type/*` or `*/*` \
                         (partial globs and a bare `*` are not supported)"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn union(&self, u: &UnionDef, at: &str) -> Result<(), LexiconError> {
        if u.closed && u.refs.is_empty() {
            return Err(self.err(at, "a closed union must list at least one ref"));
        }
        for (i, r) in u.refs.iter().enumerate() {
            self.reference(r, &format!("{at}/refs/{i}"))?;
        }
        Ok(())
    }

    fn reference(&self, r: &str, at: &str) -> Result<(), LexiconError> {
        let (doc, name) = split_ref(r);
        let ok = !name.is_empty()
            && !name.contains('#')
            && doc.is_none_or(|d| nsid::validate(d).is_ok());
        if ok {
            Ok(())
        } else {
            Err(self.err(
                at,
                &format!("{r:?} is not a reference (`#name`, `nsid` or `nsid#name`)"),
            ))
        }
    }

    fn params(&self, p: Option<&ParamsDef>, at: &str, depth: usize) -> Result<(), LexiconError> {
        let Some(p) = p else { return Ok(()) };
        let at = format!("{at}/parameters");
        for name in &p.required {
            if !p.properties.contains_key(name) {
                return Err(self.err(&at, &format!("required parameter {name:?} is not defined")));
            }
        }
        for (name, prop) in &p.properties {
            let at = format!("{at}/properties/{name}");
            let scalar = |d: &Def| matches!(d, Def::Boolean(_) | Def::Integer(_) | Def::String(_));
            let ok = match prop {
                Def::Array(a) => scalar(&a.items),
                other => scalar(other),
            };
            if !ok {
                return Err(self.err(
                    &at,
                    "parameters may only be boolean, integer, string, or an array of those",
                ));
            }
            self.def(prop, &at, Position::Field, depth + 1)?;
        }
        Ok(())
    }

    fn body(&self, b: Option<&BodyDef>, at: &str, depth: usize) -> Result<(), LexiconError> {
        let Some(b) = b else { return Ok(()) };
        if b.encoding.is_empty() {
            return Err(self.err(at, "encoding must not be empty"));
        }
        let Some(schema) = &b.schema else {
            return Ok(());
        };
        let at = format!("{at}/schema");
        match &**schema {
            Def::Object(o) => self.object(o, &at, depth + 1),
            Def::Ref(r) => self.reference(&r.reference, &format!("{at}/ref")),
            Def::Union(u) => self.union(u, &at),
            other => Err(self.err(
                &at,
                &format!(
                    "a body schema must be an object, a ref or a union, not {}",
                    other.a_type_name()
                ),
            )),
        }
    }

    fn permission_set(&self, p: &PermissionSetDef, at: &str) -> Result<(), LexiconError> {
        for (field, map) in [
            ("title:lang", &p.title_lang),
            ("detail:lang", &p.detail_lang),
        ] {
            for lang in map.iter().flat_map(|m| m.keys()) {
                if language::validate_syntax(lang).is_err() {
                    return Err(self.err(
                        &format!("{at}/{field}"),
                        &format!("{lang:?} is not a language tag"),
                    ));
                }
            }
        }
        for (i, perm) in p.permissions.iter().enumerate() {
            let at = format!("{at}/permissions/{i}");
            let fail = |m: &str| Err(self.err(&at, m));
            match perm.resource.as_str() {
                "" => return fail("resource must not be empty"),
                "repo" => {
                    let Some(collections) = perm.collection.as_ref().filter(|c| !c.is_empty())
                    else {
                        return fail("a repo permission needs a non-empty collection list");
                    };
                    if let Some(c) = collections.iter().find(|c| nsid::validate(c).is_err()) {
                        return fail(&format!(
                            "collection {c:?} is not an NSID (wildcards are not allowed here)"
                        ));
                    }
                    let bad_action = perm
                        .action
                        .iter()
                        .flatten()
                        .find(|a| !matches!(a.as_str(), "create" | "update" | "delete"));
                    if let Some(a) = bad_action {
                        return fail(&format!(
                            "action {a:?} is not one of create, update, delete"
                        ));
                    }
                }
                "rpc" => {
                    let Some(lxms) = perm.lxm.as_ref().filter(|l| !l.is_empty()) else {
                        return fail("an rpc permission needs a non-empty lxm list");
                    };
                    if let Some(l) = lxms
                        .iter()
                        .find(|l| *l != "*" && nsid::validate(l).is_err())
                    {
                        return fail(&format!("lxm {l:?} is not an NSID"));
                    }
                    match perm.aud.as_deref() {
                        None if perm.inherit_aud != Some(true) => {
                            return fail("an rpc permission needs aud, or inheritAud: true");
                        }
                        Some(aud) if aud != "*" => {
                            return fail(
                                "aud in a permission set must be `*` (fixed services are not \
                                 allowed)",
                            );
                        }
                        Some(_) if lxms.iter().any(|l| l == "*") => {
                            return fail("aud and lxm can not both be `*`");
                        }
                        _ => {}
                    }
                }
                // Other resources are not part of lexicon permission sets; the spec says to
                // ignore them, so they load.
                _ => {}
            }
        }
        Ok(())
    }
}

fn min_max(
    c: &Checker<'_>,
    at: &str,
    min: Option<u64>,
    max: Option<u64>,
    what: &str,
) -> Result<(), LexiconError> {
    match (min, max) {
        (Some(min), Some(max)) if min > max => Err(c.err(
            at,
            &format!("{what} is greater than its maximum counterpart"),
        )),
        _ => Ok(()),
    }
}

/// `type/subtype`, `type/*` or `*/*`: one slash, no empty part, `*` only as a whole subtype
/// (or as both parts).
fn valid_accept_pattern(p: &str) -> bool {
    let Some((ty, sub)) = p.split_once('/') else {
        return false;
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match (ty, sub) {
        ("*", "*") => true,
        (ty, "*") => token(ty),
        (ty, sub) => token(ty) && token(sub),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_accept_pattern;

    #[test]
    fn accept_patterns() {
        for ok in [
            "image/*",
            "*/*",
            "image/png",
            "video/mp4",
            "text/vtt",
            "application/vnd.ipld.car",
        ] {
            assert!(valid_accept_pattern(ok), "{ok}");
        }
        for bad in ["*", "image", "text/ht*", "*/png", "image/", "/png", "a/b/c"] {
            assert!(!valid_accept_pattern(bad), "{bad}");
        }
    }
}
