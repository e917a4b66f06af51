//! EIP-2124 against every vector in `testdata/forkid/`, and the ethtest chain's fork id from its
//! genesis.json.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use alloy_primitives::B256;
use devp2p_eth_wire::{ChainSpec, ForkId, ForkIdError, ForkSchedule};
use devp2p_rlp_codec::{decode_exact, encode_to_vec};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn hash4(v: &Value) -> [u8; 4] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn b256(v: &Value) -> B256 {
    v.as_str().unwrap().parse().unwrap()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_u64().unwrap()).collect())
        .unwrap_or_default()
}

fn expect(v: &Value) -> Result<(), ForkIdError> {
    match v.as_str().unwrap() {
        "accept" => Ok(()),
        "reject_remote_stale" => Err(ForkIdError::RemoteStale),
        "reject_local_incompatible_or_stale" => Err(ForkIdError::LocalIncompatibleOrStale),
        other => panic!("unknown expectation {other}"),
    }
}

#[test]
fn built_in_schedules_match_go_ethereum() {
    let schedules = load("forkid/schedules.json");
    for (name, network) in schedules["networks"].as_object().unwrap() {
        let spec = ChainSpec::by_name(name).unwrap();
        assert_eq!(
            spec.chain_id,
            network["chain_id"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            spec.schedule.genesis_hash,
            b256(&network["genesis_hash"]),
            "{name}"
        );
        assert_eq!(
            spec.schedule.genesis_time,
            network["genesis_timestamp"].as_u64().unwrap()
        );
        // The hash after each fork: at the fork's own block or time, that hash is current.
        let block_forks = u64s(&network["forkid_block_forks"]);
        let sequence = network["derived"]["fork_hash_sequence"].as_array().unwrap();
        assert!(sequence.len() > 1, "{name}");
        for step in sequence {
            let hash = hash4(&step["fork_hash"]);
            let id = match step["after"].as_u64() {
                None => spec.fork_id(0, 0),
                Some(block) if block_forks.contains(&block) => spec.fork_id(block, 0),
                Some(time) => spec.fork_id(u64::MAX, time),
            };
            assert_eq!(id.hash, hash, "{name} after {}", step["after"]);
        }
    }
}

#[test]
fn creation_geth() {
    let cases = load("forkid/creation_geth.json");
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 78);
    for case in cases {
        let spec = ChainSpec::by_name(case["network"].as_str().unwrap()).unwrap();
        let id = spec.fork_id(
            case["head_block"].as_u64().unwrap(),
            case["head_time"].as_u64().unwrap(),
        );
        let expected = ForkId {
            hash: hash4(&case["fork_hash"]),
            next: case["fork_next"].as_u64().unwrap(),
        };
        assert_eq!(id, expected, "{case}");
    }
}

#[test]
fn validation_geth() {
    let file = load("forkid/validation_geth.json");
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 45);
    for case in cases {
        let config = &file["local_configs"][case["local_config"].as_str().unwrap()];
        let schedule = ForkSchedule {
            genesis_hash: b256(&config["genesis_hash"]),
            genesis_time: 0,
            block_forks: u64s(&config["block_forks"]),
            time_forks: u64s(&config["time_forks"]),
        };
        let remote = ForkId {
            hash: hash4(&case["remote_fork_hash"]),
            next: case["remote_fork_next"].as_u64().unwrap(),
        };
        let got = schedule.filter().validate(
            remote,
            case["head_block"].as_u64().unwrap(),
            case["head_time"].as_u64().unwrap(),
        );
        assert_eq!(got, expect(&case["expect"]), "{case}");
    }
}

/// Time forks at or before the genesis time are the genesis rules, not forks (go-ethereum's
/// `TestTimeBasedForkInGenesis`, with its genesis time).
#[test]
fn time_forks_up_to_the_genesis_time_are_skipped() {
    let time = 1_690_475_657;
    let schedule = |time_forks: Vec<u64>| ForkSchedule {
        genesis_hash: B256::repeat_byte(0x42),
        genesis_time: time,
        block_forks: Vec::new(),
        time_forks,
    };
    let genesis_only = schedule(Vec::new()).fork_id(0, time).hash;
    for forks in [
        vec![time - 1, time + 1],
        vec![time, time + 1],
        vec![time + 1, time + 2],
    ] {
        let id = schedule(forks.clone()).fork_id(0, time);
        assert_eq!(
            id,
            ForkId {
                hash: genesis_only,
                next: time + 1
            },
            "{forks:?}"
        );
    }
}

#[test]
fn eip2124_tables() {
    let file = load("forkid/eip2124.json");
    let mut count = 0;
    for case in file["creation"].as_array().unwrap() {
        let network = &file["networks"][case["network"].as_str().unwrap()];
        let schedule = ForkSchedule {
            genesis_hash: b256(&network["genesis_hash"]),
            genesis_time: 0,
            block_forks: u64s(&network["block_forks"]),
            time_forks: Vec::new(),
        };
        let id = schedule.fork_id(case["head_block"].as_u64().unwrap(), 0);
        assert_eq!(id.hash, hash4(&case["fork_hash"]), "{case}");
        assert_eq!(id.next, case["fork_next"].as_u64().unwrap(), "{case}");
        count += 1;
    }
    assert_eq!(count, 43);
    let validation = &file["validation"];
    let config = &validation["local_config"];
    let schedule = ForkSchedule {
        genesis_hash: b256(&config["genesis_hash"]),
        genesis_time: 0,
        block_forks: u64s(&config["block_forks"]),
        time_forks: u64s(&config["time_forks"]),
    };
    let cases = validation["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 15);
    for case in cases {
        let remote = ForkId {
            hash: hash4(&case["remote_fork_hash"]),
            next: case["remote_fork_next"].as_u64().unwrap(),
        };
        let got = schedule
            .filter()
            .validate(remote, case["head_block"].as_u64().unwrap(), 0);
        assert_eq!(got, expect(&case["expect"]), "{case}");
    }
}

#[test]
fn encoding() {
    let file = load("forkid/encoding.json");
    for case in file["cases"].as_array().unwrap() {
        let id = ForkId {
            hash: hash4(&case["fork_hash"]),
            next: case["fork_next"].as_u64().unwrap(),
        };
        let rlp = hex::decode(case["rlp"].as_str().unwrap()).unwrap();
        assert_eq!(encode_to_vec(&id), rlp);
        assert_eq!(decode_exact::<ForkId>(&rlp).unwrap(), id);
    }
}

#[test]
fn ethtest_chain_fork_id() {
    let dir = format!("{}/../../testdata/ethtest", env!("CARGO_MANIFEST_DIR"));
    let genesis = std::fs::read_to_string(format!("{dir}/genesis.json")).unwrap();
    // Block 1's parent hash is the genesis hash.
    let chain = std::fs::read(format!("{dir}/chain.rlp")).unwrap();
    let mut block = devp2p_rlp_codec::Rlp::new(&chain).list().unwrap();
    let mut header = block.list().unwrap();
    let genesis_hash = B256::from(*header.array::<32>().unwrap());
    let spec = ChainSpec::from_geth_genesis(&genesis, genesis_hash).unwrap();
    assert_eq!(spec.chain_id, 3_503_995_874_084_926);
    // Shanghai at time 0 belongs to genesis; Cancun at 60 and Prague at 120 are the forks.
    assert_eq!(spec.schedule.genesis_time, 0);
    let head = load("ethtest/headblock.json");
    let time = u64::from_str_radix(
        head["timestamp"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let id = spec.fork_id(600, time);
    assert_eq!(
        id,
        ForkId {
            hash: [0x37, 0x7a, 0xaa, 0x78],
            next: 0
        }
    );
    // Before Prague, the next fork is Prague's time.
    assert_eq!(spec.fork_id(1, 100).next, 120);
    assert!(spec.fork_filter().validate(id, 600, time).is_ok());
}

#[test]
fn genesis_errors() {
    let hash = B256::ZERO;
    assert!(matches!(
        ChainSpec::from_geth_genesis("{", hash),
        Err(devp2p_eth_wire::GenesisError::Json(_))
    ));
    assert!(ChainSpec::from_geth_genesis("{}", hash).is_err());
    assert!(ChainSpec::from_geth_genesis(r#"{"config":{}}"#, hash).is_err());
    let bad_fork = r#"{"config":{"chainId":1,"londonBlock":"soon"}}"#;
    assert_eq!(
        ChainSpec::from_geth_genesis(bad_fork, hash),
        Err(devp2p_eth_wire::GenesisError::Fork("londonBlock".into()))
    );
    let ok = r#"{"config":{"chainId":7,"londonBlock":5,"cancunTime":null,"daoForkSupport":true},"timestamp":"0x10"}"#;
    let spec = ChainSpec::from_geth_genesis(ok, hash).unwrap();
    assert_eq!((spec.chain_id, spec.schedule.genesis_time), (7, 16));
    assert_eq!(spec.schedule.block_forks, [5]);
    // Only go-ethereum's fork keys are forks: others named like them are ignored, as
    // go-ethereum ignores keys it does not know (`verkleTime` was one of its forks once).
    let other = r#"{"config":{"chainId":7,"londonBlock":5,"verkleTime":9,"someBlock":"x","shanghaiTime":8,"bpo1Time":10}}"#;
    let spec = ChainSpec::from_geth_genesis(other, hash).unwrap();
    assert_eq!(spec.schedule.block_forks, [5]);
    assert_eq!(spec.schedule.time_forks, [8, 10]);
}

#[test]
fn ethtest_genesis_header_from_genesis_json() {
    let dir = format!("{}/../../testdata/ethtest", env!("CARGO_MANIFEST_DIR"));
    let json = std::fs::read_to_string(format!("{dir}/genesis.json")).unwrap();
    let genesis = devp2p_eth_wire::Genesis::from_geth_json(&json).unwrap();
    // Block 1's parent hash is the genesis hash: the header, state root included, is exact.
    let chain = std::fs::read(format!("{dir}/chain.rlp")).unwrap();
    let mut block = devp2p_rlp_codec::Rlp::new(&chain).list().unwrap();
    let mut header = block.list().unwrap();
    let parent = B256::from(*header.array::<32>().unwrap());
    assert_eq!(genesis.header.hash, parent);
    assert_eq!(genesis.header.header.number, 0);
    assert_eq!(genesis.spec.schedule.genesis_hash, parent);
    assert_eq!(
        genesis.spec.fork_id(600, 6000).hash,
        [0x37, 0x7a, 0xaa, 0x78]
    );
}

#[test]
fn genesis_with_bad_alloc_is_an_error() {
    let with_slot = |slot: &str| {
        format!(
            r#"{{"config":{{"chainId":1}},"alloc":{{"0x0000000000000000000000000000000000000001":{{"balance":"0x1","storage":{{"{slot}":"0x01"}}}}}}}}"#
        )
    };
    assert!(devp2p_eth_wire::Genesis::from_geth_json(&with_slot("0x01")).is_ok());
    // A 33-byte storage key, and one that is not hex.
    let long = format!("0x{}", "11".repeat(33));
    assert_eq!(
        devp2p_eth_wire::Genesis::from_geth_json(&with_slot(&long)).unwrap_err(),
        devp2p_eth_wire::GenesisError::Field("alloc.storage")
    );
    assert!(devp2p_eth_wire::Genesis::from_geth_json(&with_slot("0xzz")).is_err());
    // One address, or one slot, in two spellings: refused, not a panic in the trie builder.
    let one = "0000000000000000000000000000000000000001";
    let twice = format!(
        r#"{{"config":{{"chainId":1}},"alloc":{{"0x{one}":{{"balance":"0x1"}},"{one}":{{"balance":"0x2"}}}}}}"#
    );
    assert_eq!(
        devp2p_eth_wire::Genesis::from_geth_json(&twice).unwrap_err(),
        devp2p_eth_wire::GenesisError::Duplicate("alloc")
    );
    let slots = |storage: &str| {
        format!(
            r#"{{"config":{{"chainId":1}},"alloc":{{"0x{one}":{{"balance":"0x1","storage":{{{storage}}}}}}}}}"#
        )
    };
    let root = |storage: &str| {
        devp2p_eth_wire::Genesis::from_geth_json(&slots(storage))
            .map(|g| g.header.header.state_root)
    };
    assert_eq!(
        root(r#""0x01":"0x01","0x0001":"0x02""#).unwrap_err(),
        devp2p_eth_wire::GenesisError::Duplicate("alloc.storage")
    );
    // Storage values are hex with or without 0x, as go-ethereum reads them: "10" is 16.
    assert_eq!(root(r#""0x01":"10""#), root(r#""0x01":"0x10""#));
    assert_ne!(root(r#""0x01":"10""#), root(r#""0x01":"0x0a""#));
    // A zero value is no entry.
    assert_eq!(root(r#""0x01":"0x00""#), root(""));
}

/// The header defaults of go-ethereum's `toBlockWithRoot`: gas limit 4712388 for none or 0,
/// difficulty 131072 for an ethash genesis without one, a base fee by default only with London
/// at block 0, time forks only on top of London, and a malformed optional field is an error
/// rather than its default.
#[test]
fn genesis_header_defaults_follow_go_ethereum() {
    let header = |config: &str, fields: &str| {
        devp2p_eth_wire::Genesis::from_geth_json(&format!(
            r#"{{"config":{{"chainId":1{config}}}{fields}}}"#
        ))
        .map(|genesis| genesis.header.header)
    };
    let plain = header("", "").unwrap();
    assert_eq!(plain.gas_limit, 4_712_388);
    assert_eq!(
        header("", r#","gasLimit":"0x0""#).unwrap().gas_limit,
        4_712_388
    );
    assert_eq!(header("", r#","gasLimit":"0x10""#).unwrap().gas_limit, 16);
    assert_eq!(plain.difficulty, alloy_primitives::U256::ZERO);
    let ethash = header(r#","ethash":{}"#, "").unwrap();
    assert_eq!(ethash.difficulty, alloy_primitives::U256::from(131_072));
    let mixed = header(
        r#","ethash":{}"#,
        r#","mixHash":"0x0000000000000000000000000000000000000000000000000000000000000001""#,
    )
    .unwrap();
    assert_eq!(mixed.difficulty, alloy_primitives::U256::ZERO);
    let null = header(r#","ethash":null"#, "").unwrap();
    assert_eq!(null.difficulty, alloy_primitives::U256::ZERO);
    // The base fee defaults to 1 gwei only with London at block 0 (go-ethereum's
    // IsLondon(0)), even for a genesis numbered past London; one given is always kept.
    let later = header(r#","londonBlock":3"#, r#","number":"0x5""#).unwrap();
    assert_eq!(later.base_fee_per_gas, None);
    let given = header(r#","londonBlock":6"#, r#","baseFeePerGas":"0x7""#).unwrap();
    assert_eq!(given.base_fee_per_gas, Some(7));
    assert_eq!(
        header(r#","londonBlock":0"#, "").unwrap().base_fee_per_gas,
        Some(1_000_000_000)
    );
    // London at the genesis number is what the time forks stand on.
    let shanghai = header(r#","londonBlock":3,"shanghaiTime":0"#, r#","number":"0x5""#).unwrap();
    assert!(shanghai.withdrawals_root.is_some());
    // An excess blob gas before Cancun is kept (go-ethereum allows it for testing).
    let early = header("", r#","excessBlobGas":"0x2""#).unwrap();
    assert_eq!(
        (early.excess_blob_gas, early.blob_gas_used),
        (Some(2), None)
    );
    // Shanghai and Cancun at genesis, but no London: neither counts.
    let no_london = header(r#","shanghaiTime":0,"cancunTime":0"#, "").unwrap();
    assert_eq!(no_london.withdrawals_root, None);
    assert_eq!(no_london.excess_blob_gas, None);
    let london = r#","londonBlock":0,"shanghaiTime":0,"cancunTime":0"#;
    let with_london = header(london, "").unwrap();
    assert!(with_london.withdrawals_root.is_some());
    assert_eq!(with_london.excess_blob_gas, Some(0));
    assert_eq!(with_london.base_fee_per_gas, Some(1_000_000_000));
    for field in ["baseFeePerGas", "blobGasUsed", "excessBlobGas"] {
        assert_eq!(
            header(london, &format!(r#","{field}":"zz""#)).unwrap_err(),
            devp2p_eth_wire::GenesisError::Field(field)
        );
    }
    // Amsterdam at genesis: the empty block access list's hash, and the slot number given or 0
    // (go-ethereum's toBlockWithRoot); before it, neither field.
    assert_eq!(
        (with_london.block_access_list_hash, with_london.slot_number),
        (None, None)
    );
    let amsterdam = r#","londonBlock":0,"pragueTime":0,"amsterdamTime":0"#;
    let at_amsterdam = header(amsterdam, "").unwrap();
    assert_eq!(
        at_amsterdam.block_access_list_hash,
        Some(alloy_primitives::b256!(
            "1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
        ))
    );
    assert_eq!(at_amsterdam.slot_number, Some(0));
    let slot = header(amsterdam, r#","slotNumber":"0x9""#).unwrap();
    assert_eq!(slot.slot_number, Some(9));
}
