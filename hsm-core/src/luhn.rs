//! The Luhn (mod 10) check digit used twice in a MeterPAN (SPEC-crypto §5.2).

/// The Luhn check digit to append to `payload`, a run of ASCII decimal digits.
///
/// Working from the rightmost payload digit leftwards, every other digit (starting with the
/// rightmost) is doubled and its decimal digits summed; the check digit brings the total to a
/// multiple of ten. Callers pass digits they have already checked; any other byte counts as 0
/// rather than panicking.
pub(crate) fn check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(from_right, &ascii)| {
            let digit = if ascii.is_ascii_digit() {
                u32::from(ascii - b'0')
            } else {
                0
            };
            if from_right % 2 == 0 {
                let doubled = digit * 2;
                doubled / 10 + doubled % 10
            } else {
                digit
            }
        })
        .sum();
    let [check, ..] = ((10 - sum % 10) % 10).to_le_bytes();
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC-crypto §5.2 checks.
    #[test]
    fn spec_examples() {
        assert_eq!(check_digit(b"60072700000000000"), 9);
        assert_eq!(check_digit(b"00000100000000008"), 2);
        assert_eq!(check_digit(b"010000000000"), 8);
    }

    /// The usual textbook example of the algorithm: 7992739871 → 3.
    #[test]
    fn textbook_example() {
        assert_eq!(check_digit(b"7992739871"), 3);
        assert_eq!(check_digit(b""), 0);
    }
}
