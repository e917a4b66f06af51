//! Every message in every version it belongs to: round trips, version gating, request ids,
//! limits, the Status check; property tests for the fixed-shape messages.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use alloy_primitives::{Address, B256, Bytes, U256};
use devp2p_eth_wire::{
    Block, BlockBodies, BlockHashNumber, BlockHeaders, BlockId, BlockRangeUpdate, ChainSpec,
    EthMessage, EthVersion, GetBlockBodies, GetBlockHeaders, GetPooledTransactions, GetReceipts,
    HeadersQuery, Log, MessageError, NewBlock, NewPooledTransactionHashes, PooledTransactions,
    Receipt, ReceiptList, Receipts, Status, Status68, Status69, StatusError, TransactionEnvelope,
    check_status, id, is_allowed,
};
use devp2p_rlp_codec::{Rlp, decode_exact, encode_to_vec};
use proptest::prelude::*;

fn blocks(n: usize) -> Vec<Block> {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ethtest/chain.rlp"
    ))
    .unwrap();
    let mut rlp = Rlp::new(&bytes);
    (0..n)
        .map(|_| decode_exact(rlp.raw().unwrap()).unwrap())
        .collect()
}

fn receipts() -> Vec<ReceiptList> {
    let log = Log {
        address: Address::repeat_byte(0x11),
        topics: vec![B256::repeat_byte(1), B256::repeat_byte(2)],
        data: Bytes::from_static(b"data"),
    };
    vec![
        vec![
            Receipt {
                tx_type: 0,
                status: Bytes::from_static(&[1]),
                cumulative_gas_used: 21_000,
                logs: vec![],
            },
            Receipt {
                tx_type: 2,
                status: Bytes::new(),
                cumulative_gas_used: 90_000,
                logs: vec![log.clone()],
            },
        ],
        vec![],
        vec![Receipt {
            tx_type: 3,
            status: Bytes::from_static(&[1]),
            cumulative_gas_used: 1,
            logs: vec![log],
        }],
    ]
    .into_iter()
    .map(|list| list.into_iter().collect())
    .collect()
}

fn status(version: EthVersion) -> Status {
    let spec = ChainSpec::mainnet();
    match version {
        EthVersion::Eth68 => Status::Eth68(Status68 {
            version: 68,
            network_id: 1,
            total_difficulty: U256::from(58_750_003_716_598_352_816_469u128),
            head: B256::repeat_byte(0xaa),
            genesis: spec.schedule.genesis_hash,
            fork_id: spec.fork_id(23_000_000, 1_770_000_000),
        }),
        v => Status::Eth69(Status69 {
            version: v as u8,
            network_id: 1,
            genesis: spec.schedule.genesis_hash,
            fork_id: spec.fork_id(23_000_000, 1_770_000_000),
            earliest: 0,
            latest: 23_000_000,
            latest_hash: B256::repeat_byte(0xbb),
        }),
    }
}

/// One message of each kind the version has.
fn samples(version: EthVersion) -> Vec<EthMessage> {
    let chain = blocks(40);
    let txs: Vec<_> = chain
        .iter()
        .flat_map(|b| b.transactions.clone())
        .take(12)
        .collect();
    let no_blobs: Vec<_> = txs.iter().filter(|t| t.tx_type() != 3).cloned().collect();
    assert!(no_blobs.len() < txs.len() && no_blobs.len() > 6);
    let mut all = vec![
        EthMessage::Status(status(version)),
        EthMessage::NewBlockHashes(vec![BlockHashNumber {
            hash: chain[0].header.hash,
            number: 1,
        }]),
        // Blob transactions are announced, not broadcast, and pooled only with their sidecar.
        EthMessage::Transactions(no_blobs.clone()),
        EthMessage::GetBlockHeaders(GetBlockHeaders {
            request_id: 7,
            query: HeadersQuery {
                start: BlockId::Hash(chain[3].header.hash),
                limit: 2,
                skip: 1,
                reverse: false,
            },
        }),
        EthMessage::GetBlockHeaders(GetBlockHeaders {
            request_id: u64::MAX,
            query: HeadersQuery {
                start: BlockId::Number(0),
                limit: 1024,
                skip: 0,
                reverse: true,
            },
        }),
        EthMessage::BlockHeaders(BlockHeaders {
            request_id: 0,
            headers: chain.iter().map(|b| b.header.clone()).collect(),
        }),
        EthMessage::GetBlockBodies(GetBlockBodies {
            request_id: 3,
            hashes: vec![chain[5].header.hash],
        }),
        EthMessage::BlockBodies(BlockBodies {
            request_id: 3,
            bodies: chain.iter().map(Block::body).collect(),
        }),
        EthMessage::NewBlock(Box::new(NewBlock {
            block: chain[9].clone(),
            total_difficulty: U256::from(131_072),
        })),
        EthMessage::NewPooledTransactionHashes(NewPooledTransactionHashes {
            types: txs.iter().map(|t| t.tx_type()).collect::<Vec<u8>>().into(),
            sizes: txs.iter().map(|t| t.encoded().len() as u32).collect(),
            hashes: txs.iter().map(|t| t.hash()).collect(),
        }),
        EthMessage::GetPooledTransactions(GetPooledTransactions {
            request_id: 9,
            hashes: txs.iter().map(|t| t.hash()).collect(),
        }),
        EthMessage::PooledTransactions(PooledTransactions {
            request_id: 9,
            transactions: no_blobs,
        }),
        EthMessage::GetReceipts(GetReceipts {
            request_id: 11,
            first_block_receipt_index: if version == EthVersion::Eth70 { 5 } else { 0 },
            hashes: vec![chain[1].header.hash, chain[2].header.hash],
        }),
        EthMessage::Receipts(Receipts {
            request_id: 11,
            last_block_incomplete: version == EthVersion::Eth70,
            receipts: receipts(),
        }),
        EthMessage::BlockRangeUpdate(BlockRangeUpdate {
            earliest: 1,
            latest: 600,
            latest_hash: B256::repeat_byte(3),
        }),
    ];
    all.retain(|m| is_allowed(version, m.id()));
    all
}

#[test]
fn every_message_round_trips_in_every_version() {
    for version in EthVersion::ALL {
        let messages = samples(version);
        let expected = if version == EthVersion::Eth68 { 14 } else { 13 };
        assert_eq!(messages.len(), expected, "{version:?}");
        for message in messages {
            let data = message.encode(version).unwrap();
            let decoded = EthMessage::decode(version, message.id(), &data).unwrap();
            assert_eq!(decoded, message, "{version:?} {:#x}", message.id());
            assert_eq!(decoded.encode(version).unwrap(), data);
        }
    }
}

#[test]
fn versions_allow_their_own_messages() {
    assert_eq!(EthVersion::Eth68.message_count(), 17);
    assert_eq!(EthVersion::Eth69.message_count(), 18);
    for version in EthVersion::ALL {
        for id in 0..=u8::MAX {
            if is_allowed(version, id) {
                assert!(id < version.message_count(), "{version:?} {id:#x}");
            }
        }
    }
    for (message, version) in [
        (id::NEW_BLOCK, EthVersion::Eth69),
        (id::NEW_BLOCK_HASHES, EthVersion::Eth70),
        (id::BLOCK_RANGE_UPDATE, EthVersion::Eth68),
    ] {
        assert_eq!(
            EthMessage::decode(version, message, &[0xc0]),
            Err(MessageError::NotInVersion {
                id: message,
                version: version as u8
            })
        );
    }
    for unknown in [0x0b, 0x0d, 0x0e, 0x12, 0xff] {
        assert_eq!(
            EthMessage::decode(EthVersion::Eth70, unknown, &[0xc0]),
            Err(MessageError::UnknownId(unknown))
        );
    }
    // A Status in the other version's form is refused both ways.
    let data = EthMessage::Status(status(EthVersion::Eth69))
        .encode(EthVersion::Eth69)
        .unwrap();
    assert!(EthMessage::decode(EthVersion::Eth68, 0, &data).is_err());
    assert!(
        EthMessage::Status(status(EthVersion::Eth68))
            .encode(EthVersion::Eth69)
            .is_err()
    );
    // eth/70's partial receipts cannot be said in the older forms: refused, not cut short.
    let from_inside = EthMessage::GetReceipts(GetReceipts {
        request_id: 1,
        first_block_receipt_index: 5,
        hashes: vec![B256::ZERO],
    });
    let incomplete = EthMessage::Receipts(Receipts {
        request_id: 1,
        last_block_incomplete: true,
        receipts: receipts(),
    });
    for message in [from_inside, incomplete] {
        for version in [EthVersion::Eth68, EthVersion::Eth69] {
            assert_eq!(
                message.encode(version),
                Err(MessageError::NotInVersion {
                    id: message.id(),
                    version: version as u8
                })
            );
        }
        assert!(message.encode(EthVersion::Eth70).is_ok());
    }
}

#[test]
fn eth68_receipts_carry_the_bloom() {
    let message = EthMessage::Receipts(Receipts {
        request_id: 1,
        last_block_incomplete: false,
        receipts: receipts(),
    });
    let eth68 = message.encode(EthVersion::Eth68).unwrap();
    let eth69 = message.encode(EthVersion::Eth69).unwrap();
    // Three receipts, a 256-byte bloom (plus its 3-byte header) each, and the type byte moves
    // from a list element to a string prefix.
    assert!(eth68.len() > eth69.len() + 3 * 256);
    let bloom = receipts()[0].iter().nth(1).unwrap().bloom();
    assert!(eth68.windows(256).any(|w| w == bloom.as_slice()));
    assert_ne!(bloom, alloy_primitives::Bloom::ZERO);
}

#[test]
fn limits() {
    // A request may name more blocks than are served: it is still a valid message.
    let hashes = vec![B256::ZERO; 1025];
    let data = encode_to_vec(&GetBlockBodies {
        request_id: 1,
        hashes: hashes.clone(),
    });
    assert_eq!(
        EthMessage::decode(EthVersion::Eth69, id::GET_BLOCK_BODIES, &data),
        Ok(EthMessage::GetBlockBodies(GetBlockBodies {
            request_id: 1,
            hashes
        }))
    );
    let big = vec![0u8; 10 * 1024 * 1024 + 1];
    assert_eq!(
        EthMessage::decode(EthVersion::Eth69, id::TRANSACTIONS, &big),
        Err(MessageError::TooLarge(big.len()))
    );
    let mismatched = NewPooledTransactionHashes {
        types: Bytes::from_static(&[2, 2]),
        sizes: vec![100],
        hashes: vec![B256::ZERO, B256::ZERO],
    };
    assert_eq!(
        EthMessage::decode(
            EthVersion::Eth68,
            id::NEW_POOLED_TRANSACTION_HASHES,
            &encode_to_vec(&mismatched)
        ),
        Err(MessageError::AnnouncementMismatch {
            types: 2,
            sizes: 1,
            hashes: 2
        })
    );
    // Encoding refuses what decoding does.
    assert_eq!(
        EthMessage::NewPooledTransactionHashes(mismatched).encode(EthVersion::Eth68),
        Err(MessageError::AnnouncementMismatch {
            types: 2,
            sizes: 1,
            hashes: 2
        })
    );
    let backwards = EthMessage::BlockRangeUpdate(BlockRangeUpdate {
        earliest: 2,
        latest: 1,
        latest_hash: B256::repeat_byte(1),
    });
    assert!(matches!(
        backwards.encode(EthVersion::Eth69),
        Err(MessageError::BlockRange(_))
    ));
    // An eth/70 Receipts flagged incomplete must hold a list to be incomplete.
    let empty_incomplete = Receipts {
        request_id: 1,
        last_block_incomplete: true,
        receipts: Vec::new(),
    };
    assert_eq!(
        EthMessage::Receipts(empty_incomplete.clone()).encode(EthVersion::Eth70),
        Err(MessageError::IncompleteWithoutReceipts)
    );
    // `[request-id, last-block-incomplete, []]`, as a peer would send it.
    assert_eq!(
        EthMessage::decode(EthVersion::Eth70, id::RECEIPTS, &[0xc3, 0x01, 0x01, 0xc0]),
        Err(MessageError::IncompleteWithoutReceipts)
    );
    // A size past `u32` (go-ethereum reads sizes as `u32`) fails the message.
    #[derive(devp2p_rlp_codec::RlpEncodable)]
    struct WideSizes {
        types: Bytes,
        sizes: Vec<u64>,
        hashes: Vec<B256>,
    }
    let wide = |size: u64| {
        encode_to_vec(&WideSizes {
            types: Bytes::from_static(&[2]),
            sizes: vec![size],
            hashes: vec![B256::ZERO],
        })
    };
    let decode = |data: &[u8]| {
        EthMessage::decode(EthVersion::Eth68, id::NEW_POOLED_TRANSACTION_HASHES, data)
    };
    assert!(decode(&wide(u64::from(u32::MAX))).is_ok());
    assert!(matches!(decode(&wide(1 << 32)), Err(MessageError::Rlp(_))));
    // Trailing bytes after a message are refused.
    let mut data = encode_to_vec(&BlockRangeUpdate {
        earliest: 1,
        latest: 2,
        latest_hash: B256::ZERO,
    });
    data.push(0x80);
    assert!(matches!(
        EthMessage::decode(EthVersion::Eth69, id::BLOCK_RANGE_UPDATE, &data),
        Err(MessageError::Rlp(_))
    ));
}

/// Each item limit is enforced before the items are decoded: lists of `limit + 1` empty lists,
/// which are not headers, hashes or bodies, are refused for their count, not their contents.
#[test]
fn limits_come_before_decoding() {
    use devp2p_rlp_codec::RlpEncodable;
    // `[id, [[], [], ...]]`, eth/70's `[id, index or flag, [[], ...]]`, and
    // NewPooledTransactionHashes' `[types, sizes, hashes]`: empty lists for items.
    #[derive(RlpEncodable)]
    struct Two(u64, Vec<Vec<u64>>);
    #[derive(RlpEncodable)]
    struct Three(u64, Vec<Vec<u64>>, Vec<Vec<u64>>);
    #[derive(RlpEncodable)]
    struct WithIndex(u64, u64, Vec<Vec<u64>>);
    #[derive(RlpEncodable)]
    struct Two32(u64, Vec<B256>);
    // Items one level down: bodies `[[txs...]]`, and NewBlock's `[[header, [txs...]], td]`.
    #[derive(RlpEncodable)]
    struct Bodies(u64, Vec<Vec<Vec<Vec<u64>>>>);
    #[derive(RlpEncodable)]
    struct BlockShape(Vec<u64>, Vec<Vec<u64>>);
    #[derive(RlpEncodable)]
    struct NewBlockShape(BlockShape, u64);
    let empties = |n: usize| vec![Vec::<u64>::new(); n];
    let request = |n: usize| encode_to_vec(&Two(1, empties(n)));
    // Two blocks' worth, one item over the limit between them.
    let split = |limit: usize| vec![empties(limit / 2), empties(limit / 2 + 1)];
    let cases = [
        (
            EthVersion::Eth68,
            id::TRANSACTIONS,
            encode_to_vec(&empties(1 << 14 | 1)),
            1 << 14,
        ),
        (
            EthVersion::Eth69,
            id::POOLED_TRANSACTIONS,
            request(1 << 14 | 1),
            1 << 14,
        ),
        (
            EthVersion::Eth69,
            id::BLOCK_BODIES,
            encode_to_vec(&Bodies(
                1,
                split(1 << 18).into_iter().map(|txs| vec![txs]).collect(),
            )),
            1 << 18,
        ),
        (
            EthVersion::Eth68,
            id::NEW_BLOCK,
            encode_to_vec(&NewBlockShape(BlockShape(vec![], empties(1 << 18 | 1)), 0)),
            1 << 18,
        ),
        (
            EthVersion::Eth68,
            id::NEW_BLOCK_HASHES,
            encode_to_vec(&empties(4097)),
            4096,
        ),
        (EthVersion::Eth69, id::BLOCK_HEADERS, request(1025), 1024),
        (EthVersion::Eth69, id::BLOCK_BODIES, request(1025), 1024),
        (
            EthVersion::Eth69,
            id::NEW_POOLED_TRANSACTION_HASHES,
            encode_to_vec(&Three(0, empties(4097), empties(0))),
            4096,
        ),
        (
            EthVersion::Eth69,
            id::NEW_POOLED_TRANSACTION_HASHES,
            encode_to_vec(&Three(0, empties(0), empties(4097))),
            4096,
        ),
        (EthVersion::Eth69, id::RECEIPTS, request(1025), 1024),
        (
            EthVersion::Eth70,
            id::RECEIPTS,
            encode_to_vec(&WithIndex(1, 0, empties(1025))),
            1024,
        ),
    ];
    for (version, id, data, limit) in cases {
        assert_eq!(
            EthMessage::decode(version, id, &data),
            Err(MessageError::TooManyItems {
                limit,
                got: limit + 1
            }),
            "{version:?} message {id:#04x}"
        );
    }
    // Requests naming more than is served are valid (only the message size bounds them), as
    // go-ethereum answers them; Erigon asks for every announced transaction at once.
    let hashes = |n: usize| vec![B256::ZERO; n];
    let requests = [
        (
            EthVersion::Eth69,
            id::GET_BLOCK_BODIES,
            encode_to_vec(&Two32(1, hashes(2000))),
        ),
        (
            EthVersion::Eth69,
            id::GET_POOLED_TRANSACTIONS,
            encode_to_vec(&Two32(1, hashes(4096))),
        ),
        (
            EthVersion::Eth69,
            id::GET_RECEIPTS,
            encode_to_vec(&Two32(1, hashes(2000))),
        ),
    ];
    for (version, id, data) in requests {
        assert!(
            EthMessage::decode(version, id, &data).is_ok(),
            "message {id:#04x}"
        );
    }
}

#[test]
fn our_status_announces_no_history_past_its_head() {
    // History kept from the merge block on, the head still below it (a first sync): the
    // range announced ends where it starts, at the head, which peers and our own check take.
    let spec = ChainSpec::mainnet();
    let mut head = devp2p_eth_wire::SealedHeader::seal(Default::default());
    head.header.number = 1_000;
    let local = devp2p_eth_wire::LocalStatus {
        spec: spec.clone(),
        head,
        total_difficulty: U256::ZERO,
        earliest: 15_537_394,
    };
    let ours = local.status(EthVersion::Eth69);
    let Status::Eth69(announced) = &ours else {
        panic!("not an eth/69 Status")
    };
    assert_eq!((announced.earliest, announced.latest), (1_000, 1_000));
    assert_eq!(
        check_status(
            EthVersion::Eth69,
            &ours,
            &ours,
            &spec.fork_filter(),
            1_000,
            0
        ),
        Ok(())
    );
}

#[test]
fn status_check() {
    let spec = ChainSpec::mainnet();
    let filter = spec.fork_filter();
    let (head, time) = (23_000_000, 1_770_000_000);
    for version in EthVersion::ALL {
        let ours = status(version);
        assert_eq!(
            check_status(version, &ours, &ours, &filter, head, time),
            Ok(())
        );
    }
    let ours = status(EthVersion::Eth69);
    let with = |f: &dyn Fn(&mut Status69)| {
        let Status::Eth69(mut s) = ours.clone() else {
            panic!("not an eth/69 Status")
        };
        f(&mut s);
        check_status(
            EthVersion::Eth69,
            &ours,
            &Status::Eth69(s),
            &filter,
            head,
            time,
        )
    };
    assert_eq!(
        with(&|s| s.version = 70),
        Err(StatusError::Version {
            ours: 69,
            theirs: 70
        })
    );
    assert_eq!(
        with(&|s| s.network_id = 11_155_111),
        Err(StatusError::Network {
            ours: 1,
            theirs: 11_155_111
        })
    );
    assert!(matches!(
        with(&|s| s.genesis = B256::ZERO),
        Err(StatusError::Genesis { .. })
    ));
    assert!(matches!(
        with(&|s| s.fork_id = ChainSpec::sepolia().fork_id(1, 1)),
        Err(StatusError::ForkId { .. })
    ));
    assert_eq!(
        with(&|s| {
            s.earliest = 10;
            s.latest = 9
        }),
        Err(StatusError::InvalidRange {
            earliest: 10,
            latest: 9
        })
    );
    assert_eq!(
        with(&|s| s.latest_hash = B256::ZERO),
        Err(StatusError::ZeroLatestHash)
    );
    // A peer still syncing (fork id of an earlier fork, announcing the right next one) is fine.
    assert_eq!(
        with(&|s| s.fork_id = spec.fork_id(15_050_000, 1_681_338_454)),
        Ok(())
    );
}

/// A receipt of any type eth/68 can carry (1 to 0x7f, or 0 for legacy), any status go-ethereum
/// takes (empty, one byte or 32), with up to 3 logs.
fn receipt() -> impl Strategy<Value = Receipt> {
    let log = (
        any::<[u8; 20]>(),
        proptest::collection::vec(any::<[u8; 32]>(), 0..5),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(address, topics, data)| Log {
            address: Address::from(address),
            topics: topics.into_iter().map(B256::from).collect(),
            data: data.into(),
        });
    let status = prop_oneof![
        Just(Vec::new()),
        any::<u8>().prop_map(|b| vec![b]),
        any::<[u8; 32]>().prop_map(Vec::from),
    ];
    (
        0..=0x7fu8,
        status,
        any::<u64>(),
        proptest::collection::vec(log, 0..4),
    )
        .prop_map(|(tx_type, status, cumulative_gas_used, logs)| Receipt {
            tx_type,
            status: status.into(),
            cumulative_gas_used,
            logs,
        })
}

/// A generic RLP item: a string, or a list of items.
#[derive(Debug, Clone)]
enum Item {
    String(Vec<u8>),
    List(Vec<Self>),
}

impl Item {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::String(bytes) => devp2p_rlp_codec::Encodable::encode(&bytes[..], out),
            Self::List(items) => {
                let mut payload = Vec::new();
                items.iter().for_each(|item| item.encode(&mut payload));
                devp2p_rlp_codec::Header::list(payload.len()).encode(out);
                out.extend(payload);
            }
        }
    }
}

/// A string of one of `lengths`, or now and then a short list instead.
fn string_of(lengths: &'static [usize]) -> impl Strategy<Value = Item> {
    let string = prop::sample::select(lengths)
        .prop_flat_map(|len| proptest::collection::vec(any::<u8>(), len))
        .prop_map(Item::String);
    prop_oneof![
        9 => string,
        1 => proptest::collection::vec(any::<u8>(), 0..3)
            .prop_map(|b| Item::List(vec![Item::String(b)])),
    ]
}

/// An eth/69 receipt `[tx-type, status, gas, [[address, [topic, ...], data], ...]]`, encoded,
/// whose fields are mostly but not always of the right kind and length, with now and then a
/// field too many or too few.
fn receipt_like() -> impl Strategy<Value = Vec<u8>> {
    let topics = prop_oneof![
        9 => proptest::collection::vec(string_of(&[32, 32, 32, 31, 33]), 0..3).prop_map(Item::List),
        1 => string_of(&[0, 32]),
    ];
    let log = (
        string_of(&[20, 20, 20, 19, 21]),
        topics,
        string_of(&[0, 1, 5]),
        0..12u8,
    )
        .prop_map(|(address, topics, data, shape)| {
            let mut fields = vec![address, topics, data];
            match shape {
                0 => fields.push(Item::String(vec![])),
                1 => drop(fields.pop()),
                _ => {}
            }
            Item::List(fields)
        });
    let logs = prop_oneof![
        9 => proptest::collection::vec(log, 0..3).prop_map(Item::List),
        1 => string_of(&[0, 3]),
    ];
    (
        string_of(&[0, 1, 1, 2]),
        string_of(&[0, 1, 1, 2, 32, 33]),
        string_of(&[0, 1, 8, 9]),
        logs,
        0..12u8,
    )
        .prop_map(|(tx_type, status, gas, logs, shape)| {
            let mut fields = vec![tx_type, status, gas, logs];
            match shape {
                0 => fields.push(Item::String(vec![])),
                1 => drop(fields.pop()),
                _ => {}
            }
            let mut out = Vec::new();
            Item::List(fields).encode(&mut out);
            out
        })
}

proptest! {
    #[test]
    fn headers_query_round_trips(id in any::<u64>(), by_hash in any::<bool>(), n in any::<u64>(), limit in any::<u64>(), skip in any::<u64>(), reverse in any::<bool>()) {
        let start = if by_hash { BlockId::Hash(B256::from(U256::from(n))) } else { BlockId::Number(n) };
        let message = EthMessage::GetBlockHeaders(GetBlockHeaders { request_id: id, query: HeadersQuery { start, limit, skip, reverse } });
        for version in EthVersion::ALL {
            let data = message.encode(version).unwrap();
            prop_assert_eq!(&EthMessage::decode(version, id::GET_BLOCK_HEADERS, &data).unwrap(), &message);
            prop_assert_eq!(EthMessage::decode(version, id::GET_BLOCK_HEADERS, &data).unwrap().request_id(), Some(id));
        }
    }

    #[test]
    fn block_range_and_status_round_trip(earliest in any::<u64>(), latest in any::<u64>(), hash in any::<[u8; 32]>(), network in any::<u64>(), next in any::<u64>(), fork in any::<[u8; 4]>()) {
        // A valid range (decoding checks it); Status is checked apart, by check_status.
        let mut nonzero = hash;
        nonzero[0] |= 1;
        let range = BlockRangeUpdate { earliest: earliest.min(latest), latest: earliest.max(latest), latest_hash: B256::from(nonzero) };
        let update = EthMessage::BlockRangeUpdate(range);
        let data = update.encode(EthVersion::Eth70).unwrap();
        prop_assert_eq!(EthMessage::decode(EthVersion::Eth70, id::BLOCK_RANGE_UPDATE, &data).unwrap(), update);
        let status = EthMessage::Status(Status::Eth69(Status69 {
            version: 69, network_id: network, genesis: B256::from(hash),
            fork_id: devp2p_eth_wire::ForkId { hash: fork, next }, earliest, latest, latest_hash: B256::from(hash),
        }));
        let data = status.encode(EthVersion::Eth69).unwrap();
        prop_assert_eq!(EthMessage::decode(EthVersion::Eth69, id::STATUS, &data).unwrap(), status);
    }

    #[test]
    fn receipts_round_trip_in_every_version(blocks in proptest::collection::vec(proptest::collection::vec(receipt(), 0..4), 0..4)) {
        let lists: Vec<ReceiptList> = blocks.iter().map(|b| b.iter().cloned().collect()).collect();
        for (list, block) in lists.iter().zip(&blocks) {
            prop_assert_eq!(list.len(), block.len());
            prop_assert_eq!(&list.iter().collect::<Vec<_>>(), block);
        }
        let message = EthMessage::Receipts(Receipts { request_id: 7, last_block_incomplete: false, receipts: lists });
        for version in EthVersion::ALL {
            let data = message.encode(version).unwrap();
            prop_assert_eq!(&EthMessage::decode(version, id::RECEIPTS, &data).unwrap(), &message);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(id in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..300)) {
        for version in EthVersion::ALL {
            if let Ok(message) = EthMessage::decode(version, id, &data) {
                prop_assert_eq!(message.id(), id);
            }
        }
    }
}

proptest! {
    // Most generated receipts are malformed somewhere; enough cases to reach the rare ones
    // that are malformed in one place only.
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn receipts_are_checked_on_arrival_as_they_decode(receipt in receipt_like()) {
        // A receipt-shaped item, its fields of the right kinds and lengths or not: a Receipts
        // message holding it decodes exactly when `Receipt` decodes it and go-ethereum's rules
        // hold (a type up to 0x7f; a status of 0, 1 or 32 bytes), and then `iter` yields it.
        let expected = decode_exact::<Receipt>(&receipt)
            .ok()
            .filter(|r| r.tx_type <= 0x7f && matches!(r.status.len(), 0 | 1 | 32));
        let list = |payload: Vec<u8>| {
            let mut out = Vec::new();
            devp2p_rlp_codec::Header::list(payload.len()).encode(&mut out);
            [out, payload].concat()
        };
        let data = list([vec![0x01], list(list(receipt))].concat());
        let decoded = match EthMessage::decode(EthVersion::Eth69, id::RECEIPTS, &data) {
            Ok(EthMessage::Receipts(m)) => Some(m.receipts[0].iter().collect::<Vec<_>>()),
            _ => None,
        };
        prop_assert_eq!(decoded, expected.map(|r| vec![r]));
    }
}

/// EIP-4844: blob transactions are never broadcast in Transactions, and PooledTransactions
/// carries them in their network form, with the sidecar.
#[test]
fn blob_transactions_only_where_eip_4844_allows_them() {
    let txs: Vec<_> = blocks(40)
        .into_iter()
        .flat_map(|b| b.transactions)
        .collect();
    let blob = txs.iter().position(|t| t.tx_type() == 3).unwrap();
    let plain = txs.iter().position(|t| t.tx_type() == 2).unwrap();
    let pair = vec![txs[plain].clone(), txs[blob].clone()];
    for version in EthVersion::ALL {
        let data = EthMessage::Transactions(pair.clone())
            .encode(version)
            .unwrap();
        assert_eq!(
            EthMessage::decode(version, id::TRANSACTIONS, &data),
            Err(MessageError::MisplacedBlobTransaction(1))
        );
        let pooled = EthMessage::PooledTransactions(PooledTransactions {
            request_id: 1,
            transactions: pair.clone(),
        });
        let data = pooled.encode(version).unwrap();
        assert_eq!(
            EthMessage::decode(version, id::POOLED_TRANSACTIONS, &data),
            Err(MessageError::MisplacedBlobTransaction(1))
        );
    }
    // The same transaction in its network form (Cancun: [tx, blobs, commitments, proofs]),
    // naming the versioned hashes of commitments of our own.
    let Ok(devp2p_eth_wire::Transaction::Eip4844(mut tx, None)) = txs[blob].decode() else {
        panic!("not a blob transaction");
    };
    let blobs = tx.blob_versioned_hashes.len();
    let commitments: Vec<_> = (1..=blobs as u8)
        .map(alloy_primitives::FixedBytes::<48>::repeat_byte)
        .collect();
    tx.blob_versioned_hashes = commitments
        .iter()
        .map(|commitment| {
            use sha2::Digest;
            let mut hash: [u8; 32] = sha2::Sha256::digest(commitment).into();
            hash[0] = 0x01;
            B256::from(hash)
        })
        .collect();
    let fields = encode_to_vec(&tx);
    let network_form = |commitments: &[alloy_primitives::FixedBytes<48>]| {
        let sidecar = [
            encode_to_vec(&vec![Bytes::from(vec![0u8; 131_072]); blobs]),
            encode_to_vec(&commitments.to_vec()),
            encode_to_vec(&vec![alloy_primitives::FixedBytes::<48>::ZERO; blobs]),
        ]
        .concat();
        let mut wrapper = Vec::new();
        devp2p_rlp_codec::Header::list(fields.len() + sidecar.len()).encode(&mut wrapper);
        wrapper.extend(&fields);
        wrapper.extend(sidecar);
        TransactionEnvelope::from_encoded([&[3u8][..], &wrapper].concat().into())
    };
    // A commitment whose versioned hash the transaction does not name is refused (as
    // go-ethereum drops the peer).
    let mut wrong = commitments.clone();
    wrong[0] = alloy_primitives::FixedBytes::ZERO;
    assert!(network_form(&wrong).is_err());
    let network = network_form(&commitments).unwrap();
    assert!(network.has_sidecar());
    let pooled = EthMessage::PooledTransactions(PooledTransactions {
        request_id: 1,
        transactions: vec![txs[plain].clone(), network.clone()],
    });
    let data = pooled.encode(EthVersion::Eth69).unwrap();
    assert_eq!(
        EthMessage::decode(EthVersion::Eth69, id::POOLED_TRANSACTIONS, &data),
        Ok(pooled)
    );
    // Blocks hold the canonical form: with its sidecar, the transaction is refused there, and
    // counted over all the bodies of a BlockBodies.
    let body = |transactions| devp2p_eth_wire::BlockBody {
        transactions,
        ommers: vec![],
        withdrawals: Some(vec![]),
    };
    let bodies = |last: &TransactionEnvelope| {
        EthMessage::BlockBodies(BlockBodies {
            request_id: 1,
            bodies: vec![
                body(vec![txs[plain].clone()]),
                body(vec![txs[plain].clone(), last.clone()]),
            ],
        })
        .encode(EthVersion::Eth69)
        .unwrap()
    };
    assert!(EthMessage::decode(EthVersion::Eth69, id::BLOCK_BODIES, &bodies(&txs[blob])).is_ok());
    assert_eq!(
        EthMessage::decode(EthVersion::Eth69, id::BLOCK_BODIES, &bodies(&network)),
        Err(MessageError::MisplacedBlobTransaction(2))
    );
    let mut block = blocks(40)[0].clone();
    block.transactions = vec![network];
    let new_block = EthMessage::NewBlock(Box::new(NewBlock {
        block,
        total_difficulty: U256::from(1),
    }))
    .encode(EthVersion::Eth68)
    .unwrap();
    assert_eq!(
        EthMessage::decode(EthVersion::Eth68, id::NEW_BLOCK, &new_block),
        Err(MessageError::MisplacedBlobTransaction(0))
    );
}

/// BlockRangeUpdate gets the range checks of an eth/69 Status.
#[test]
fn block_range_update_is_checked() {
    let update = |earliest, latest, hash| {
        let data = encode_to_vec(&BlockRangeUpdate {
            earliest,
            latest,
            latest_hash: hash,
        });
        EthMessage::decode(EthVersion::Eth69, id::BLOCK_RANGE_UPDATE, &data)
    };
    let hash = B256::repeat_byte(9);
    assert!(update(5, 5, hash).is_ok());
    assert_eq!(
        update(6, 5, hash),
        Err(MessageError::BlockRange(StatusError::InvalidRange {
            earliest: 6,
            latest: 5
        }))
    );
    assert_eq!(
        update(0, 5, B256::ZERO),
        Err(MessageError::BlockRange(StatusError::ZeroLatestHash))
    );
}
