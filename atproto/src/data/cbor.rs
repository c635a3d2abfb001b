//! DAG-CBOR encoding and decoding of data-model values.

use super::{DataError, Ipld, MAX_DEPTH, cid::cid_from_bytes, validate};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes any serializable value as canonical DAG-CBOR.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, DataError> {
    serde_ipld_dagcbor::to_vec(value).map_err(|e| DataError::Cbor(e.to_string()))
}

/// Decodes one DAG-CBOR value that fills `bytes` exactly.
///
/// The bytes are walked once before decoding: the decoder reserves room for as many elements
/// as an array claims (up to a megabyte per array, at every level of nesting), so a few bytes
/// claiming billions of elements at each of a hundred levels would reserve gigabytes. The walk
/// proves every claimed element is present, which bounds those reservations by the input's
/// own size, and it refuses CIDs with bytes after the hash, which the decoder would drop
/// (two different blocks decoding to the same value).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DataError> {
    if item_end(bytes, 0)? != bytes.len() {
        return Err(DataError::Cbor("bytes after the value".into()));
    }
    serde_ipld_dagcbor::from_slice(bytes).map_err(|e| DataError::Cbor(e.to_string()))
}

/// Decodes a DAG-CBOR block into a generic value.
pub fn decode(bytes: &[u8]) -> Result<Ipld, DataError> {
    from_slice(bytes)
}

/// Encodes a generic value.
pub fn encode(value: &Ipld) -> Result<Vec<u8>, DataError> {
    to_vec(value)
}

/// Decodes a record block: DAG-CBOR that is also valid atproto data and a map.
pub fn decode_record(bytes: &[u8]) -> Result<Ipld, DataError> {
    let value = decode(bytes)?;
    validate::record(&value)?;
    Ok(value)
}

/// Where the CBOR data item starting at `at` ends: every element it claims is present, it
/// nests no deeper than [`MAX_DEPTH`] (a link at the deepest level counts one more), its
/// lengths are definite and its only tag is 42 around a CID with nothing after the hash.
pub fn item_end(b: &[u8], at: usize) -> Result<usize, DataError> {
    let mut containers = MAX_CONTAINERS;
    skip(b, at, 0, &mut containers)
}

/// The most maps and arrays one value may hold. Decoded, each costs far more than its bytes
/// (a map of one small entry is four bytes of CBOR and over a kilobyte in memory), so a
/// megabyte block of tiny maps would decode to hundreds of megabytes. Real blocks hold a few
/// dozen (a record) to a few hundred (an MST node's entries).
pub const MAX_CONTAINERS: usize = 16_384;

fn skip(b: &[u8], at: usize, depth: usize, containers: &mut usize) -> Result<usize, DataError> {
    let short = || DataError::Cbor("truncated".into());
    if depth > MAX_DEPTH + 1 {
        return Err(DataError::TooDeep);
    }
    let first = *b.get(at).ok_or_else(short)?;
    let (major, info) = (first >> 5, first & 0x1f);
    let (arg, mut pos) = match info {
        0..=23 => (u64::from(info), at + 1),
        24..=27 => {
            let n = 1usize << (info - 24);
            let bytes = b.get(at + 1..at + 1 + n).ok_or_else(short)?;
            (
                bytes.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)),
                at + 1 + n,
            )
        }
        _ => return Err(DataError::Cbor("indefinite or reserved length".into())),
    };
    // A length beyond the address space cannot be present in the input either.
    let len = usize::try_from(arg).map_err(|_| short());
    if matches!(major, 4 | 5) {
        *containers = containers.checked_sub(1).ok_or_else(|| {
            DataError::Cbor(format!("more than {MAX_CONTAINERS} maps and arrays"))
        })?;
    }
    match major {
        2 | 3 => {
            pos = pos
                .checked_add(len?)
                .filter(|p| *p <= b.len())
                .ok_or_else(short)?
        }
        // Each element takes at least one byte, so the loops end within the input even when
        // the claimed count is huge.
        4 => {
            for _ in 0..len? {
                pos = skip(b, pos, depth + 1, containers)?;
            }
        }
        5 => {
            for _ in 0..len?.saturating_mul(2) {
                pos = skip(b, pos, depth + 1, containers)?;
            }
        }
        6 => {
            if arg != 42 {
                return Err(DataError::Cbor(format!("tag {arg} (only 42 is allowed)")));
            }
            let start = pos;
            pos = skip(b, pos, depth + 1, containers)?;
            cid_bytes(&b[start..pos])?;
        }
        _ => {}
    }
    Ok(pos)
}

/// Checks the byte string under tag 42: a zero byte, then exactly one binary CID.
fn cid_bytes(item: &[u8]) -> Result<(), DataError> {
    let bad = |why: &str| DataError::Cid(why.to_owned());
    let first = *item.first().ok_or_else(|| bad("empty"))?;
    if first >> 5 != 2 {
        return Err(bad("tag 42 must hold a byte string"));
    }
    let head = match first & 0x1f {
        0..=23 => 1,
        info => 1 + (1usize << (info - 24)),
    };
    match item.get(head..) {
        Some([0, cid @ ..]) => cid_from_bytes(cid).map(|_| ()),
        _ => Err(bad("a CID in DAG-CBOR starts with a zero byte")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of many tiny maps is refused before decoding: decoded, each map costs a
    /// kilobyte or more, whatever its size in bytes.
    #[test]
    fn tiny_maps_cannot_blow_up_memory() {
        let tiny = [0xa1, 0x60, 0x00]; // {"": 0}
        let block = |n: usize| {
            // The shortest length form, as DAG-CBOR requires.
            let mut b = match u16::try_from(n) {
                Ok(short) => [&[0x99][..], &short.to_be_bytes()].concat(),
                Err(_) => [&[0x9a][..], &(n as u32).to_be_bytes()].concat(),
            };
            for _ in 0..n {
                b.extend_from_slice(&tiny);
            }
            b
        };
        let at_limit = block(MAX_CONTAINERS - 1);
        assert!(decode(&at_limit).is_ok(), "the array and its maps fit");
        let over = block(300_000);
        let err = decode(&over).expect_err("too many maps");
        assert!(err.to_string().contains("maps and arrays"), "{err}");
    }

    #[test]
    fn item_end_finds_each_value() {
        let a = to_vec(&Ipld::List(vec![
            Ipld::Integer(1),
            Ipld::String("x".into()),
        ]))
        .expect("encode");
        let mut two = a.clone();
        two.extend(to_vec(&Ipld::Bool(true)).expect("encode"));
        assert_eq!(item_end(&two, 0), Ok(a.len()));
        assert_eq!(item_end(&two, a.len()), Ok(two.len()));
        assert!(matches!(decode(&two), Err(DataError::Cbor(_))));
    }
}
