//! Frame encoding and decoding.

use super::MAX_FRAME_BYTES;
use super::events::{Account, Commit, Event, Identity, Info, Sync};
use crate::data::cbor;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("frame too large")]
    TooLarge,
}

#[derive(Serialize, Deserialize)]
struct Header {
    op: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
}

/// An error the server sends before closing the stream.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorFrame {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A decoded frame: an event, an error, or an event type this code does not know (which a
/// consumer must skip, not fail on).
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Event(Event),
    Error(ErrorFrame),
    Unknown(String),
}

fn to_vec<T: Serialize>(v: &T) -> Result<Vec<u8>, FrameError> {
    cbor::to_vec(v).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Encodes an event as a frame (header then body).
pub fn encode_event(event: &Event) -> Result<Vec<u8>, FrameError> {
    let mut out = to_vec(&Header {
        op: 1,
        t: Some(event.type_name().into()),
    })?;
    out.extend(match event {
        Event::Commit(e) => to_vec(e)?,
        Event::Sync(e) => to_vec(e)?,
        Event::Identity(e) => to_vec(e)?,
        Event::Account(e) => to_vec(e)?,
        Event::Info(e) => to_vec(e)?,
    });
    Ok(out)
}

/// Encodes an error frame.
pub fn encode_error(error: &str, message: Option<&str>) -> Result<Vec<u8>, FrameError> {
    let mut out = to_vec(&Header { op: -1, t: None })?;
    out.extend(to_vec(&ErrorFrame {
        error: error.into(),
        message: message.map(Into::into),
    })?);
    Ok(out)
}

/// Decodes a frame.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge);
    }
    let split = item_len(bytes, 0)?;
    let header: Header = cbor::from_slice(&bytes[..split])
        .map_err(|e| FrameError::Malformed(format!("header: {e}")))?;
    let body = &bytes[split..];
    let bad = |e: crate::data::DataError| FrameError::Malformed(format!("body: {e}"));
    match (header.op, header.t.as_deref()) {
        (-1, _) => Ok(Frame::Error(cbor::from_slice(body).map_err(bad)?)),
        (1, Some("#commit")) => Ok(Frame::Event(Event::Commit(Box::new(
            cbor::from_slice::<Commit>(body).map_err(bad)?,
        )))),
        (1, Some("#sync")) => Ok(Frame::Event(Event::Sync(
            cbor::from_slice::<Sync>(body).map_err(bad)?,
        ))),
        (1, Some("#identity")) => Ok(Frame::Event(Event::Identity(
            cbor::from_slice::<Identity>(body).map_err(bad)?,
        ))),
        (1, Some("#account")) => Ok(Frame::Event(Event::Account(
            cbor::from_slice::<Account>(body).map_err(bad)?,
        ))),
        (1, Some("#info")) => Ok(Frame::Event(Event::Info(
            cbor::from_slice::<Info>(body).map_err(bad)?,
        ))),
        (1, Some(t)) => Ok(Frame::Unknown(t.to_owned())),
        (op, _) => Err(FrameError::Malformed(format!("unknown op {op}"))),
    }
}

/// The length of the CBOR data item starting at `at`: how the header is split from the body.
fn item_len(b: &[u8], at: usize) -> Result<usize, FrameError> {
    cbor::item_end(b, at)
        .map(|end| end - at)
        .map_err(|e| FrameError::Malformed(format!("header: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::cid_for_cbor;
    use crate::firehose::RepoOpWire;

    #[test]
    fn round_trips_and_wire_shape() {
        let commit = Event::Commit(Box::new(Commit {
            seq: 7,
            rebase: false,
            too_big: false,
            repo: "did:plc:abc".into(),
            commit: cid_for_cbor(b"c"),
            rev: "3kabcdefghij2".into(),
            since: None,
            blocks: vec![1, 2, 3],
            ops: vec![RepoOpWire {
                action: "delete".into(),
                path: "a.b/c".into(),
                cid: None,
                prev: Some(cid_for_cbor(b"p")),
            }],
            blobs: vec![],
            prev_data: Some(cid_for_cbor(b"d")),
            time: "2024-01-01T00:00:00.000Z".into(),
        }));
        let bytes = encode_event(&commit).expect("encode");
        assert_eq!(decode_frame(&bytes).expect("decode"), Frame::Event(commit));
        // The body keeps `cid: null` for a delete and `since: null`, as the lexicon requires.
        let body = &bytes[item_len(&bytes, 0).expect("len")..];
        let v = cbor::decode(body).expect("body");
        let ipld_core::ipld::Ipld::Map(m) = v else {
            panic!("map")
        };
        assert_eq!(m.get("since"), Some(&ipld_core::ipld::Ipld::Null));
        let err = encode_error("FutureCursor", Some("cursor in the future")).expect("encode");
        assert!(matches!(decode_frame(&err), Ok(Frame::Error(e)) if e.error == "FutureCursor"));
    }

    #[test]
    fn hostile_frames_fail_cleanly() {
        for bad in [
            &[][..],
            &[0xa2],
            &[0xbf, 0xff],
            &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0xa1, 0x61, 0x74],
        ] {
            assert!(decode_frame(bad).is_err(), "{bad:x?}");
        }
        let mut unknown = cbor::to_vec(&Header {
            op: 1,
            t: Some("#future".into()),
        })
        .expect("h");
        unknown.extend(
            cbor::to_vec(&Info {
                name: "x".into(),
                message: None,
            })
            .expect("b"),
        );
        assert_eq!(
            decode_frame(&unknown).expect("decode"),
            Frame::Unknown("#future".into())
        );
    }
}
