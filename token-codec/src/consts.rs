//! Specification tables, each with the brief section it is copied from.
//!
//! Only the tables themselves live here; tables derived from them for speed (the STA round
//! lookup tables) are built at compile time next to the code that uses them.

// ---------------------------------------------------------------------------------------------
// EA07 STA (SPEC-crypto §2.3(a))
// ---------------------------------------------------------------------------------------------
//
// Brief decision 1: these are the "production" STA tables, the only set that reproduces the
// STS Association compliance vectors (SPEC-crypto §2.3(a), §7.1). The "sample" tables printed in
// public texts (SPEC-crypto §2.3(b)) do not reproduce real tokens and are deliberately NOT
// implemented.
//
// Licensing note (SPEC-crypto §2.3, §9 item 1): at least one public source says the production
// tables are confidential to STS Association licensees, although several public repositories
// publish them. Whether a product may embed them is a business/legal decision, not a technical
// one; it is recorded here so that it is not forgotten.

/// STA substitution table S1, used for nibble *i* when bit 4*i*+3 of the round key is 0
/// (SPEC-crypto §2.3(a), production set; brief decision 1).
#[cfg(feature = "sta")]
#[rustfmt::skip]
pub(crate) const STA_S1: [u8; 16] = [
    14, 10,  7,  9, 12,  3,  2,  5, 13,  0, 15,  1,  4,  8,  6, 11,
];

/// STA substitution table S2, used for nibble *i* when bit 4*i*+3 of the round key is 1
/// (SPEC-crypto §2.3(a), production set; brief decision 1).
#[cfg(feature = "sta")]
#[rustfmt::skip]
pub(crate) const STA_S2: [u8; 16] = [
    12,  8,  2, 13,  7,  6,  1,  3, 11,  5,  9, 15,  0,  4, 10, 14,
];

/// Inverse of [`STA_S1`], as SPEC-crypto §2.3(a) lists it (also NectarAPI's "D2", §2.2).
/// The tests check it really is the inverse.
#[cfg(feature = "sta")]
#[rustfmt::skip]
pub(crate) const STA_S1_INV: [u8; 16] = [
     9, 11,  6,  5, 12,  7, 14,  2, 13,  3,  1, 15,  4,  8,  0, 10,
];

/// Inverse of [`STA_S2`], as SPEC-crypto §2.3(a) lists it (also NectarAPI's "D1", §2.2).
/// The tests check it really is the inverse.
#[cfg(feature = "sta")]
#[rustfmt::skip]
pub(crate) const STA_S2_INV: [u8; 16] = [
    12,  6,  2,  7, 13,  9,  5,  4,  1, 10, 14,  8,  0,  3, 15, 11,
];

/// STA bit permutation P: input bit *i* goes to output bit `STA_P[i]`, bit 0 = least
/// significant (SPEC-crypto §0, §2.3(a), production set; brief decision 1).
#[cfg(feature = "sta")]
#[rustfmt::skip]
pub(crate) const STA_P: [u8; 64] = [
    55, 42, 10, 18, 24, 21, 44, 35,  2, 22, 56, 43, 27, 58,  9, 50,
     6, 36, 12, 61, 37, 38, 53, 16, 62,  3,  7,  4, 32, 20, 63, 25,
    51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30, 41, 28, 13,  5,
    40, 60, 39, 11, 15, 17,  1,  0, 57, 34, 59,  8, 47, 14, 45, 26,
];

/// Inverse of [`STA_P`]: input bit *i* goes to output bit `STA_P_INV[i]` (SPEC-crypto
/// §2.3(a)). The tests check it really is the inverse.
#[cfg(feature = "sta")]
#[rustfmt::skip]
pub(crate) const STA_P_INV: [u8; 64] = [
    55, 54,  8, 25, 27, 47, 16, 26, 59, 14,  2, 51, 18, 46, 61, 52,
    23, 53,  3, 37, 29,  5,  9, 42,  4, 31, 63, 12, 45, 39, 43, 41,
    28, 35, 57,  7, 17, 20, 21, 50, 48, 44,  1, 11,  6, 62, 38, 60,
    40, 36, 15, 32, 33, 22, 34,  0, 10, 56, 13, 58, 49, 19, 24, 30,
];

// ---------------------------------------------------------------------------------------------
// EA11 MISTY1 (SPEC-crypto §4.1 = RFC 2994 §2.2 / Appendix)
// ---------------------------------------------------------------------------------------------

/// MISTY1 S-box S7 (7-bit in, 7-bit out), SPEC-crypto §4.1 (the RFC 2994 table; brief
/// decision 10).
#[cfg(feature = "misty1")]
#[rustfmt::skip]
pub(crate) static MISTY1_S7: [u8; 128] = [
     27,  50,  51,  90,  59,  16,  23,  84,  91,  26, 114, 115, 107,  44, 102,  73,
     31,  36,  19, 108,  55,  46,  63,  74,  93,  15,  64,  86,  37,  81,  28,   4,
     11,  70,  32,  13, 123,  53,  68,  66,  43,  30,  65,  20,  75, 121,  21, 111,
     14,  85,   9,  54, 116,  12, 103,  83,  40,  10, 126,  56,   2,   7,  96,  41,
     25,  18, 101,  47,  48,  57,   8, 104,  95, 120,  42,  76, 100,  69, 117,  61,
     89,  72,   3,  87, 124,  79,  98,  60,  29,  33,  94,  39, 106, 112,  77,  58,
      1, 109, 110,  99,  24, 119,  35,   5,  38, 118,   0,  49,  45, 122, 127,  97,
     80,  34,  17,   6,  71,  22,  82,  78, 113,  62, 105,  67,  52,  92,  88, 125,
];

/// MISTY1 S-box S9 (9-bit in, 9-bit out), SPEC-crypto §4.1 (the RFC 2994 table; brief
/// decision 10).
#[cfg(feature = "misty1")]
#[rustfmt::skip]
pub(crate) static MISTY1_S9: [u16; 512] = [
    451, 203, 339, 415, 483, 233, 251,  53, 385, 185, 279, 491, 307,   9,  45, 211,
    199, 330,  55, 126, 235, 356, 403, 472, 163, 286,  85,  44,  29, 418, 355, 280,
    331, 338, 466,  15,  43,  48, 314, 229, 273, 312, 398,  99, 227, 200, 500,  27,
      1, 157, 248, 416, 365, 499,  28, 326, 125, 209, 130, 490, 387, 301, 244, 414,
    467, 221, 482, 296, 480, 236,  89, 145,  17, 303,  38, 220, 176, 396, 271, 503,
    231, 364, 182, 249, 216, 337, 257, 332, 259, 184, 340, 299, 430,  23, 113,  12,
     71,  88, 127, 420, 308, 297, 132, 349, 413, 434, 419,  72, 124,  81, 458,  35,
    317, 423, 357,  59,  66, 218, 402, 206, 193, 107, 159, 497, 300, 388, 250, 406,
    481, 361, 381,  49, 384, 266, 148, 474, 390, 318, 284,  96, 373, 463, 103, 281,
    101, 104, 153, 336,   8,   7, 380, 183,  36,  25, 222, 295, 219, 228, 425,  82,
    265, 144, 412, 449,  40, 435, 309, 362, 374, 223, 485, 392, 197, 366, 478, 433,
    195, 479,  54, 238, 494, 240, 147,  73, 154, 438, 105, 129, 293,  11,  94, 180,
    329, 455, 372,  62, 315, 439, 142, 454, 174,  16, 149, 495,  78, 242, 509, 133,
    253, 246, 160, 367, 131, 138, 342, 155, 316, 263, 359, 152, 464, 489,   3, 510,
    189, 290, 137, 210, 399,  18,  51, 106, 322, 237, 368, 283, 226, 335, 344, 305,
    327,  93, 275, 461, 121, 353, 421, 377, 158, 436, 204,  34, 306,  26, 232,   4,
    391, 493, 407,  57, 447, 471,  39, 395, 198, 156, 208, 334, 108,  52, 498, 110,
    202,  37, 186, 401, 254,  19, 262,  47, 429, 370, 475, 192, 267, 470, 245, 492,
    269, 118, 276, 427, 117, 268, 484, 345,  84, 287,  75, 196, 446, 247,  41, 164,
     14, 496, 119,  77, 378, 134, 139, 179, 369, 191, 270, 260, 151, 347, 352, 360,
    215, 187, 102, 462, 252, 146, 453, 111,  22,  74, 161, 313, 175, 241, 400,  10,
    426, 323, 379,  86, 397, 358, 212, 507, 333, 404, 410, 135, 504, 291, 167, 440,
    321,  60, 505, 320,  42, 341, 282, 417, 408, 213, 294, 431,  97, 302, 343, 476,
    114, 394, 170, 150, 277, 239,  69, 123, 141, 325,  83,  95, 376, 178,  46,  32,
    469,  63, 457, 487, 428,  68,  56,  20, 177, 363, 171, 181,  90, 386, 456, 468,
     24, 375, 100, 207, 109, 256, 409, 304, 346,   5, 288, 443, 445, 224,  79, 214,
    319, 452, 298,  21,   6, 255, 411, 166,  67, 136,  80, 351, 488, 289, 115, 382,
    188, 194, 201, 371, 393, 501, 116, 460, 486, 424, 405,  31,  65,  13, 442,  50,
     61, 465, 128, 168,  87, 441, 354, 328, 217, 261,  98, 122,  33, 511, 274, 264,
    448, 169, 285, 432, 422, 205, 243,  92, 258,  91, 473, 324, 502, 173, 165,  58,
    459, 310, 383,  70, 225,  30, 477, 230, 311, 506, 389, 140, 143,  64, 437, 190,
    120,   0, 172, 272, 350, 292,   2, 444, 162, 234, 112, 508, 278, 348,  76, 450,
];

#[cfg(test)]
mod tests {
    #[cfg(feature = "sta")]
    mod sta {
        use crate::consts::*;

        /// True if `inv` undoes `fwd` (and so both are permutations of `0..N`).
        fn is_inverse<const N: usize>(fwd: &[u8; N], inv: &[u8; N]) -> bool {
            (0..N).all(|i| usize::from(inv[usize::from(fwd[i])]) == i)
                && (0..N).all(|i| usize::from(fwd[usize::from(inv[i])]) == i)
        }

        #[test]
        fn inverse_tables_are_inverses() {
            assert!(is_inverse(&STA_S1, &STA_S1_INV));
            assert!(is_inverse(&STA_S2, &STA_S2_INV));
            assert!(is_inverse(&STA_P, &STA_P_INV));
        }

        /// SPEC-crypto §2.2 gives NectarAPI's meter-side tables D1 = inv(S2), D2 = inv(S1) as a
        /// second transcription; they must agree with §2.3(a).
        #[test]
        fn inverse_tables_match_second_transcription() {
            let d1: [u8; 16] = [12, 6, 2, 7, 13, 9, 5, 4, 1, 10, 14, 8, 0, 3, 15, 11];
            let d2: [u8; 16] = [9, 11, 6, 5, 12, 7, 14, 2, 13, 3, 1, 15, 4, 8, 0, 10];
            assert_eq!(STA_S2_INV, d1);
            assert_eq!(STA_S1_INV, d2);
        }
    }

    #[cfg(feature = "misty1")]
    mod misty1 {
        use crate::consts::*;

        /// SPEC-crypto §4.1: "both tables are permutations".
        #[test]
        fn sboxes_are_permutations() {
            let mut seen7 = [false; 128];
            for &v in &MISTY1_S7 {
                assert!(!seen7[usize::from(v)], "S7 repeats {v}");
                seen7[usize::from(v)] = true;
            }
            let mut seen9 = [false; 512];
            for &v in &MISTY1_S9 {
                assert!(!seen9[usize::from(v)], "S9 repeats {v}");
                seen9[usize::from(v)] = true;
            }
        }
    }
}
