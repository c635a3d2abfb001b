//! Serves Hearth's local PLC directory on its own, for the interop comparison with the
//! reference server (`tests/interop/plc-compare.mjs`) and for poking at by hand.
//!
//!     cargo run -p hearth-pds --example local_plc -- [PORT] [DB_PATH]
//!
//! PORT defaults to 0 (any free port); without DB_PATH the database lives in a temporary
//! directory removed on exit. The first line on stdout is `listening on http://ADDR`.

use hearth_pds::plc_server::{PlcStore, router};
use std::io::Write;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = match args.next() {
        Some(p) => p.parse()?,
        None => 0,
    };
    let tmp = tempfile::tempdir()?;
    let db = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("plc.sqlite"));
    let store = PlcStore::open(&db)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let mut out = std::io::stdout();
    writeln!(out, "listening on http://{}", listener.local_addr()?)?;
    out.flush()?;
    axum::serve(listener, router(store)).await?;
    Ok(())
}
