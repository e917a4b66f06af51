//! Serving the ethtest chain: the header request cases of go-ethereum's eth conformance suite
//! and the spec's edge cases, bodies, receipts, request ids, and a chain that does not link.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use alloy_primitives::{Address, B256, Bytes};
use devp2p_eth_wire::{
    BlockId, ChainError, ChainReader, EthMessage, EthVersion, GetBlockBodies, GetBlockHeaders,
    GetPooledTransactions, GetReceipts, HeadersQuery, Log, MemoryChain, Receipt, ReceiptList,
    Receipts, SOFT_RESPONSE_LIMIT, respond, serve_headers, serve_receipts,
};
use std::sync::OnceLock;

fn chain() -> &'static MemoryChain {
    static CHAIN: OnceLock<MemoryChain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/ethtest");
        let genesis = std::fs::read_to_string(format!("{dir}/genesis.json")).unwrap();
        let blocks = std::fs::read(format!("{dir}/chain.rlp")).unwrap();
        MemoryChain::load(&genesis, &blocks).unwrap()
    })
}

fn numbers(start: BlockId, limit: u64, skip: u64, reverse: bool) -> Vec<u64> {
    serve_headers(
        chain(),
        &HeadersQuery {
            start,
            limit,
            skip,
            reverse,
        },
    )
    .iter()
    .map(|h| h.header.number)
    .collect()
}

fn hash(number: u64) -> B256 {
    chain().header_by_number(number).unwrap().hash
}

#[test]
fn loads_genesis_and_600_blocks() {
    assert_eq!(chain().head().header.number, 600);
    assert_eq!(
        chain().head().hash.to_string(),
        "0x44e3809c9a3cda717f00aea3a9da336d149612c8d5657fbc0028176ef8d94d2a"
    );
    assert_eq!(
        chain().header_by_number(1).unwrap().header.parent_hash,
        hash(0)
    );
    assert_eq!(chain().header_by_hash(&hash(0)).unwrap().header.number, 0);
    assert!(chain().header_by_number(601).is_none());
}

#[test]
fn conformance_header_cases() {
    // By hash, amount 2, skip 1: blocks 1 and 3.
    assert_eq!(numbers(BlockId::Hash(hash(1)), 2, 1, false), [1, 3]);
    // By number, rising and falling.
    assert_eq!(numbers(BlockId::Number(5), 3, 0, false), [5, 6, 7]);
    assert_eq!(numbers(BlockId::Number(5), 3, 0, true), [5, 4, 3]);
    // Reverse with a skip that passes genesis: stops instead of wrapping.
    assert_eq!(numbers(BlockId::Number(5), 10, 2, true), [5, 2]);
    assert_eq!(numbers(BlockId::Number(0), 3, 0, true), [0]);
    // Block 0 is served.
    assert_eq!(numbers(BlockId::Hash(hash(0)), 2, 0, false), [0, 1]);
    // Origin 2^64-1, unknown hashes, a zero limit: empty replies.
    assert!(numbers(BlockId::Number(u64::MAX), 1, 0, false).is_empty());
    assert!(numbers(BlockId::Hash(B256::repeat_byte(9)), 5, 0, false).is_empty());
    assert!(numbers(BlockId::Number(1), 0, 0, false).is_empty());
    // Rising past the head ends the reply; huge skips do not overflow.
    assert_eq!(numbers(BlockId::Number(598), 5, 0, false), [598, 599, 600]);
    assert_eq!(numbers(BlockId::Number(10), 5, u64::MAX, false), [10]);
    assert_eq!(numbers(BlockId::Number(10), 5, u64::MAX - 1, true), [10]);
    // At most 1024 headers; the chain has 601.
    assert_eq!(numbers(BlockId::Number(0), u64::MAX, 0, false).len(), 601);
}

#[test]
fn request_ids_are_echoed() {
    let get = |request_id| {
        EthMessage::GetBlockHeaders(GetBlockHeaders {
            request_id,
            query: HeadersQuery {
                start: BlockId::Number(1),
                limit: 2,
                skip: 0,
                reverse: false,
            },
        })
    };
    // Request id 0, and two requests with the same id: each answered with its id.
    for request_id in [0, 33, 33, u64::MAX] {
        let reply = respond(chain(), EthVersion::Eth69, &get(request_id)).unwrap();
        assert_eq!(reply.request_id(), Some(request_id));
        let EthMessage::BlockHeaders(headers) = reply else {
            panic!("not BlockHeaders")
        };
        assert_eq!(headers.headers.len(), 2);
    }
    let bodies = respond(
        chain(),
        EthVersion::Eth68,
        &EthMessage::GetBlockBodies(GetBlockBodies {
            request_id: 5,
            hashes: vec![hash(10), B256::repeat_byte(7), hash(11)],
        }),
    )
    .unwrap();
    let EthMessage::BlockBodies(bodies) = bodies else {
        panic!("not BlockBodies")
    };
    // The answer ends at the unknown hash: bodies are matched to the request by position.
    assert_eq!((bodies.request_id, bodies.bodies.len()), (5, 1));
    assert_eq!(bodies.bodies[0], chain().body(&hash(10)).unwrap());
    let unknown_first = respond(
        chain(),
        EthVersion::Eth68,
        &EthMessage::GetBlockBodies(GetBlockBodies {
            request_id: 6,
            hashes: vec![B256::repeat_byte(7), hash(10)],
        }),
    )
    .unwrap();
    let EthMessage::BlockBodies(unknown_first) = unknown_first else {
        panic!("not BlockBodies")
    };
    assert_eq!(
        (unknown_first.request_id, unknown_first.bodies.len()),
        (6, 0)
    );
    // Blocks are not executed: receipts are known (none) for blocks without transactions
    // only, so the answer stops at the first block with some. No pool: an empty answer.
    let has_transactions = |n: u64| !chain().body(&hash(n)).unwrap().transactions.is_empty();
    let busy = (1..=600).find(|&n| has_transactions(n)).unwrap();
    let idle = (1..=600).find(|&n| !has_transactions(n)).unwrap();
    let receipts = respond(
        chain(),
        EthVersion::Eth70,
        &EthMessage::GetReceipts(GetReceipts {
            request_id: 8,
            first_block_receipt_index: 0,
            hashes: vec![hash(0), hash(idle), hash(busy), hash(idle)],
        }),
    )
    .unwrap();
    let EthMessage::Receipts(receipts) = receipts else {
        panic!("not Receipts")
    };
    assert_eq!(
        (
            receipts.request_id,
            receipts.receipts,
            receipts.last_block_incomplete
        ),
        (
            8,
            vec![ReceiptList::default(), ReceiptList::default()],
            false
        )
    );
    let pooled = respond(
        chain(),
        EthVersion::Eth68,
        &EthMessage::GetPooledTransactions(GetPooledTransactions {
            request_id: 9,
            hashes: vec![B256::ZERO],
        }),
    )
    .unwrap();
    assert_eq!(pooled.request_id(), Some(9));
    // Announcements get no answer.
    assert!(
        respond(
            chain(),
            EthVersion::Eth68,
            &EthMessage::Transactions(vec![])
        )
        .is_none()
    );
}

#[test]
fn chain_that_does_not_link() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/ethtest");
    let genesis = std::fs::read_to_string(format!("{dir}/genesis.json")).unwrap();
    let blocks = std::fs::read(format!("{dir}/chain.rlp")).unwrap();
    // Drop block 1: block 2 does not follow genesis.
    let mut rlp = devp2p_rlp_codec::Rlp::new(&blocks);
    let first = rlp.raw().unwrap().len();
    assert_eq!(
        MemoryChain::load(&genesis, &blocks[first..]).unwrap_err(),
        ChainError::NotLinked { number: 2 }
    );
    assert!(matches!(
        MemoryChain::load(&genesis, &blocks[..first - 1]).unwrap_err(),
        ChainError::Block { index: 0, .. }
    ));
    assert!(matches!(
        MemoryChain::load("{}", &blocks).unwrap_err(),
        ChainError::Genesis(_)
    ));
}

/// The test chain, with every block holding `per_block` receipts, each with a log of
/// `log_data` bytes of data.
struct WithReceipts {
    per_block: usize,
    log_data: usize,
}

impl ChainReader for WithReceipts {
    fn header_by_number(&self, number: u64) -> Option<devp2p_eth_wire::SealedHeader> {
        chain().header_by_number(number)
    }
    fn header_by_hash(&self, hash: &B256) -> Option<devp2p_eth_wire::SealedHeader> {
        chain().header_by_hash(hash)
    }
    fn body(&self, hash: &B256) -> Option<devp2p_eth_wire::BlockBody> {
        chain().body(hash)
    }
    fn receipts(&self, hash: &B256) -> Option<Vec<Receipt>> {
        chain().header_by_hash(hash)?;
        let receipt = |i: usize| Receipt {
            tx_type: 2,
            status: Bytes::from_static(&[1]),
            cumulative_gas_used: 21_000 * (i as u64 + 1),
            logs: vec![Log {
                address: Address::repeat_byte(0x11),
                topics: vec![],
                data: Bytes::from(vec![0xab; self.log_data]),
            }],
        };
        Some((0..self.per_block).map(receipt).collect())
    }
    fn head(&self) -> devp2p_eth_wire::SealedHeader {
        chain().head()
    }
}

/// Which receipts `version` serves for blocks 1 to 4 of a chain with `per_block` large
/// receipts each: how many in each list, and whether the last was cut short.
fn served(version: EthVersion, per_block: usize, first: u64) -> (Vec<usize>, bool) {
    let (lists, incomplete) = serve_receipts(
        &WithReceipts {
            per_block,
            log_data: 300_000,
        },
        version,
        &[hash(1), hash(2), hash(3), hash(4)],
        first,
    );
    (lists.iter().map(ReceiptList::len).collect(), incomplete)
}

/// The 2 MiB soft limit is checked between blocks, in every version: a partial list cannot be
/// checked against the receipts root, so eth/70 cuts one only where the message would
/// otherwise pass 10 MiB.
#[test]
fn receipts_stop_at_the_soft_limit_as_each_version_allows() {
    const { assert!(4 * 300_000 < SOFT_RESPONSE_LIMIT && 8 * 300_000 > SOFT_RESPONSE_LIMIT) };
    // Four per block: the limit is passed in the second block, which is still sent whole.
    for version in EthVersion::ALL {
        assert_eq!(served(version, 4, 0), (vec![4, 4], false), "{version:?}");
    }
    // eth/70 resumes inside the first block; the others ignore the index.
    assert_eq!(served(EthVersion::Eth70, 4, 1), (vec![3, 4], false));
    assert_eq!(served(EthVersion::Eth69, 4, 1), (vec![4, 4], false));
    // Seven per block: the limit is reached exactly where the first block ends, so the next
    // block is not started.
    assert_eq!(served(EthVersion::Eth70, 7, 0), (vec![7], false));
    assert_eq!(served(EthVersion::Eth69, 7, 0), (vec![7], false));
}

/// A block whose receipts alone would pass 10 MiB: eth/70 sends what fits and flags the list
/// incomplete; resuming at that index gets the rest.
#[test]
fn eth70_cuts_a_list_only_where_the_message_would_pass_10_mib() {
    let (lists, incomplete) = served(EthVersion::Eth70, 40, 0);
    assert!(incomplete);
    let sent = lists[0];
    assert_eq!(lists.len(), 1);
    assert!((30..40).contains(&sent), "{sent} receipts");
    let chain = WithReceipts {
        per_block: 40,
        log_data: 300_000,
    };
    let (lists, incomplete) = serve_receipts(&chain, EthVersion::Eth70, &[hash(1)], 0);
    let encoded = EthMessage::Receipts(Receipts {
        request_id: u64::MAX,
        last_block_incomplete: incomplete,
        receipts: lists,
    })
    .encode(EthVersion::Eth70)
    .unwrap();
    assert!(
        encoded.len() <= devp2p_eth_wire::MAX_MESSAGE_SIZE,
        "{}",
        encoded.len()
    );
    // The rest of the block, then as much of the next as fits: the same total.
    assert_eq!(
        served(EthVersion::Eth70, 40, sent as u64),
        (vec![40 - sent, sent - (40 - sent)], true)
    );
}

/// A receipt that alone would take an eth/70 answer past 10 MiB is not sent: the answer ends
/// before it, here with nothing, as go-ethereum's does.
#[test]
fn a_receipt_over_10_mib_is_not_sent() {
    let chain = WithReceipts {
        per_block: 2,
        log_data: devp2p_eth_wire::MAX_MESSAGE_SIZE,
    };
    assert_eq!(
        serve_receipts(&chain, EthVersion::Eth70, &[hash(1), hash(2)], 0),
        (vec![], false)
    );
}

/// eth/68 sends receipts with their 256-byte blooms: the soft limit counts them, or a plain
/// transfer's receipt (a few dozen bytes on eth/69) would be counted at a tenth of its size and
/// an answer for 256 blocks would pass go-ethereum's 10 MiB message limit.
#[test]
fn eth68_receipts_are_counted_with_their_blooms() {
    let chain = WithReceipts {
        per_block: 150,
        log_data: 0,
    };
    let hashes: Vec<B256> = (1..=256).map(hash).collect();
    for version in [EthVersion::Eth68, EthVersion::Eth69] {
        let (lists, _) = serve_receipts(&chain, version, &hashes, 0);
        let blocks = lists.len();
        let encoded = EthMessage::Receipts(Receipts {
            request_id: 1,
            last_block_incomplete: false,
            receipts: lists,
        })
        .encode(version)
        .unwrap();
        // Whole blocks only: at most one block past the limit.
        let per_block = encoded.len() / blocks;
        assert!(
            encoded.len() <= SOFT_RESPONSE_LIMIT + per_block,
            "{version:?}: {} bytes in {blocks} blocks",
            encoded.len()
        );
    }
}
