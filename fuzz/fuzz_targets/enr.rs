//! Node record decoding from arbitrary RLP bytes and arbitrary text: never panics; whatever
//! decodes re-encodes to the same bytes and round-trips through every printed form.
#![no_main]

use devp2p_enr::Enr;
use libfuzzer_sys::fuzz_target;

fn check(record: &Enr) {
    assert!(record.to_rlp().len() <= devp2p_enr::MAX_RECORD_SIZE);
    assert_eq!(&Enr::from_rlp(record.to_rlp()).unwrap(), record);
    assert_eq!(&record.to_string().parse::<Enr>().unwrap(), record);
    assert_eq!(&Enr::from_hex(&record.to_hex()).unwrap(), record);
    let _ = (
        record.ip(),
        record.ip6(),
        record.tcp(),
        record.udp6(),
        record.node_record(),
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = Enr::from_rlp(data) {
        assert_eq!(record.to_rlp(), data);
        check(&record);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(record) = Enr::parse_any(text) {
            check(&record);
        }
        let _ = text.parse::<devp2p_enr::NodeRecord>();
    }
});
