//! Assembling a key change set token by token (brief decision 14).
//!
//! A 1st section (2/3) starts a set and discards any unfinished one. Sections must then arrive
//! in order: 2/4; then, for a 128-bit key, 2/8 and 2/9; for a 64-bit key whose 2/3 has bit 50
//! set, the SGC token (2/8). Any other entry discards the set (the meter forgets it before
//! looking at the entry), and a section that continues no set is ignored. The new key is
//! installed only when the set is complete, so a meter is never half-changed.

use crate::ident::{KeyExpiryNumber, KeyWidth, SupplyGroupCode};
use crate::key::{DecoderKey, join_key64, join_key128};
use crate::token::{KeyChange1, KeyChange2, KeyChange3, NewKeyAttributes, SgcHalf, Token};

/// The sections of an unfinished set received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PendingSet {
    /// 2/3 received.
    First(KeyChange1),
    /// 2/3 and 2/4 received; an SGC token or 2/8 comes next.
    Second(KeyChange1, KeyChange2),
    /// 2/3, 2/4 and 2/8 of a 128-bit set received; 2/9 comes next.
    Third(KeyChange1, KeyChange2, KeyChange3),
}

/// A complete set, ready to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompleteSet {
    pub(crate) key: DecoderKey,
    pub(crate) attrs: NewKeyAttributes,
    /// The SGC the set carried (3- and 4-token sets); `Err` if its halves exceed six digits.
    pub(crate) sgc: Option<Result<SupplyGroupCode, ()>>,
}

/// What one section does to the set being assembled.
#[derive(Debug)]
pub(crate) enum Step {
    /// The set goes on; keep this state.
    Continue(PendingSet),
    /// The set is complete.
    Complete(CompleteSet),
    /// The section continues no set: ignore it.
    Ignored,
}

fn attributes(first: &KeyChange1, second: &KeyChange2) -> NewKeyAttributes {
    NewKeyAttributes {
        ken: KeyExpiryNumber::from_nibbles(first.ken_high, second.ken_low),
        krn: first.krn,
        kt: first.kt,
        ti: second.ti,
        rollover: first.rollover,
    }
}

/// Feeds one key change section to the set that was pending before this entry.
pub(crate) fn step(pending: Option<PendingSet>, section: Token, width: KeyWidth) -> Step {
    match (pending, section, width) {
        (_, Token::Set1stSectionDecoderKey(first), _) => Step::Continue(PendingSet::First(first)),
        (Some(PendingSet::First(first)), Token::Set2ndSectionDecoderKey(second), _) => {
            if width == KeyWidth::Bits64 && !first.sgc_follows {
                let key = DecoderKey::Bits64(join_key64(&first.key_high, &second.key_low));
                Step::Complete(CompleteSet {
                    key,
                    attrs: attributes(&first, &second),
                    sgc: None,
                })
            } else {
                Step::Continue(PendingSet::Second(first, second))
            }
        }
        (
            Some(PendingSet::Second(first, second)),
            Token::SetSupplyGroupCode(s),
            KeyWidth::Bits64,
        ) => {
            let key = DecoderKey::Bits64(join_key64(&first.key_high, &second.key_low));
            Step::Complete(CompleteSet {
                key,
                attrs: attributes(&first, &second),
                sgc: Some(Ok(s.sgc)),
            })
        }
        (
            Some(PendingSet::Second(first, second)),
            Token::Set3rdSectionDecoderKey(third),
            KeyWidth::Bits128,
        ) => Step::Continue(PendingSet::Third(first, second, third)),
        (
            Some(PendingSet::Third(first, second, third)),
            Token::Set4thSectionDecoderKey(fourth),
            KeyWidth::Bits128,
        ) => {
            // Key order NKHO ‖ NKMO2 ‖ NKMO1 ‖ NKLO (brief decision 8).
            let key = join_key128([
                &first.key_high,
                &third.key_mid2,
                &fourth.key_mid1,
                &second.key_low,
            ]);
            let sgc = SgcHalf::join(fourth.sgc_high, third.sgc_low).map_err(|_| ());
            Step::Complete(CompleteSet {
                key: DecoderKey::Bits128(key),
                attrs: attributes(&first, &second),
                sgc: Some(sgc),
            })
        }
        _ => Step::Ignored,
    }
}
