//! Any bytes as a meter's persistent record (flash a firmware reads back after a power cut):
//! `read_record` returns a meter or a precise error, never panics. The bytes are tried as they
//! are (length and CRC checks) and again as a record body under a valid CRC-32, computed here
//! by `crc32fast` (an implementation independent of the codec's), so the field checks behind
//! the CRC are reached too. A record that reads back writes out to a record that reads back to
//! the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use token_codec::meter::Meter;

type M = Meter<8>;

fuzz_target!(|data: &[u8]| {
    let _ = M::read_record(data);

    let body_len = M::RECORD_LEN - 4;
    let mut record = vec![0u8; M::RECORD_LEN];
    let n = data.len().min(body_len);
    record[..n].copy_from_slice(&data[..n]);
    let crc = crc32fast::hash(&record[..body_len]);
    record[body_len..].copy_from_slice(&crc.to_be_bytes());
    let Ok(meter) = M::read_record(&record) else {
        return;
    };
    let mut first = vec![0u8; M::RECORD_LEN];
    meter.write_record(&mut first).unwrap();
    let again = M::read_record(&first).expect("a written record reads back");
    let mut second = vec![0u8; M::RECORD_LEN];
    again.write_record(&mut second).unwrap();
    assert_eq!(first, second);
});
