//! The append-only audit log: one global chain, each entry hashed over the previous hash and
//! its own canonical form.
//!
//! `hash = SHA-256(prev_hash ‖ canonical(entry))`, with `prev_hash` of the first entry 32 zero
//! bytes. `canonical(entry)` is the JSON object
//! `{"action":…,"actor":…,"at":…,"details":…,"seq":…,"subject":…}` with object keys sorted
//! at every depth, no insignificant whitespace, and serde_json's escaping of strings and
//! formatting of numbers. Keys are sorted here, not by serde_json, so the form cannot change
//! when a dependency turns on serde_json's `preserve_order` feature.
//!
//! Details never carry token digits or key material: the writer of an entry builds them from
//! ids, TIDs and amounts only. A verifier needs only the rows (`vend-api audit verify`). A
//! chain detects edits and deletions inside it; truncating its tail is detected only against
//! a head hash recorded elsewhere (the verifier prints the head for that purpose).

use core::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// A hash in the chain.
pub type ChainHash = [u8; 32];

/// The hash before the first entry.
pub const GENESIS: ChainHash = [0; 32];

/// An entry to append (the writer assigns `seq` and the hashes).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// When, RFC 3339.
    pub at: String,
    /// Who: an API key's name, or `cli` for the command line.
    pub actor: String,
    /// What, e.g. `token.credit`, `meter.register`.
    pub action: String,
    /// What it was done to, e.g. a meter PAN.
    pub subject: String,
    /// Further facts (JSON object), never digits or keys.
    pub details: Value,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Position in the chain, from 1 with no gaps.
    pub seq: i64,
    /// The entry's content.
    pub entry: NewAuditEntry,
    /// The previous entry's hash.
    pub prev_hash: ChainHash,
    /// This entry's hash.
    pub hash: ChainHash,
}

/// The end of the chain: the last sequence number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Last sequence number (0 for an empty chain).
    pub seq: i64,
    /// Last hash ([`GENESIS`] for an empty chain).
    pub hash: ChainHash,
}

impl ChainHead {
    /// The head of an empty chain.
    pub const EMPTY: Self = Self {
        seq: 0,
        hash: GENESIS,
    };

    /// Links `entry` after this head and moves the head to it.
    pub fn append(&mut self, entry: NewAuditEntry) -> AuditEntry {
        let seq = self.seq.saturating_add(1);
        let hash = entry_hash(&self.hash, &canonical(seq, &entry));
        let out = AuditEntry {
            seq,
            entry,
            prev_hash: self.hash,
            hash,
        };
        *self = Self { seq, hash };
        out
    }
}

/// The canonical bytes of an entry (see the module docs).
pub fn canonical(seq: i64, e: &NewAuditEntry) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str("{\"action\":");
    push_str_json(&mut out, &e.action);
    out.push_str(",\"actor\":");
    push_str_json(&mut out, &e.actor);
    out.push_str(",\"at\":");
    push_str_json(&mut out, &e.at);
    out.push_str(",\"details\":");
    push_canonical(&mut out, &e.details);
    out.push_str(",\"seq\":");
    out.push_str(&seq.to_string());
    out.push_str(",\"subject\":");
    push_str_json(&mut out, &e.subject);
    out.push('}');
    out.into_bytes()
}

/// Canonical JSON text of a value: keys sorted at every depth, no whitespace.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    push_canonical(&mut out, v);
    out
}

fn push_str_json(out: &mut String, s: &str) {
    // Serialising a &str cannot fail; the fallback keeps the function total.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\"")));
}

fn push_canonical(out: &mut String, v: &Value) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str_json(out, k);
                out.push(':');
                if let Some(inner) = map.get(k) {
                    push_canonical(out, inner);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_canonical(out, item);
            }
            out.push(']');
        }
        Value::String(s) => push_str_json(out, s),
        other => out.push_str(&other.to_string()),
    }
}

/// `SHA-256(prev ‖ canonical)`.
pub fn entry_hash(prev: &ChainHash, canonical: &[u8]) -> ChainHash {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().into()
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0xF] {
            s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    s
}

/// Parses 64 hex digits into a hash.
pub fn hash_from_hex(text: &str) -> Option<ChainHash> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let hi = char::from(*pair.first()?).to_digit(16)?;
        let lo = char::from(*pair.get(1)?).to_digit(16)?;
        *slot = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// What is wrong with a stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainFault {
    /// The sequence does not continue from the previous entry (an entry was removed or
    /// inserted).
    SeqGap {
        /// The sequence number expected.
        expected: i64,
    },
    /// `prev_hash` is not the previous entry's hash.
    PrevHashMismatch {
        /// The previous entry's hash.
        expected: String,
        /// The stored `prev_hash`.
        stored: String,
    },
    /// The stored hash is not the hash of the stored content.
    HashMismatch {
        /// Recomputed hash.
        computed: String,
        /// Stored hash.
        stored: String,
    },
    /// A stored field that cannot be read (details not JSON, hash not hex).
    Unreadable {
        /// Which field.
        field: &'static str,
    },
}

/// The first bad entry of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The entry's stored sequence number.
    pub seq: i64,
    /// What is wrong with it.
    pub fault: ChainFault,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit entry seq {}: ", self.seq)?;
        match &self.fault {
            ChainFault::SeqGap { expected } => {
                write!(f, "sequence gap, expected seq {expected}")
            }
            ChainFault::PrevHashMismatch { expected, stored } => write!(
                f,
                "prev_hash {stored} is not the previous entry's hash {expected}"
            ),
            ChainFault::HashMismatch { computed, stored } => write!(
                f,
                "content does not match its hash: stored {stored}, computed {computed}"
            ),
            ChainFault::Unreadable { field } => write!(f, "{field} is unreadable"),
        }
    }
}

impl std::error::Error for ChainBreak {}

/// A stored row as read back, before any interpretation (so the verifier checks exactly what
/// is on disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    /// `seq` column.
    pub seq: i64,
    /// `at` column.
    pub at: String,
    /// `actor` column.
    pub actor: String,
    /// `action` column.
    pub action: String,
    /// `subject` column.
    pub subject: String,
    /// `details` column (JSON text).
    pub details: String,
    /// `prev_hash` column (hex).
    pub prev_hash: String,
    /// `hash` column (hex).
    pub hash: String,
}

/// Checks rows in sequence order; they continue the chain from `head` (use
/// [`ChainHead::EMPTY`] for a whole chain). Returns the new head.
pub fn verify_rows<I>(mut head: ChainHead, rows: I) -> Result<ChainHead, ChainBreak>
where
    I: IntoIterator<Item = StoredRow>,
{
    for row in rows {
        let brk = |fault| ChainBreak {
            seq: row.seq,
            fault,
        };
        let expected = head.seq.saturating_add(1);
        if row.seq != expected {
            return Err(brk(ChainFault::SeqGap { expected }));
        }
        let prev = hash_from_hex(&row.prev_hash)
            .ok_or_else(|| brk(ChainFault::Unreadable { field: "prev_hash" }))?;
        if prev != head.hash {
            return Err(brk(ChainFault::PrevHashMismatch {
                expected: to_hex(&head.hash),
                stored: row.prev_hash.clone(),
            }));
        }
        let details: Value = serde_json::from_str(&row.details)
            .map_err(|_| brk(ChainFault::Unreadable { field: "details" }))?;
        let entry = NewAuditEntry {
            at: row.at.clone(),
            actor: row.actor.clone(),
            action: row.action.clone(),
            subject: row.subject.clone(),
            details,
        };
        let computed = entry_hash(&prev, &canonical(row.seq, &entry));
        let stored = hash_from_hex(&row.hash)
            .ok_or_else(|| brk(ChainFault::Unreadable { field: "hash" }))?;
        if computed != stored {
            return Err(brk(ChainFault::HashMismatch {
                computed: to_hex(&computed),
                stored: row.hash.clone(),
            }));
        }
        head = ChainHead {
            seq: row.seq,
            hash: stored,
        };
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(action: &str, details: Value) -> NewAuditEntry {
        NewAuditEntry {
            at: "2026-01-01T00:00:00Z".into(),
            actor: "desk".into(),
            action: action.into(),
            subject: "600727000000000009".into(),
            details,
        }
    }

    fn stored(e: &AuditEntry) -> StoredRow {
        StoredRow {
            seq: e.seq,
            at: e.entry.at.clone(),
            actor: e.entry.actor.clone(),
            action: e.entry.action.clone(),
            subject: e.entry.subject.clone(),
            details: canonical_json(&e.entry.details),
            prev_hash: to_hex(&e.prev_hash),
            hash: to_hex(&e.hash),
        }
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_depth() {
        let e = entry(
            "a",
            json!({"z": 1, "a": {"y": [1, {"b": 2, "a": 1}], "x": "é\""}}),
        );
        let text = String::from_utf8(canonical(7, &e)).unwrap();
        assert_eq!(
            text,
            r#"{"action":"a","actor":"desk","at":"2026-01-01T00:00:00Z","details":{"a":{"x":"é\"","y":[1,{"a":1,"b":2}]},"z":1},"seq":7,"subject":"600727000000000009"}"#
        );
    }

    /// The first hash, computed independently of this module with Python's hashlib:
    /// `sha256(bytes(32) + b'{"action":"meter.register",…,"subject":"600727000000000009"}')`.
    #[test]
    fn first_hash_is_sha256_of_zero_prefix_and_entry() {
        let mut head = ChainHead::EMPTY;
        let e = head.append(entry("meter.register", json!({})));
        assert_eq!(
            to_hex(&e.hash),
            "0da51a03fca0f2cf2df5b99da4a1086b92e0c267a5f877e470a68744d4db9600"
        );
        assert_eq!(e.prev_hash, GENESIS);
        assert_eq!(
            head,
            ChainHead {
                seq: 1,
                hash: e.hash
            }
        );
    }

    #[test]
    fn verifier_names_the_first_bad_entry() {
        let mut head = ChainHead::EMPTY;
        let entries: Vec<AuditEntry> = (0..5)
            .map(|i| head.append(entry("token.credit", json!({"n": i}))))
            .collect();
        let rows: Vec<StoredRow> = entries.iter().map(stored).collect();
        assert_eq!(verify_rows(ChainHead::EMPTY, rows.clone()), Ok(head));

        let mut edited = rows.clone();
        edited[2].details = r#"{"n":99}"#.into();
        let err = verify_rows(ChainHead::EMPTY, edited).unwrap_err();
        assert_eq!(err.seq, 3);
        assert!(
            matches!(err.fault, ChainFault::HashMismatch { .. }),
            "{err}"
        );

        let mut removed = rows.clone();
        removed.remove(1);
        let err = verify_rows(ChainHead::EMPTY, removed).unwrap_err();
        assert_eq!(
            (err.seq, err.fault),
            (3, ChainFault::SeqGap { expected: 2 })
        );

        // Rehashing an edited entry alone breaks the link to the next one.
        let mut rehashed = rows;
        rehashed[1].actor = "mallory".into();
        let e1 = NewAuditEntry {
            actor: "mallory".into(),
            ..entries[1].entry.clone()
        };
        rehashed[1].hash = to_hex(&entry_hash(&entries[0].hash, &canonical(2, &e1)));
        let err = verify_rows(ChainHead::EMPTY, rehashed).unwrap_err();
        assert_eq!(err.seq, 3);
        assert!(
            matches!(err.fault, ChainFault::PrevHashMismatch { .. }),
            "{err}"
        );
    }

    #[test]
    fn hex_round_trip() {
        let h: ChainHash = Sha256::digest(b"x").into();
        assert_eq!(hash_from_hex(&to_hex(&h)), Some(h));
        assert_eq!(hash_from_hex("zz"), None);
        assert_eq!(hash_from_hex(&"g".repeat(64)), None);
    }
}
