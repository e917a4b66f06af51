//! The tokio driver: one UDP socket, the core and a timer in a task, and a handle to command it.
#![allow(clippy::disallowed_methods)] // The driver is where time, tasks and OS randomness come from.

use core::net::SocketAddr;
use std::{collections::HashMap, io, time::Instant};

use devp2p_enr::{Enr, NodeId, SigningKey};
use tokio::{
    net::UdpSocket,
    sync::{broadcast, mpsc, oneshot},
};

use crate::{
    Config, Discv5, Event, LookupId, NodeEntry, PongInfo, QueryId, RequestError, RequestId,
    session::NodeAddress,
};

/// Commands the handles may have queued for the task at once.
const COMMAND_CAPACITY: usize = 64;

/// Events buffered for each subscriber; a slower subscriber misses the oldest.
const EVENT_CAPACITY: usize = 1024;

/// Why a [`Discv5Handle`] call failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The node's task has stopped.
    #[error("the discovery task has stopped")]
    Stopped,
    /// Too many lookups are running.
    #[error("too many lookups running")]
    Busy,
    /// The request failed.
    #[error(transparent)]
    Request(#[from] RequestError),
}

/// A TALKREQ for a protocol registered with [`Discv5Handle::register_talk_handler`].
#[derive(Debug)]
pub struct TalkRequest {
    /// From whom.
    pub node: NodeAddress,
    /// The request bytes.
    pub request: Vec<u8>,
    req_id: RequestId,
    commands: mpsc::Sender<Command>,
}

impl TalkRequest {
    /// Sends the TALKRESP.
    pub async fn respond(self, response: Vec<u8>) -> Result<(), DriverError> {
        self.commands
            .send(Command::TalkResponse(self.node, self.req_id, response))
            .await
            .map_err(|_| DriverError::Stopped)
    }
}

type Reply<T> = oneshot::Sender<Result<T, DriverError>>;

#[derive(Debug)]
enum Command {
    Ping(Enr, Reply<PongInfo>),
    FindNode(Enr, Vec<u16>, Reply<Vec<Enr>>),
    Talk(Enr, Vec<u8>, Vec<u8>, Reply<Vec<u8>>),
    TalkResponse(NodeAddress, RequestId, Vec<u8>),
    Lookup(NodeId, Reply<Vec<Enr>>),
    AddEnr(Enr, Reply<()>),
    RegisterTalk(Vec<u8>, mpsc::Sender<TalkRequest>, Reply<()>),
    Table(oneshot::Sender<Vec<NodeEntry>>),
}

/// A running discv5 node. Clones are handles to the same node; it stops when the last one is
/// dropped.
#[derive(Debug, Clone)]
pub struct Discv5Handle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    record: Enr,
    addr: SocketAddr,
}

impl Discv5Handle {
    /// Binds a UDP socket on `addr` and starts a node whose record announces the socket's
    /// address (the IP left out when unspecified).
    pub async fn bind(addr: SocketAddr, key: SigningKey, config: Config) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        let local = socket.local_addr()?;
        let mut builder = Enr::builder();
        if !local.ip().is_unspecified() {
            builder.ip(local.ip());
        }
        if local.is_ipv4() {
            builder.udp(local.port());
        } else {
            builder.udp6(local.port());
        }
        let record = builder.build(&key).map_err(io::Error::other)?;
        Self::spawn(socket, key, record, config)
    }

    /// Starts a node with `record` on `socket`, in a new task.
    pub fn spawn(
        socket: UdpSocket,
        key: SigningKey,
        record: Enr,
        config: Config,
    ) -> io::Result<Self> {
        let addr = socket.local_addr()?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| io::Error::other(e.to_string()))?;
        let core = Discv5::new(key, record.clone(), config, Instant::now(), seed);
        let (commands, receiver) = mpsc::channel(COMMAND_CAPACITY);
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let handle = Self {
            commands: commands.clone(),
            events: events.clone(),
            record,
            addr,
        };
        tokio::spawn(run(core, socket, receiver, commands.downgrade(), events));
        Ok(handle)
    }

    /// Our record.
    pub const fn local_enr(&self) -> &Enr {
        &self.record
    }

    /// The socket's address.
    pub const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The node's events from now on.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Adds a known node (a bootnode) and starts a table refresh.
    pub async fn add_enr(&self, record: Enr) -> Result<(), DriverError> {
        self.call(|tx| Command::AddEnr(record, tx)).await?
    }

    /// Pings a node.
    pub async fn ping(&self, record: Enr) -> Result<PongInfo, DriverError> {
        self.call(|tx| Command::Ping(record, tx)).await?
    }

    /// Asks a node for the records at `distances`.
    pub async fn find_node(
        &self,
        record: Enr,
        distances: Vec<u16>,
    ) -> Result<Vec<Enr>, DriverError> {
        self.call(|tx| Command::FindNode(record, distances, tx))
            .await?
    }

    /// Sends a TALKREQ and returns the TALKRESP's bytes.
    pub async fn talk_req(
        &self,
        record: Enr,
        protocol: Vec<u8>,
        request: Vec<u8>,
    ) -> Result<Vec<u8>, DriverError> {
        self.call(|tx| Command::Talk(record, protocol, request, tx))
            .await?
    }

    /// Looks up the nodes closest to `target`.
    pub async fn lookup(&self, target: NodeId) -> Result<Vec<Enr>, DriverError> {
        self.call(|tx| Command::Lookup(target, tx)).await?
    }

    /// Registers a TALKREQ protocol; its requests arrive on the returned channel, which holds
    /// up to `capacity`. A request that finds it full (or closed) gets an empty TALKRESP.
    pub async fn register_talk_handler(
        &self,
        protocol: Vec<u8>,
        capacity: usize,
    ) -> Result<mpsc::Receiver<TalkRequest>, DriverError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.call(|reply| Command::RegisterTalk(protocol, tx, reply))
            .await??;
        Ok(rx)
    }

    /// The nodes in the table.
    pub async fn table(&self) -> Result<Vec<NodeEntry>, DriverError> {
        self.call(Command::Table).await
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

/// Answers the handles wait for, and the talk handlers.
#[derive(Default)]
struct Waiting {
    pings: HashMap<QueryId, Reply<PongInfo>>,
    finds: HashMap<QueryId, Reply<Vec<Enr>>>,
    talks: HashMap<QueryId, Reply<Vec<u8>>>,
    lookups: HashMap<LookupId, Reply<Vec<Enr>>>,
    handlers: HashMap<Vec<u8>, mpsc::Sender<TalkRequest>>,
}

async fn run(
    mut core: Discv5,
    socket: UdpSocket,
    mut commands: mpsc::Receiver<Command>,
    own: mpsc::WeakSender<Command>,
    events: broadcast::Sender<Event>,
) {
    let mut waiting = Waiting::default();
    // One byte more than the largest packet, so an oversized one is seen as such.
    let mut buf = vec![0u8; crate::wire::MAX_PACKET_SIZE + 1];
    loop {
        while let Some(transmit) = core.poll_transmit() {
            // A send error loses one datagram, as UDP may.
            let _ = socket.send_to(&transmit.bytes, transmit.dst).await;
        }
        while let Some(event) = core.poll_event() {
            deliver(&mut core, &mut waiting, &own, &event);
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
                    core.handle_datagram(Instant::now(), from, buf.get(..len).unwrap_or_default());
                }
            }
            command = commands.recv() => {
                let Some(command) = command else { return };
                execute(&mut core, &mut waiting, command);
            }
            () = sleep => core.handle_timeout(Instant::now()),
        }
    }
}

fn execute(core: &mut Discv5, waiting: &mut Waiting, command: Command) {
    let now = Instant::now();
    match command {
        Command::Ping(record, reply) => {
            waiting.pings.insert(core.ping(now, &record), reply);
        }
        Command::FindNode(record, distances, reply) => {
            waiting
                .finds
                .insert(core.find_node(now, &record, distances), reply);
        }
        Command::Talk(record, protocol, request, reply) => {
            waiting
                .talks
                .insert(core.talk_req(now, &record, &protocol, &request), reply);
        }
        Command::TalkResponse(node, req_id, response) => {
            core.talk_response(&node, req_id, response);
        }
        Command::Lookup(target, reply) => match core.lookup(now, target) {
            Some(id) => {
                waiting.lookups.insert(id, reply);
            }
            None => {
                let _ = reply.send(Err(DriverError::Busy));
            }
        },
        Command::AddEnr(record, reply) => {
            let _ = reply.send(core.add_enr(now, record).map_err(DriverError::from));
        }
        Command::RegisterTalk(protocol, handler, reply) => {
            let result = if core.register_talk_protocol(&protocol) {
                waiting.handlers.insert(protocol, handler);
                Ok(())
            } else {
                Err(DriverError::Busy)
            };
            let _ = reply.send(result);
        }
        Command::Table(reply) => {
            let _ = reply.send(core.table().iter().map(|e| e.value.clone()).collect());
        }
    }
}

/// Hands an answer to whoever waits for it; a caller that gave up is no error.
fn deliver(
    core: &mut Discv5,
    waiting: &mut Waiting,
    own: &mpsc::WeakSender<Command>,
    event: &Event,
) {
    match event {
        Event::Pong { id, result } => {
            if let Some(reply) = waiting.pings.remove(id) {
                let _ = reply.send(result.clone().map_err(DriverError::from));
            }
        }
        Event::Nodes { id, result } => {
            if let Some(reply) = waiting.finds.remove(id) {
                let _ = reply.send(result.clone().map_err(DriverError::from));
            }
        }
        Event::TalkResponse { id, result } => {
            if let Some(reply) = waiting.talks.remove(id) {
                let _ = reply.send(result.clone().map_err(DriverError::from));
            }
        }
        Event::LookupFinished { id, nodes, .. } => {
            if let Some(reply) = waiting.lookups.remove(id) {
                let _ = reply.send(Ok(nodes.clone()));
            }
        }
        Event::TalkRequest {
            node,
            req_id,
            protocol,
            request,
        } => {
            let handler = waiting.handlers.get(protocol);
            let commands = own.upgrade();
            let delivered = match (handler, commands) {
                (Some(handler), Some(commands)) => handler
                    .try_send(TalkRequest {
                        node: node.clone(),
                        request: request.clone(),
                        req_id: *req_id,
                        commands,
                    })
                    .is_ok(),
                _ => false,
            };
            // Nobody to answer (handler gone or full): say we have nothing.
            if !delivered {
                core.talk_response(node, *req_id, Vec::new());
            }
        }
        _ => {}
    }
}
