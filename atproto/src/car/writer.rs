//! CAR writer.

use super::{CarError, Header, varint};
use crate::data::Cid;
use std::io::Write;

/// Writes a CAR to any writer, block by block.
pub struct CarWriter<W> {
    inner: W,
    scratch: Vec<u8>,
}

impl<W: Write> CarWriter<W> {
    /// Writes the header naming `roots`.
    pub fn new(mut inner: W, roots: &[Cid]) -> Result<Self, CarError> {
        let header = serde_ipld_dagcbor::to_vec(&Header {
            version: 1,
            roots: roots.to_vec(),
        })
        .map_err(|e| CarError::Malformed(e.to_string()))?;
        let mut scratch = Vec::with_capacity(64);
        varint::write(&mut scratch, header.len() as u64);
        inner.write_all(&scratch)?;
        inner.write_all(&header)?;
        Ok(CarWriter { inner, scratch })
    }

    pub fn write_block(&mut self, cid: &Cid, data: &[u8]) -> Result<(), CarError> {
        self.scratch.clear();
        varint::write(&mut self.scratch, (cid.encoded_len() + data.len()) as u64);
        // Writing into a Vec cannot fail.
        let _ = cid.write_bytes(&mut self.scratch);
        self.inner.write_all(&self.scratch)?;
        self.inner.write_all(data)?;
        Ok(())
    }

    pub fn finish(self) -> W {
        self.inner
    }
}

/// A whole CAR in memory with one root.
pub fn write_car<'a>(
    root: &Cid,
    blocks: impl IntoIterator<Item = (&'a Cid, &'a [u8])>,
) -> Result<Vec<u8>, CarError> {
    let mut w = CarWriter::new(Vec::new(), std::slice::from_ref(root))?;
    for (cid, data) in blocks {
        w.write_block(cid, data)?;
    }
    Ok(w.finish())
}
