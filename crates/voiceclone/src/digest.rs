//! SHA-256 as lowercase hex, from ring (already linked for TLS, so no second hash crate):
//! names for keys too long to store as they are, and fingerprints of texts.

use ring::digest::{Context, SHA256};

/// SHA-256 of the concatenation of `parts`, lowercase hex (64 characters).
pub(crate) fn sha256_hex<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut ctx = Context::new(&SHA256);
    for part in parts {
        ctx.update(part);
    }
    hex::encode(ctx.finish())
}

#[cfg(test)]
mod tests {
    use super::sha256_hex;

    #[test]
    fn matches_the_published_test_vectors_whole_and_in_parts() {
        // FIPS 180-2, appendix B.1 ("abc") and the empty message.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex([b"abc".as_slice()]), abc);
        assert_eq!(
            sha256_hex([b"a".as_slice(), b"".as_slice(), b"bc".as_slice()]),
            abc
        );
        assert_eq!(
            sha256_hex([]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
