//! The lexicon documents are embedded with `include_dir!`, which cargo does not track: a new
//! or changed document under `social/` must rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=social");
}
