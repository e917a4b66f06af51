//! The genesis block of a go-ethereum `genesis.json`: its header, with the state root computed
//! as the Merkle-Patricia root of the allocation (`alloy-trie`), and its hash.

use alloy_primitives::{Address, B64, B256, Bloom, Bytes, U256, hex, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, TrieAccount, root::state_root_unhashed};
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::{ChainSpec, GenesisError, Header, SealedHeader, chainspec::quantity};

/// go-ethereum's base fee for a London genesis without `baseFeePerGas` (`InitialBaseFee`).
const INITIAL_BASE_FEE: u64 = 1_000_000_000;
/// go-ethereum's gas limit for a genesis whose `gasLimit` is 0 or absent (`GenesisGasLimit`).
const GENESIS_GAS_LIMIT: u64 = 4_712_388;
/// go-ethereum's difficulty for an ethash genesis without `difficulty` or `mixHash`
/// (`GenesisDifficulty`).
const GENESIS_DIFFICULTY: u64 = 131_072;

/// A chain's genesis: its header (and hash) and its chain spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    /// The genesis header, sealed.
    pub header: SealedHeader,
    /// The chain: id, genesis hash and time, fork schedule.
    pub spec: ChainSpec,
}

fn field<'a>(genesis: &'a Value, name: &'static str) -> Option<&'a Value> {
    genesis.get(name).filter(|v| !v.is_null())
}

/// A number field, `default` when absent; malformed is an error.
fn number(genesis: &Value, name: &'static str, default: u64) -> Result<u64, GenesisError> {
    field(genesis, name).map_or(Ok(default), |v| {
        quantity(v).ok_or(GenesisError::Field(name))
    })
}

fn hex_bytes(value: &Value, name: &'static str) -> Result<Vec<u8>, GenesisError> {
    let text = value.as_str().ok_or(GenesisError::Field(name))?;
    hex::decode(text.strip_prefix("0x").unwrap_or(text)).map_err(|_| GenesisError::Field(name))
}

fn word(genesis: &Value, name: &'static str) -> Result<B256, GenesisError> {
    field(genesis, name).map_or(Ok(B256::ZERO), |value| word_of(value, name))
}

/// A hex value of at most 32 bytes, left-padded to 32.
fn word_of(value: &Value, name: &'static str) -> Result<B256, GenesisError> {
    let bytes = hex_bytes(value, name)?;
    (bytes.len() <= 32)
        .then(|| B256::left_padding_from(&bytes))
        .ok_or(GenesisError::Field(name))
}

fn big(value: &Value, name: &'static str) -> Result<U256, GenesisError> {
    match value {
        Value::Number(n) => n.as_u64().map(U256::from).ok_or(GenesisError::Field(name)),
        Value::String(s) => match s.strip_prefix("0x") {
            Some("") => Ok(U256::ZERO),
            Some(hex) => U256::from_str_radix(hex, 16).map_err(|_| GenesisError::Field(name)),
            None => U256::from_str_radix(s, 10).map_err(|_| GenesisError::Field(name)),
        },
        _ => Err(GenesisError::Field(name)),
    }
}

/// Whether the time fork `key` of `config` is active at `timestamp`.
fn time_fork_active(config: &Map<String, Value>, key: &str, timestamp: u64) -> bool {
    config
        .get(key)
        .and_then(Value::as_u64)
        .is_some_and(|t| t <= timestamp)
}

/// The allocation's accounts as the state trie stores them.
fn accounts(alloc: &Map<String, Value>) -> Result<Vec<(Address, TrieAccount)>, GenesisError> {
    let mut seen = BTreeSet::new();
    alloc
        .iter()
        .map(|(address, account)| {
            let address: Address = address.parse().map_err(|_| GenesisError::Field("alloc"))?;
            if !seen.insert(address) {
                return Err(GenesisError::Duplicate("alloc"));
            }
            let balance = account
                .get("balance")
                .map_or(Ok(U256::ZERO), |b| big(b, "alloc.balance"))?;
            let nonce = account
                .get("nonce")
                .map_or(Some(0), quantity)
                .ok_or(GenesisError::Field("alloc.nonce"))?;
            let code_hash = match account.get("code") {
                Some(code) => {
                    let code = hex_bytes(code, "alloc.code")?;
                    if code.is_empty() {
                        KECCAK_EMPTY
                    } else {
                        keccak256(code)
                    }
                }
                None => KECCAK_EMPTY,
            };
            let mut storage = BTreeMap::new();
            if let Some(slots) = account.get("storage").and_then(Value::as_object) {
                for (slot, value) in slots {
                    // Keys and values are hex, `0x` or not, left-padded to 32 bytes (as
                    // go-ethereum's storageJSON reads them).
                    let slot = word_of(&Value::String(slot.clone()), "alloc.storage")?;
                    let value = U256::from_be_bytes(word_of(value, "alloc.storage")?.0);
                    if storage.insert(slot, value).is_some() {
                        return Err(GenesisError::Duplicate("alloc.storage"));
                    }
                }
            }
            // A zero value is no entry at all.
            storage.retain(|_, value| !value.is_zero());
            let storage_root = if storage.is_empty() {
                EMPTY_ROOT_HASH
            } else {
                alloy_trie::root::storage_root_unhashed(storage)
            };
            Ok((
                address,
                TrieAccount::new(nonce, balance, storage_root, code_hash),
            ))
        })
        .collect()
}

impl Genesis {
    /// Builds the genesis block of a go-ethereum `genesis.json`: the header fields it gives, the
    /// state root of its `alloc`, and the fields of the forks active at genesis (base fee from
    /// London, withdrawals root from Shanghai, blob gas and beacon root from Cancun, requests
    /// hash from Prague).
    pub fn from_geth_json(json: &str) -> Result<Self, GenesisError> {
        let genesis: Value =
            serde_json::from_str(json).map_err(|e| GenesisError::Json(e.to_string()))?;
        let config = genesis
            .get("config")
            .and_then(Value::as_object)
            .ok_or(GenesisError::Field("config"))?;
        let timestamp = number(&genesis, "timestamp", 0)?;
        let alloc = match genesis.get("alloc") {
            None => Map::new(),
            Some(alloc) => alloc
                .as_object()
                .cloned()
                .ok_or(GenesisError::Field("alloc"))?,
        };
        // As go-ethereum's toBlockWithRoot: the time forks count only on top of London, active
        // at the genesis block's number; the base fee defaults to 1 gwei only with London at
        // block 0, and one given is kept whatever the forks (as is a given excess blob gas).
        let block_number = number(&genesis, "number", 0)?;
        let london_block = config.get("londonBlock").and_then(Value::as_u64);
        let london = london_block.is_some_and(|block| block <= block_number);
        let base_fee = london_block == Some(0) || field(&genesis, "baseFeePerGas").is_some();
        let shanghai = london && time_fork_active(config, "shanghaiTime", timestamp);
        let cancun = london && time_fork_active(config, "cancunTime", timestamp);
        let prague = london && time_fork_active(config, "pragueTime", timestamp);
        let amsterdam = london && time_fork_active(config, "amsterdamTime", timestamp);
        let mix_hash = word(&genesis, "mixHash")?;
        let beneficiary = match field(&genesis, "coinbase") {
            None => Address::ZERO,
            Some(value) => Address::try_from(hex_bytes(value, "coinbase")?.as_slice())
                .map_err(|_| GenesisError::Field("coinbase"))?,
        };
        let header = Header {
            parent_hash: word(&genesis, "parentHash")?,
            ommers_hash: keccak256([0xc0]),
            beneficiary,
            state_root: state_root_unhashed(accounts(&alloc)?),
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: Bloom::ZERO,
            difficulty: match field(&genesis, "difficulty") {
                Some(difficulty) => big(difficulty, "difficulty")?,
                None if config.get("ethash").is_some_and(|e| !e.is_null())
                    && mix_hash.is_zero() =>
                {
                    U256::from(GENESIS_DIFFICULTY)
                }
                None => U256::ZERO,
            },
            number: block_number,
            gas_limit: match number(&genesis, "gasLimit", 0)? {
                0 => GENESIS_GAS_LIMIT,
                limit => limit,
            },
            gas_used: number(&genesis, "gasUsed", 0)?,
            timestamp,
            extra_data: match field(&genesis, "extraData") {
                None => Bytes::new(),
                Some(value) => hex_bytes(value, "extraData")?.into(),
            },
            mix_hash,
            nonce: B64::from(number(&genesis, "nonce", 0)?),
            base_fee_per_gas: base_fee
                .then(|| number(&genesis, "baseFeePerGas", INITIAL_BASE_FEE))
                .transpose()?,
            withdrawals_root: shanghai.then_some(EMPTY_ROOT_HASH),
            blob_gas_used: cancun
                .then(|| number(&genesis, "blobGasUsed", 0))
                .transpose()?,
            excess_blob_gas: (cancun || field(&genesis, "excessBlobGas").is_some())
                .then(|| number(&genesis, "excessBlobGas", 0))
                .transpose()?,
            parent_beacon_block_root: cancun.then_some(B256::ZERO),
            // EIP-7685 with no requests: sha256 of nothing.
            requests_hash: prague.then_some(alloy_primitives::b256!(
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            )),
            // EIP-7928: the empty access list's hash, keccak256 of the empty RLP list.
            block_access_list_hash: amsterdam.then(|| keccak256([0xc0])),
            slot_number: amsterdam
                .then(|| number(&genesis, "slotNumber", 0))
                .transpose()?,
        };
        let header = SealedHeader::seal(header);
        let spec = ChainSpec::from_geth_genesis(json, header.hash)?;
        Ok(Self { header, spec })
    }
}
