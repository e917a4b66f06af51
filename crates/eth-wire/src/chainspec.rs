//! The chains a node can be on: network id, genesis and fork schedule. Mainnet, Sepolia, Holesky
//! and Hoodi are built in (from go-ethereum's `params/config.go`); any other chain is read from a
//! go-ethereum `genesis.json`.

use alloy_primitives::{B256, b256};
use serde_json::Value;

use crate::{ForkFilter, ForkId, ForkSchedule};

/// go-ethereum's block forks (`params.ChainConfig`, its JSON keys), in its order.
const GETH_BLOCK_FORKS: [&str; 15] = [
    "homesteadBlock",
    "daoForkBlock",
    "eip150Block",
    "eip155Block",
    "eip158Block",
    "byzantiumBlock",
    "constantinopleBlock",
    "petersburgBlock",
    "istanbulBlock",
    "muirGlacierBlock",
    "berlinBlock",
    "londonBlock",
    "arrowGlacierBlock",
    "grayGlacierBlock",
    "mergeNetsplitBlock",
];

/// go-ethereum's time forks (`params.ChainConfig`, its JSON keys), in its order.
const GETH_TIME_FORKS: [&str; 12] = [
    "shanghaiTime",
    "cancunTime",
    "pragueTime",
    "osakaTime",
    "bpo1Time",
    "bpo2Time",
    "bpo3Time",
    "bpo4Time",
    "bpo5Time",
    "amsterdamTime",
    "bogotaTime",
    "ubtTime",
];

/// A chain: what Status announces about it and what its fork ids are computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    /// The chain id, which devp2p networks use as their network id.
    pub chain_id: u64,
    /// The fork schedule, with the genesis hash and timestamp.
    pub schedule: ForkSchedule,
}

/// Why a `genesis.json` could not be read.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// A field is missing or has the wrong type.
    #[error("field {0:?} is missing or malformed")]
    Field(&'static str),
    /// A fork entry of `config` is not an unsigned integer.
    #[error("fork {0:?} is not an unsigned integer")]
    Fork(String),
    /// Two keys of `alloc`, or of one account's `storage`, name the same address or slot in
    /// different spellings (e.g. with and without `0x`): which one counts would depend on
    /// their order in the file.
    #[error("{0} names one key twice")]
    Duplicate(&'static str),
}

impl ChainSpec {
    fn known(
        chain_id: u64,
        genesis_hash: B256,
        genesis_time: u64,
        blocks: &[u64],
        times: &[u64],
    ) -> Self {
        Self {
            chain_id,
            schedule: ForkSchedule {
                genesis_hash,
                genesis_time,
                block_forks: blocks.to_vec(),
                time_forks: times.to_vec(),
            },
        }
    }

    /// Ethereum mainnet: Frontier through BPO2.
    pub fn mainnet() -> Self {
        Self::known(
            1,
            b256!("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"),
            0,
            &[
                1_150_000, 1_920_000, 2_463_000, 2_675_000, 2_675_000, 4_370_000, 7_280_000,
                7_280_000, 9_069_000, 9_200_000, 12_244_000, 12_965_000, 13_773_000, 15_050_000,
            ],
            &[
                1_681_338_455,
                1_710_338_135,
                1_746_612_311,
                1_764_798_551,
                1_765_290_071,
                1_767_747_671,
            ],
        )
    }

    /// Sepolia.
    pub fn sepolia() -> Self {
        Self::known(
            11_155_111,
            b256!("25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9"),
            1_633_267_481,
            &[1_735_371],
            &[
                1_677_557_088,
                1_706_655_072,
                1_741_159_776,
                1_760_427_360,
                1_761_017_184,
                1_761_607_008,
            ],
        )
    }

    /// Holesky.
    pub fn holesky() -> Self {
        Self::known(
            17_000,
            b256!("b5f7f912443c940f21fd611f12828d75b534364ed9e95ca4e307729a4661bde4"),
            1_695_902_100,
            &[],
            &[
                1_696_000_704,
                1_707_305_664,
                1_740_434_112,
                1_759_308_480,
                1_759_800_000,
                1_760_389_824,
            ],
        )
    }

    /// Hoodi.
    pub fn hoodi() -> Self {
        Self::known(
            560_048,
            b256!("bbe312868b376a3001692a646dd2d7d1e4406380dfd86b98aa8a34d1557c971b"),
            1_742_212_800,
            &[],
            &[
                0,
                0,
                1_742_999_832,
                1_761_677_592,
                1_762_365_720,
                1_762_955_544,
            ],
        )
    }

    /// A built-in chain by name: `mainnet`, `sepolia`, `holesky` or `hoodi`.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "mainnet" => Some(Self::mainnet()),
            "sepolia" => Some(Self::sepolia()),
            "holesky" => Some(Self::holesky()),
            "hoodi" => Some(Self::hoodi()),
            _ => None,
        }
    }

    /// Reads the chain id and fork schedule from a go-ethereum `genesis.json`: the numbers under
    /// the fork keys of go-ethereum's `ChainConfig`, `homesteadBlock` to `mergeNetsplitBlock`
    /// and `shanghaiTime` to `ubtTime`. Other keys are ignored, as go-ethereum ignores them,
    /// even those named like forks (a `verkleTime` from an older go-ethereum is not a fork of
    /// today's). The genesis hash is given, as it needs the genesis header (see `Genesis`).
    pub fn from_geth_genesis(json: &str, genesis_hash: B256) -> Result<Self, GenesisError> {
        let genesis: Value =
            serde_json::from_str(json).map_err(|e| GenesisError::Json(e.to_string()))?;
        let config = genesis
            .get("config")
            .and_then(Value::as_object)
            .ok_or(GenesisError::Field("config"))?;
        let chain_id = config
            .get("chainId")
            .and_then(Value::as_u64)
            .ok_or(GenesisError::Field("config.chainId"))?;
        let genesis_time = match genesis.get("timestamp") {
            None => 0,
            Some(value) => quantity(value).ok_or(GenesisError::Field("timestamp"))?,
        };
        let forks = |keys: &[&str]| -> Result<Vec<u64>, GenesisError> {
            keys.iter()
                .filter_map(|key| Some((*key, config.get(*key).filter(|v| !v.is_null())?)))
                .map(|(key, value)| value.as_u64().ok_or_else(|| GenesisError::Fork(key.into())))
                .collect()
        };
        Ok(Self {
            chain_id,
            schedule: ForkSchedule {
                genesis_hash,
                genesis_time,
                block_forks: forks(&GETH_BLOCK_FORKS)?,
                time_forks: forks(&GETH_TIME_FORKS)?,
            },
        })
    }

    /// The fork id at a head.
    pub fn fork_id(&self, head_block: u64, head_time: u64) -> ForkId {
        self.schedule.fork_id(head_block, head_time)
    }

    /// The filter for peers' fork ids.
    pub fn fork_filter(&self) -> ForkFilter {
        self.schedule.filter()
    }
}

/// A JSON number, or a `0x`-prefixed hex or decimal string (genesis files use all three).
pub(crate) fn quantity(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        },
        _ => None,
    }
}
