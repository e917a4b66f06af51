//! The 600-block chain in `testdata/ethtest/chain.rlp`, walked generically: every nested item is
//! decoded and the re-encoding reproduces the file byte for byte; raw header bytes hash to the
//! next block's parent hash.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{Tree, testdata};
use devp2p_rlp_codec::{Encodable, Rlp};
use sha3::{Digest, Keccak256};

fn chain() -> Vec<u8> {
    std::fs::read(testdata("ethtest/chain.rlp")).unwrap()
}

#[test]
fn generic_walk_reencodes_byte_for_byte() {
    let file = chain();
    let mut rlp = Rlp::new(&file);
    let mut out = Vec::with_capacity(file.len());
    let mut blocks = 0;
    while !rlp.is_empty() {
        let block: Tree = rlp.decode().unwrap();
        let Tree::List(fields) = &block else {
            panic!("block {blocks} is not a list")
        };
        assert_eq!(
            fields.len(),
            4,
            "block {blocks}: [header, txs, ommers, withdrawals]"
        );
        block.encode(&mut out);
        blocks += 1;
    }
    assert_eq!(blocks, 600);
    assert_eq!(out, file);
}

#[test]
fn raw_headers_hash_to_the_next_parent_hash() {
    let file = chain();
    let mut rlp = Rlp::new(&file);
    let mut parent_hash =
        hex::decode("bd6a252af394d80904c5993b859574bd4669642cea00a116970ec7887db67533").unwrap();
    let mut number = 0u64;
    while !rlp.is_empty() {
        let mut block = rlp.list().unwrap();
        let header_raw = block.raw().unwrap();
        let mut header = Rlp::new(header_raw).list().unwrap();
        assert_eq!(
            header.bytes().unwrap(),
            parent_hash.as_slice(),
            "block {}",
            number + 1
        );
        for _ in 0..7 {
            header.raw().unwrap(); // ommers hash, coinbase, three roots, bloom, difficulty
        }
        number += 1;
        assert_eq!(header.decode::<u64>().unwrap(), number);
        parent_hash = Keccak256::digest(header_raw).to_vec();
    }
    assert_eq!(number, 600);
    assert_eq!(
        hex::encode(parent_hash),
        "44e3809c9a3cda717f00aea3a9da336d149612c8d5657fbc0028176ef8d94d2a"
    );
}
