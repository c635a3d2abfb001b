//! Streaming CAR reader.

use super::{CarError, Header, MAX_BLOCK_SIZE, MAX_HEADER_SIZE, varint};
use crate::blockstore::MemoryBlockStore;
use crate::data::{CBOR_CODEC, Cid, RAW_CODEC, cbor, cid_for_cbor, cid_for_raw};
use std::io::Read;

/// Reads blocks one at a time from any reader, checking each against its CID.
pub struct CarReader<R> {
    inner: R,
    roots: Vec<Cid>,
}

impl<R: Read> CarReader<R> {
    /// Reads and checks the header.
    pub fn new(mut inner: R) -> Result<Self, CarError> {
        let len = varint::read(&mut inner)?
            .ok_or_else(|| CarError::Malformed("empty input".into()))? as usize;
        if len == 0 || len > MAX_HEADER_SIZE {
            return Err(CarError::Malformed("bad header length".into()));
        }
        let buf = read_frame(&mut inner, len)?;
        let header: Header =
            cbor::from_slice(&buf).map_err(|e| CarError::Malformed(format!("header: {e}")))?;
        if header.version != 1 {
            return Err(CarError::Malformed(format!(
                "unsupported version {}",
                header.version
            )));
        }
        Ok(CarReader {
            inner,
            roots: header.roots,
        })
    }

    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// The next block, or `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<(Cid, Vec<u8>)>, CarError> {
        let Some(len) = varint::read(&mut self.inner)? else {
            return Ok(None);
        };
        let len = len as usize;
        if len > MAX_BLOCK_SIZE + 128 {
            return Err(CarError::TooLarge);
        }
        let mut frame = read_frame(&mut self.inner, len)?;
        let mut cursor = std::io::Cursor::new(&frame[..]);
        let cid =
            Cid::read_bytes(&mut cursor).map_err(|e| CarError::Malformed(format!("CID: {e}")))?;
        let data = frame.split_off(cursor.position() as usize);
        check(&cid, &data)?;
        Ok(Some((cid, data)))
    }
}

/// Reads the `len` bytes of a frame. The buffer grows with the bytes that actually arrive rather
/// than being sized by the length prefix: a few bytes claiming a 4 MB block reserve nothing.
fn read_frame<R: Read>(inner: &mut R, len: usize) -> Result<Vec<u8>, CarError> {
    let mut frame = Vec::new();
    inner.take(len as u64).read_to_end(&mut frame)?;
    if frame.len() != len {
        return Err(CarError::Malformed("truncated frame".into()));
    }
    Ok(frame)
}

/// Checks a block's bytes against its CID. Only SHA-256 CIDs with the DAG-CBOR or raw codec
/// occur in atproto; anything else is refused.
fn check(cid: &Cid, data: &[u8]) -> Result<(), CarError> {
    let computed = match cid.codec() {
        CBOR_CODEC => cid_for_cbor(data),
        RAW_CODEC => cid_for_raw(data),
        _ => return Err(CarError::Malformed(format!("unsupported codec in {cid}"))),
    };
    if computed.hash() != cid.hash() {
        return Err(CarError::CidMismatch(*cid));
    }
    Ok(())
}

/// Reads a whole CAR held in memory: its roots and its blocks.
pub fn read_car(bytes: &[u8]) -> Result<(Vec<Cid>, MemoryBlockStore), CarError> {
    let mut reader = CarReader::new(bytes)?;
    let mut store = MemoryBlockStore::new();
    while let Some((cid, data)) = reader.next_block()? {
        store.insert(cid, data);
    }
    Ok((reader.roots, store))
}
