//! eth messages of every version and id from arbitrary bytes: never panics; whatever decodes
//! re-encodes, and that encoding decodes to the same message; every receipt of a decoded
//! Receipts decodes again.
//!
//! Input: a version selector byte (68, 69 or 70 by its value modulo 3), an id byte, the data.
#![no_main]

use devp2p_eth_wire::{EthMessage, EthVersion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [selector, id, rest @ ..] = data else {
        return;
    };
    let version = EthVersion::ALL[usize::from(*selector) % 3];
    if let Ok(message) = EthMessage::decode(version, *id, rest) {
        assert_eq!(message.id(), *id);
        let encoded = message
            .encode(version)
            .expect("a decoded message encodes in its version");
        assert_eq!(
            EthMessage::decode(version, *id, &encoded).as_ref(),
            Ok(&message)
        );
        if let EthMessage::Receipts(receipts) = &message {
            for list in &receipts.receipts {
                assert_eq!(
                    list.iter().count(),
                    list.len(),
                    "a receipt checked on arrival fails to decode"
                );
            }
        }
        for tx in match &message {
            EthMessage::Transactions(txs) => txs.clone(),
            EthMessage::PooledTransactions(p) => p.transactions.clone(),
            _ => Vec::new(),
        } {
            let _ = tx.decode();
        }
    }
});
