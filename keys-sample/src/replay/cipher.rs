//! `cipher`: `{"ea": "11", "key": hex, "plain": hex, "expect": {"cipher": hex}}`: one block
//! encrypted, and the expected ciphertext decrypted back.

use token_codec::{EncryptionAlgorithm, TokenCipher};

use super::fault::{Fault, Issue, verdict};
use super::json::Obj;
use super::key;

pub(crate) fn check(line: &Obj<'_>) -> Result<(), Fault> {
    let ea: EncryptionAlgorithm = line.parse("ea")?;
    let dk = key::literal(line, "key", ea)?;
    let cipher = key::cipher(line, ea, &dk)?;
    let plain = line.hex_u64("plain", 16)?;
    let want = line.obj("expect")?.hex_u64("cipher", 16)?;
    let mut issues = Vec::new();
    let got = cipher.encrypt(plain);
    if got != want {
        issues.push(Issue::mismatch(
            "cipher",
            format_args!("{want:016X}"),
            format_args!("{got:016X}"),
        ));
    }
    let back = cipher.decrypt(want);
    if back != plain {
        issues.push(Issue::mismatch(
            "decrypt(expect.cipher)",
            format_args!("{plain:016X}"),
            format_args!("{back:016X}"),
        ));
    }
    verdict(issues)
}
