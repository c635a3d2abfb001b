//! MST keys: validity, height (layer) and shared prefixes.

use sha2::{Digest, Sha256};

/// Longest key the spec allows, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// The layer a key lives on: leading zero bits of SHA-256(key), counted in pairs (fanout 4).
pub fn height(key: &[u8]) -> u32 {
    let digest = Sha256::digest(key);
    let mut zeros = 0;
    for byte in digest {
        if byte == 0 {
            zeros += 8;
            continue;
        }
        zeros += byte.leading_zeros();
        break;
    }
    zeros / 2
}

/// Length of the prefix two keys share, in bytes.
pub fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Whether a key is valid in a repository tree: `collection/record-key`, each side non-empty,
/// from the restricted character set, at most [`MAX_KEY_LEN`] bytes.
pub fn is_valid(key: &str) -> bool {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return false;
    }
    let Some((collection, rkey)) = key.split_once('/') else {
        return false;
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'~' | b'-' | b':' | b'.'))
    };
    ok(collection) && ok(rkey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_validity() {
        for good in [
            "app.bsky.feed.post/3jui7kd54zh2y",
            "A0/374913",
            "a/b",
            "c~d/e:f-g.h_i",
        ] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "",
            "nokey",
            "/rkey",
            "coll/",
            "a/b/c",
            "a b/c",
            "a/é",
            &"a/".repeat(600),
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
