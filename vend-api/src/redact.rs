//! Masked forms for logs and webhook payloads: full token digits never appear in a log line.

use token_codec::TokenDigits;

/// The last 4 digits, the rest masked: `****-****-****-****-4197`.
pub fn masked_digits(d: &TokenDigits) -> String {
    let s = d.as_str();
    let last4 = s.get(16..).unwrap_or("????");
    format!("****-****-****-****-{last4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_four() {
        let d: TokenDigits = "23716100501183194197".parse().unwrap();
        assert_eq!(masked_digits(&d), "****-****-****-****-4197");
    }
}
