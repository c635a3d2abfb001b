//! The validation entry points of a [`Catalog`]: records, XRPC parameters and bodies,
//! subscription messages. They live apart from the catalog so that the catalog (documents and
//! reference resolution) does not depend on the validator that depends on it.

use super::catalog::Catalog;
use super::schema::{BodyDef, Def, LexiconDoc, RecordKeyType, split_ref};
use super::validate::{Reason, Root, ValidationError, Validator};
use crate::data::Ipld;
use crate::syntax::{nsid, recordkey, tid};

impl Catalog {
    /// Validates a record about to be stored at `collection/rkey`.
    ///
    /// Returns [`ValidationError::UnknownCollection`] when the catalog has no lexicon with
    /// that NSID (so the caller can apply the spec's rules for unknown collections), and
    /// [`ValidationError::NotARecord`] when it has one whose `main` is not a record. Otherwise
    /// checks that `$type` equals the collection, the record key against the schema's `key`
    /// rule, the data against the schema, and that the whole value is valid atproto data
    /// (which covers fields the schema doesn't describe and open-union members of unknown
    /// types).
    pub fn validate_record(
        &self,
        collection: &str,
        rkey: &str,
        record: &Ipld,
    ) -> Result<(), ValidationError> {
        let Some(doc) = self.get(collection) else {
            return Err(ValidationError::UnknownCollection(collection.to_owned()));
        };
        let Some(Def::Record(def)) = doc.main() else {
            return Err(ValidationError::NotARecord(collection.to_owned()));
        };
        let Ipld::Map(map) = record else {
            return Err(ValidationError::at(
                Root::Record,
                Reason::MustBe("an object"),
            ));
        };
        match map.get("$type") {
            Some(Ipld::String(t)) if t == collection => {}
            Some(Ipld::String(_)) => {
                return Err(ValidationError::at_key(
                    Root::Record,
                    "$type",
                    Reason::MustEqual(format!("{collection:?}")),
                ));
            }
            _ => {
                return Err(ValidationError::at_key(
                    Root::Record,
                    "$type",
                    Reason::MustBe("a string"),
                ));
            }
        }
        check_record_key(&def.key, rkey)?;
        Validator::new(self)
            .object(doc, &def.record, record)
            .map_err(|v| v.finish(Root::Record))?;
        crate::data::validate::record(record).map_err(ValidationError::Data)
    }

    /// Validates a value against any definition, named by a global reference (`nsid` or
    /// `nsid#name`): an object, a record (its data; `$type` is not checked), a string, ...
    pub fn validate_value(&self, reference: &str, value: &Ipld) -> Result<(), ValidationError> {
        let (Some(nsid), name) = split_ref(reference) else {
            return Err(ValidationError::UnknownDefinition(reference.to_owned()));
        };
        let Some(doc) = self.get(nsid) else {
            return Err(ValidationError::UnknownDefinition(reference.to_owned()));
        };
        let Some(def) = doc.def(name) else {
            return Err(ValidationError::UnknownDefinition(reference.to_owned()));
        };
        let v = Validator::new(self);
        let res = match def {
            Def::Record(r) => v.object(doc, &r.record, value),
            other => v.def(doc, other, value),
        };
        res.map_err(|e| e.finish(Root::Object))
    }

    fn method(&self, nsid: &str) -> Result<(&LexiconDoc, &Def), ValidationError> {
        let doc = self
            .get(nsid)
            .ok_or_else(|| ValidationError::UnknownMethod(nsid.to_owned()))?;
        match doc.main() {
            Some(def @ (Def::Query(_) | Def::Procedure(_) | Def::Subscription(_))) => {
                Ok((doc, def))
            }
            _ => Err(ValidationError::UnknownMethod(nsid.to_owned())),
        }
    }

    /// Validates the HTTP query parameters of an XRPC call (as decoded name/value pairs; a
    /// name repeats for array parameters). Parameters the lexicon doesn't define are allowed.
    pub fn validate_params(
        &self,
        nsid: &str,
        params: &[(String, String)],
    ) -> Result<(), ValidationError> {
        let (_, def) = self.method(nsid)?;
        let def = match def {
            Def::Query(q) => q.parameters.as_ref(),
            Def::Procedure(p) => p.parameters.as_ref(),
            Def::Subscription(s) => s.parameters.as_ref(),
            _ => None,
        };
        match def {
            Some(p) => super::validate::params(p, params).map_err(|e| e.finish(Root::Params)),
            None => Ok(()),
        }
    }

    /// Validates the JSON input body of a procedure. A procedure whose input has no schema
    /// accepts any body (its encoding is the caller's to check).
    pub fn validate_input(&self, nsid: &str, input: &Ipld) -> Result<(), ValidationError> {
        let (doc, def) = self.method(nsid)?;
        let Def::Procedure(p) = def else {
            return Err(wrong_kind(nsid, "procedure", def));
        };
        self.body(doc, p.input.as_ref(), input, Root::Input)
    }

    /// Validates the JSON output body of a query or procedure.
    pub fn validate_output(&self, nsid: &str, output: &Ipld) -> Result<(), ValidationError> {
        let (doc, def) = self.method(nsid)?;
        let body = match def {
            Def::Query(q) => q.output.as_ref(),
            Def::Procedure(p) => p.output.as_ref(),
            other => return Err(wrong_kind(nsid, "query or procedure", other)),
        };
        self.body(doc, body, output, Root::Output)
    }

    /// Validates one subscription message, whose type comes from the frame header (`t`, like
    /// `#commit`, or a full `nsid#name`) rather than from a `$type` in the body.
    pub fn validate_message(
        &self,
        nsid: &str,
        message_type: &str,
        message: &Ipld,
    ) -> Result<(), ValidationError> {
        let (doc, def) = self.method(nsid)?;
        let Def::Subscription(s) = def else {
            return Err(wrong_kind(nsid, "subscription", def));
        };
        let Def::Union(union) = &*s.message.schema else {
            return Ok(());
        };
        Validator::new(self)
            .union_member(doc, union, message_type, message)
            .map_err(|e| e.finish(Root::Message))
    }

    fn body(
        &self,
        doc: &LexiconDoc,
        body: Option<&BodyDef>,
        value: &Ipld,
        root: Root,
    ) -> Result<(), ValidationError> {
        let Some(schema) = body.and_then(|b| b.schema.as_deref()) else {
            return Ok(());
        };
        if !matches!(value, Ipld::Map(_)) {
            return Err(ValidationError::at(root, Reason::MustBe("an object")));
        }
        Validator::new(self)
            .def(doc, schema, value)
            .map_err(|e| e.finish(root))?;
        crate::data::validate::value(value).map_err(ValidationError::Data)
    }
}

fn wrong_kind(nsid: &str, expected: &'static str, actual: &Def) -> ValidationError {
    ValidationError::WrongMethodKind {
        nsid: nsid.to_owned(),
        expected,
        actual: actual.type_name(),
    }
}

/// Checks a record key against a record's `key` rule.
pub fn check_record_key(rule: &RecordKeyType, rkey: &str) -> Result<(), ValidationError> {
    let bad = |expected: &str| ValidationError::RecordKey {
        rkey: rkey.to_owned(),
        expected: expected.to_owned(),
    };
    if recordkey::validate(rkey).is_err() {
        return Err(bad("a valid record key"));
    }
    match rule {
        RecordKeyType::Any => Ok(()),
        RecordKeyType::Tid => tid::validate(rkey).map_err(|_| bad("a TID")),
        RecordKeyType::Nsid => nsid::validate(rkey).map_err(|_| bad("an NSID")),
        RecordKeyType::Literal(lit) if lit == rkey => Ok(()),
        RecordKeyType::Literal(lit) => Err(bad(&format!("{lit:?}"))),
    }
}
