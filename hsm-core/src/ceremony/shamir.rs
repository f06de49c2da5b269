//! M-of-N Shamir secret sharing over GF(2^8), byte by byte (Shamir 1979).
//!
//! Each key byte is the constant term of its own random polynomial of degree M−1; custodian
//! `x` (1..=N) holds the polynomials' values at `x`. Any M shares give the constant terms back
//! by Lagrange interpolation at 0; fewer say nothing about them.
//!
//! The field is the AES field, GF(2)[x] / (x^8 + x^4 + x^3 + x + 1) (FIPS-197 §4.2), so its
//! arithmetic is checked against FIPS-197's own examples. Multiplication and inversion run in
//! time independent of the operands (no tables, no branches on secret bits).

use zeroize::Zeroizing;

use super::xor::random_fill;
use crate::error::HsmError;

/// Product in GF(2^8): shift-and-add, reducing by 0x1B whenever the high bit falls out.
fn mul(a: u8, b: u8) -> u8 {
    let mut a = a;
    let mut b = b;
    let mut product = 0u8;
    for _ in 0..8 {
        // All ones if the low bit of b is set, else zero: adds a without a branch.
        product ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1B & carry);
        b >>= 1;
    }
    product
}

/// Inverse in GF(2^8): a^254 (a^255 = 1 for a ≠ 0). Maps 0 to 0; callers never invert 0
/// (share indexes are distinct and non-zero).
fn inv(a: u8) -> u8 {
    // 254 = 0b1111_1110: square-and-multiply with a fixed sequence of operations.
    let mut result = 1u8;
    let mut base = a;
    let mut e = 254u8;
    for _ in 0..8 {
        let factor = mul(result, base);
        let mask = 0u8.wrapping_sub(e & 1);
        result = (factor & mask) | (result & !mask);
        base = mul(base, base);
        e >>= 1;
    }
    result
}

/// Splits `secret` into `n` shares, any `m` of which rebuild it. Share `i` (0-based) belongs to
/// custodian index `i + 1`. The caller checks `2 <= m <= n <= 255`.
pub(crate) fn split(secret: &[u8], m: u8, n: u8) -> Result<Vec<Zeroizing<Vec<u8>>>, HsmError> {
    // coefficients[k][j]: coefficient of x^(k+1) in byte j's polynomial.
    let mut coefficients = Vec::with_capacity(usize::from(m.saturating_sub(1)));
    for _ in 1..m {
        let mut row = Zeroizing::new(vec![0u8; secret.len()]);
        random_fill(&mut row)?;
        coefficients.push(row);
    }
    let mut shares = Vec::with_capacity(usize::from(n));
    for x in 1..=n {
        let mut share = Zeroizing::new(vec![0u8; secret.len()]);
        for (j, (out, s)) in share.iter_mut().zip(secret).enumerate() {
            // Horner from the highest coefficient down to the secret byte.
            let mut acc = 0u8;
            for row in coefficients.iter().rev() {
                acc = mul(acc, x) ^ row.get(j).copied().unwrap_or(0);
            }
            *out = mul(acc, x) ^ s;
        }
        shares.push(share);
    }
    Ok(shares)
}

/// Rebuilds the secret from shares `(x, bytes)` with distinct non-zero `x` and equal lengths
/// (the caller checks both). With fewer than M shares the result is a random-looking value:
/// the key check value catches that.
pub(crate) fn combine(len: usize, shares: &[(u8, &[u8])]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    for (i, (xi, yi)) in shares.iter().enumerate() {
        // Lagrange basis at 0: product over j ≠ i of x_j / (x_j − x_i); − is ⊕ here.
        let mut basis = 1u8;
        for (j, (xj, _)) in shares.iter().enumerate() {
            if i != j {
                basis = mul(basis, mul(*xj, inv(xj ^ xi)));
            }
        }
        for (o, y) in out.iter_mut().zip(*yi) {
            *o ^= mul(*y, basis);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS-197 §4.2: {57}·{83} = {c1}, and §4.2.1: {57}·{13} = {fe}.
    #[test]
    fn multiplication_matches_fips_197() {
        assert_eq!(mul(0x57, 0x83), 0xC1);
        assert_eq!(mul(0x57, 0x13), 0xFE);
        assert_eq!(mul(0x57, 0x02), 0xAE);
        assert_eq!(mul(0x57, 0x10), 0x07);
    }

    /// FIPS-197 §5.1.1: the S-box is built on inverses; {53}^-1 = {ca}.
    #[test]
    fn inverse_matches_fips_197() {
        assert_eq!(inv(0x53), 0xCA);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1, "{a:#04x}");
        }
        assert_eq!(inv(0), 0);
    }

    /// A 2-of-3 sharing worked by hand: polynomial s + 7x with s = 0x2A gives shares
    /// (1, 0x2D), (2, 0x24), (3, 0x23) (7·2 = 0x0E, 7·3 = 0x09); any two rebuild 0x2A.
    #[test]
    fn hand_worked_two_of_three() {
        let shares = [(1u8, [0x2Du8]), (2, [0x24]), (3, [0x23])];
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let pair = [
                (shares[a].0, shares[a].1.as_slice()),
                (shares[b].0, shares[b].1.as_slice()),
            ];
            assert_eq!(combine(1, &pair).as_slice(), &[0x2A], "shares {a} {b}");
        }
    }

    #[test]
    fn any_m_of_n_rebuilds_and_fewer_do_not() {
        let secret: Vec<u8> = (0..20u8).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
        for (m, n) in [(2u8, 2u8), (2, 3), (3, 5), (5, 5), (4, 9)] {
            let shares = split(&secret, m, n).unwrap();
            assert_eq!(shares.len(), usize::from(n));
            // Every window of m consecutive shares (and the last m).
            for start in 0..=(n - m) {
                let pick: Vec<(u8, &[u8])> = (start..start + m)
                    .map(|i| (i + 1, shares[usize::from(i)].as_slice()))
                    .collect();
                assert_eq!(combine(20, &pick).as_slice(), secret.as_slice());
            }
            // All n shares also work.
            let all: Vec<(u8, &[u8])> = (0..n)
                .map(|i| (i + 1, shares[usize::from(i)].as_slice()))
                .collect();
            assert_eq!(combine(20, &all).as_slice(), secret.as_slice());
            let short: Vec<(u8, &[u8])> = (0..m - 1)
                .map(|i| (i + 1, shares[usize::from(i)].as_slice()))
                .collect();
            assert_ne!(combine(20, &short).as_slice(), secret.as_slice());
        }
    }
}
