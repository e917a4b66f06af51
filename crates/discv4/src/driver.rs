//! The tokio driver: one UDP socket, the core and a timer in a task, and a handle to command it.
#![allow(clippy::disallowed_methods)] // The driver is where time and tasks come from.

use core::net::SocketAddr;
use std::{
    collections::HashMap,
    io,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use devp2p_enr::{Builder, Enr, EnrError, NodeRecord, PeerId, SigningKey};
use devp2p_kbucket::socket_destination;
use tokio::{
    net::UdpSocket,
    sync::{broadcast, mpsc, oneshot, watch},
};

use crate::{
    Config, Discv4, Endpoint, Event, LookupId, NodeInfo, PongInfo, RequestError, RequestId,
};

/// Commands the handle may have queued for the task at once.
const COMMAND_CAPACITY: usize = 64;

/// Events buffered for each subscriber; a slower subscriber misses the oldest.
const EVENT_CAPACITY: usize = 1024;

/// Why a [`Discv4Handle`] call failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriverError {
    /// The node's task has stopped.
    #[error("the discovery task has stopped")]
    Stopped,
    /// Too many lookups are running (see [`Config::max_lookups`]).
    #[error("too many lookups running")]
    Busy,
    /// The request failed.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Our record could not be changed so.
    #[error(transparent)]
    Record(#[from] EnrError),
}

/// A change to our record, run by the task.
type RecordChange = Box<dyn FnOnce(&mut Builder) + Send>;

enum Command {
    Lookup(
        PeerId,
        oneshot::Sender<Result<Vec<NodeRecord>, DriverError>>,
    ),
    Ping(NodeRecord, oneshot::Sender<Result<PongInfo, DriverError>>),
    RequestEnr(NodeRecord, oneshot::Sender<Result<Enr, DriverError>>),
    AddBootnode(NodeRecord),
    Table(oneshot::Sender<Vec<NodeInfo>>),
    External(oneshot::Sender<Option<SocketAddr>>),
    UpdateEnr(RecordChange, oneshot::Sender<Result<Enr, EnrError>>),
}

/// A running discv4 node. Cloning gives another handle to the same node; the node stops when
/// the last handle is dropped.
///
/// ```no_run
/// use devp2p_discv4::{Config, Discv4Handle, SigningKey};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let key = SigningKey::from_slice(&[1; 32])?;
/// let node = Discv4Handle::bind("0.0.0.0:30303".parse()?, key, Config::default()).await?;
/// node.add_bootnode("enode://…@1.2.3.4:30303".parse()?).await?;
/// let closest = node.lookup(node.local_record().id).await?;
/// println!("{} nodes", closest.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Discv4Handle {
    commands: mpsc::Sender<Command>,
    /// Weak: the task holds the sender, so subscriptions close when it ends.
    events: broadcast::WeakSender<Event>,
    /// Our enode address and record, as the task last saw them in the core.
    local: watch::Receiver<Local>,
    addr: SocketAddr,
}

/// What the handle knows of the node without asking the task.
#[derive(Debug)]
struct Local {
    record: NodeRecord,
    enr: Enr,
}

impl Local {
    fn of(core: &Discv4) -> Self {
        Self {
            record: core.local_record(),
            enr: core.local_enr().clone(),
        }
    }
}

impl Discv4Handle {
    /// Binds a UDP socket on `addr` and starts a node on it in a new task. The node announces
    /// the socket's address (with TCP port 0); see [`spawn`](Self::spawn) to announce another.
    pub async fn bind(addr: SocketAddr, key: SigningKey, config: Config) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        let local = socket.local_addr()?;
        let endpoint = Endpoint {
            ip: local.ip(),
            udp_port: local.port(),
            tcp_port: 0,
        };
        Self::spawn(socket, key, endpoint, config)
    }

    /// Starts a node on `socket` that announces `endpoint`, in a new task.
    pub fn spawn(
        socket: UdpSocket,
        key: SigningKey,
        endpoint: Endpoint,
        config: Config,
    ) -> io::Result<Self> {
        let addr = socket.local_addr()?;
        let unix = unix_seconds();
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| io::Error::other(e.to_string()))?;
        let core = Discv4::new(key, endpoint, config, Instant::now(), unix, seed)
            .map_err(io::Error::other)?;
        let (commands, receiver) = mpsc::channel(COMMAND_CAPACITY);
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let (local_tx, local) = watch::channel(Local::of(&core));
        let handle = Self {
            commands,
            events: events.downgrade(),
            local,
            addr,
        };
        tokio::spawn(run(core, socket, addr, receiver, events, local_tx));
        Ok(handle)
    }

    /// Our enode address as announced now: it follows the core's endpoint, which a predicted
    /// external address changes (see [`Config::update_endpoint`]).
    pub fn local_record(&self) -> NodeRecord {
        self.local.borrow().record
    }

    /// Our node record as served now: re-signed with a higher sequence number when the endpoint
    /// changes (see [`Config::update_endpoint`]).
    pub fn local_enr(&self) -> Enr {
        self.local.borrow().enr.clone()
    }

    /// The socket's address.
    pub const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A stream of the node's events from now on. It closes when the node stops.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events
            .upgrade()
            .map_or_else(|| broadcast::channel(1).1, |events| events.subscribe())
    }

    /// Adds a bootnode and starts a table refresh.
    pub async fn add_bootnode(&self, node: NodeRecord) -> Result<(), DriverError> {
        self.commands
            .send(Command::AddBootnode(node))
            .await
            .map_err(|_| DriverError::Stopped)
    }

    /// Looks up the nodes closest to `target`.
    pub async fn lookup(&self, target: PeerId) -> Result<Vec<NodeRecord>, DriverError> {
        self.call(|tx| Command::Lookup(target, tx)).await?
    }

    /// Pings `node`.
    pub async fn ping(&self, node: NodeRecord) -> Result<PongInfo, DriverError> {
        self.call(|tx| Command::Ping(node, tx)).await?
    }

    /// Asks `node` for its record (EIP-868).
    pub async fn request_enr(&self, node: NodeRecord) -> Result<Enr, DriverError> {
        self.call(|tx| Command::RequestEnr(node, tx)).await?
    }

    /// The nodes in the table.
    pub async fn table(&self) -> Result<Vec<NodeInfo>, DriverError> {
        self.call(Command::Table).await
    }

    /// Our external address as other nodes see it, once enough of them agree.
    pub async fn external_address(&self) -> Result<Option<SocketAddr>, DriverError> {
        self.call(Command::External).await
    }

    /// Changes our record other than its endpoint (see [`Discv4::update_enr`]): to set an
    /// `eth` entry, say. Returns the record as it is now.
    pub async fn update_enr(
        &self,
        change: impl FnOnce(&mut Builder) + Send + 'static,
    ) -> Result<Enr, DriverError> {
        Ok(self
            .call(|tx| Command::UpdateEnr(Box::new(change), tx))
            .await??)
    }

    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(command(tx))
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }
}

/// Answers the handle is waiting for.
#[derive(Default)]
struct Waiting {
    lookups: HashMap<LookupId, oneshot::Sender<Result<Vec<NodeRecord>, DriverError>>>,
    pings: HashMap<RequestId, oneshot::Sender<Result<PongInfo, DriverError>>>,
    enrs: HashMap<RequestId, oneshot::Sender<Result<Enr, DriverError>>>,
}

async fn run(
    mut core: Discv4,
    socket: UdpSocket,
    // An IPv6 socket sends to IPv4 nodes at their IPv4-mapped form.
    socket_addr: SocketAddr,
    mut commands: mpsc::Receiver<Command>,
    events: broadcast::Sender<Event>,
    local: watch::Sender<Local>,
) {
    let mut waiting = Waiting::default();
    // One byte more than the largest packet, so an oversized one is seen as such.
    let mut buf = vec![0u8; crate::MAX_PACKET_SIZE + 1];
    loop {
        // After every datagram, timer and command: the handles see a changed endpoint or record
        // before any answer the change came with.
        publish(&core, &local);
        while let Some(transmit) = core.poll_transmit() {
            // A send error (unreachable network, full buffer) loses one datagram, as UDP may.
            let dst = socket_destination(socket_addr, transmit.dst);
            let _ = socket.send_to(&transmit.bytes, dst).await;
        }
        while let Some(event) = core.poll_event() {
            deliver(&mut waiting, &event);
            // No subscriber is not an error.
            let _ = events.send(event);
        }
        let deadline = core.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                if let Ok((len, from)) = received {
                    let now = clock(&mut core);
                    core.handle_datagram(now, from, buf.get(..len).unwrap_or_default());
                }
            }
            command = commands.recv() => {
                let Some(command) = command else { return };
                execute(&mut core, &mut waiting, &local, command);
            }
            () = sleep => {
                let now = clock(&mut core);
                core.handle_timeout(now);
            }
        }
    }
}

/// The time now, with the core's wall clock set to the system's: a clock stepped by NTP, or a
/// suspend (which the monotonic clock does not count), moves packet expirations with it.
fn clock(core: &mut Discv4) -> Instant {
    let now = Instant::now();
    core.set_unix_time(now, unix_seconds());
    now
}

/// Seconds since the Unix epoch by the system clock (0 before it).
fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn execute(
    core: &mut Discv4,
    waiting: &mut Waiting,
    local: &watch::Sender<Local>,
    command: Command,
) {
    let now = clock(core);
    match command {
        Command::Lookup(target, reply) => match core.lookup(now, target) {
            Some(id) => {
                waiting.lookups.insert(id, reply);
            }
            None => {
                let _ = reply.send(Err(DriverError::Busy));
            }
        },
        Command::Ping(node, reply) => {
            waiting.pings.insert(core.ping(now, node), reply);
        }
        Command::RequestEnr(node, reply) => {
            waiting.enrs.insert(core.request_enr(now, node), reply);
        }
        Command::AddBootnode(node) => core.add_bootnode(now, node),
        Command::Table(reply) => {
            let _ = reply.send(core.table().iter().map(|e| e.value.clone()).collect());
        }
        Command::External(reply) => {
            let _ = reply.send(core.external_address());
        }
        Command::UpdateEnr(change, reply) => {
            let result = core.update_enr(change).map(|()| core.local_enr().clone());
            // Before the answer: the caller's next `local_enr` sees the new record.
            publish(core, local);
            let _ = reply.send(result);
        }
    }
}

/// Hands the handles our endpoint and record when the core's record changed (a new ENR
/// sequence number). The driver changes the endpoint only through a predicted address, which
/// always changes the record's IP or UDP port too.
fn publish(core: &Discv4, local: &watch::Sender<Local>) {
    local.send_if_modified(|current| {
        let changed = current.enr.seq() != core.local_enr().seq();
        if changed {
            *current = Local::of(core);
        }
        changed
    });
}

/// Hands an answer to whoever waits for it; a caller that gave up is no error.
fn deliver(waiting: &mut Waiting, event: &Event) {
    match event {
        Event::LookupFinished { id, nodes, .. } => {
            if let Some(reply) = waiting.lookups.remove(id) {
                let _ = reply.send(Ok(nodes.clone()));
            }
        }
        Event::PingResult { id, result, .. } => {
            if let Some(reply) = waiting.pings.remove(id) {
                let _ = reply.send(result.clone().map_err(DriverError::from));
            }
        }
        Event::EnrResult { id, result, .. } => {
            if let Some(reply) = waiting.enrs.remove(id) {
                let _ = reply.send(result.clone().map_err(DriverError::from));
            }
        }
        _ => {}
    }
}
