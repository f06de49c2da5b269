//! N-of-N XOR split: N−1 components drawn at random, the last the key XOR all of them. Any
//! N−1 components are uniformly random and say nothing about the key.

use zeroize::Zeroizing;

use crate::error::HsmError;

/// Fills `buf` from the operating system's generator.
pub(crate) fn random_fill(buf: &mut [u8]) -> Result<(), HsmError> {
    getrandom::fill(buf).map_err(|_| HsmError::Random)
}

/// Splits `secret` into `n` components whose XOR is `secret`. The caller checks `n >= 2`.
pub(crate) fn split(secret: &[u8], n: usize) -> Result<Vec<Zeroizing<Vec<u8>>>, HsmError> {
    let mut last = Zeroizing::new(secret.to_vec());
    let mut parts = Vec::with_capacity(n);
    for _ in 1..n {
        let mut part = Zeroizing::new(vec![0u8; secret.len()]);
        random_fill(&mut part)?;
        for (l, p) in last.iter_mut().zip(part.iter()) {
            *l ^= p;
        }
        parts.push(part);
    }
    parts.push(last);
    Ok(parts)
}

/// XORs equal-length components together (the caller checks the lengths).
pub(crate) fn combine<'a>(
    len: usize,
    parts: impl IntoIterator<Item = &'a [u8]>,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    for part in parts {
        for (o, p) in out.iter_mut().zip(part) {
            *o ^= p;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_then_combine_gives_the_secret() {
        let secret = [0xAB; 8];
        for n in 2..6 {
            let parts = split(&secret, n).unwrap();
            assert_eq!(parts.len(), n);
            let back = combine(8, parts.iter().map(|p| p.as_slice()));
            assert_eq!(back.as_slice(), &secret);
            // Missing one component gives something else.
            let short = combine(8, parts.iter().skip(1).map(|p| p.as_slice()));
            assert_ne!(short.as_slice(), &secret);
        }
    }

    /// Worked by hand: 0x0F ⊕ 0xF0 ⊕ 0x3C = 0xC3.
    #[test]
    fn combine_is_xor() {
        let out = combine(1, [[0x0Fu8].as_slice(), &[0xF0], &[0x3C]]);
        assert_eq!(out.as_slice(), &[0xC3]);
    }
}
