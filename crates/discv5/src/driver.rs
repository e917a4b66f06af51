//! The tokio driver: the core behind a lock, one UDP socket, and a task that receives datagrams
//! and keeps time. A handle's call runs the core on the caller's thread and sends what it
//! produced at once, so a request takes no hop through the task; only the answers (and any
//! datagram the socket could not take at once) go through it.
#![allow(clippy::disallowed_methods)] // The driver is where time, tasks and OS randomness come from.

use core::net::SocketAddr;
use std::{
    collections::{HashMap, VecDeque},
    io,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use devp2p_enr::{Builder, Enr, EnrError, NodeId, SigningKey};
use devp2p_kbucket::socket_destination;
use tokio::{
    net::UdpSocket,
    sync::{Notify, broadcast, mpsc, oneshot},
};

use crate::{
    Config, Discv5, Event, IpMode, LookupId, NodeEntry, PongInfo, QueryId, RequestError, RequestId,
    session::{NodeAddress, Transmit},
};

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
    /// An answer could not be sent: the session with the node is gone, or the answer does not
    /// fit in a packet.
    #[error("the answer could not be sent")]
    NotSent,
}

/// A TALKREQ for a protocol registered with [`Discv5Handle::register_talk_handler`]. Every
/// TALKREQ gets a TALKRESP: one dropped without [`respond`](Self::respond) (or left in the
/// handler's queue when its receiver is dropped) is answered with an empty response by the
/// node's task, and so is one whose response could not be sent. (Having a `Drop`, it cannot
/// be taken apart by a move: take its fields with [`core::mem::take`].)
#[derive(Debug)]
pub struct TalkRequest {
    /// From whom.
    pub node: NodeAddress,
    /// The request bytes.
    pub request: Vec<u8>,
    req_id: RequestId,
    /// Weak: a request waiting in a handler's queue does not keep the node running once the
    /// last handle is gone. Taken (left dangling) once the request is answered.
    owner: Weak<Owner>,
}

impl TalkRequest {
    /// Sends the TALKRESP. Fails with [`DriverError::Stopped`] once the node has stopped, and
    /// with [`DriverError::NotSent`] when the session with the node is gone or the response
    /// does not fit in a packet (over about 1150 bytes; an empty one goes instead).
    pub async fn respond(mut self, response: Vec<u8>) -> Result<(), DriverError> {
        let owner = core::mem::take(&mut self.owner)
            .upgrade()
            .ok_or(DriverError::Stopped)?;
        let (node, req_id) = (&self.node, self.req_id);
        owner
            .call(|state, now| {
                let sent = state.core.talk_response(now, node, req_id, response);
                if !sent {
                    // An empty answer fits where the response did not (if the session is there).
                    state.core.talk_response(now, node, req_id, Vec::new());
                }
                sent
            })?
            .then_some(())
            .ok_or(DriverError::NotSent)
    }
}

impl Drop for TalkRequest {
    /// Leaves a request nobody answered to the node's task, which answers it. The node's lock
    /// is not taken here: a request can be dropped where the lock is held (with a handler's
    /// channel, when a request slipped into it as its receiver closed).
    fn drop(&mut self) {
        if let Some(owner) = self.owner.upgrade() {
            let shared = &owner.shared;
            shared
                .unanswered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((self.node.clone(), self.req_id));
            shared.wake.notify_one();
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, DriverError>>;

/// An answer for a waiting caller, handed over once the lock is released (so the caller,
/// woken by it, does not find the lock still held).
enum Answer {
    Pong(Reply<PongInfo>, Result<PongInfo, DriverError>),
    Nodes(Reply<Vec<Enr>>, Result<Vec<Enr>, DriverError>),
    Talk(Reply<Vec<u8>>, Result<Vec<u8>, DriverError>),
}

impl Answer {
    /// A caller that gave up is no error.
    fn send(self) {
        match self {
            Self::Pong(reply, result) => {
                let _ = reply.send(result);
            }
            Self::Nodes(reply, result) => {
                let _ = reply.send(result);
            }
            Self::Talk(reply, result) => {
                let _ = reply.send(result);
            }
        }
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

/// What the lock guards: the core and whoever waits for its answers.
struct State {
    core: Discv5,
    waiting: Waiting,
    /// Datagrams the socket could not take at once; the task sends them.
    backlog: VecDeque<Transmit>,
    /// The deadline the task sleeps until (at most one heartbeat away); a call that brings an
    /// earlier one wakes it.
    armed: Instant,
    /// The task has ended: calls fail with [`DriverError::Stopped`].
    stopped: bool,
    /// Where the events go; dropped when the task ends, which closes every subscription.
    events: Option<broadcast::Sender<Event>>,
}

/// What the handles and the task share.
struct Shared {
    state: Mutex<State>,
    socket: UdpSocket,
    /// The socket's address: an IPv6 one sends to IPv4 nodes at their IPv4-mapped form.
    local: SocketAddr,
    /// Wakes the task: an earlier deadline, a backlog, talk requests dropped unanswered, or
    /// the last handle gone.
    wake: Notify,
    closed: AtomicBool,
    /// Talk requests dropped unanswered, for the task to answer (empty). Its own lock, taken
    /// after the node's when both are: a request's drop takes only this one.
    unanswered: Mutex<Vec<(NodeAddress, RequestId)>>,
}

impl core::fmt::Debug for Shared {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends the core's datagrams (those the socket would block on wait in the backlog) and
    /// hands out its events, until it has neither; the callers' answers go to `answers`.
    fn settle(&self, state: &mut State, owner: &Weak<Owner>, answers: &mut Vec<Answer>) {
        loop {
            let mut moved = false;
            while let Some(transmit) = state.core.poll_transmit() {
                moved = true;
                if !state.backlog.is_empty() {
                    state.backlog.push_back(transmit);
                    continue;
                }
                // Any other send error loses one datagram, as UDP may.
                let dst = socket_destination(self.local, transmit.dst);
                if let Err(e) = self.socket.try_send_to(&transmit.bytes, dst)
                    && e.kind() == io::ErrorKind::WouldBlock
                {
                    state.backlog.push_back(transmit);
                }
            }
            while let Some(event) = state.core.poll_event() {
                moved = true;
                deliver(state, owner, &event, answers);
                if let Some(events) = &state.events {
                    let _ = events.send(event);
                }
            }
            if !moved {
                return;
            }
        }
    }
}

/// Held by the handles: when the last one goes, the task stops.
#[derive(Debug)]
struct Owner {
    shared: Arc<Shared>,
}

impl Owner {
    /// Runs `f` on the core, sends what it produced and hands out its events; wakes the task
    /// when it has a backlog to send or an earlier deadline to keep.
    fn call<T>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut State, Instant) -> T,
    ) -> Result<T, DriverError> {
        let shared = &self.shared;
        let mut state = shared.lock();
        if state.stopped {
            return Err(DriverError::Stopped);
        }
        let out = f(&mut state, Instant::now());
        let mut answers = Vec::new();
        shared.settle(&mut state, &Arc::downgrade(self), &mut answers);
        let earlier = state
            .core
            .poll_timeout()
            .is_some_and(|due| due < state.armed);
        let wake = earlier || !state.backlog.is_empty();
        drop(state);
        answers.into_iter().for_each(Answer::send);
        if wake {
            shared.wake.notify_one();
        }
        Ok(out)
    }

    /// Like [`call`](Self::call), for a request whose answer comes later.
    async fn request<T>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut State, Instant, Reply<T>),
    ) -> Result<T, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.call(|state, now| f(state, now, tx))?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

/// A running discv5 node. Clones are handles to the same node; it stops when the last one is
/// dropped.
#[derive(Debug, Clone)]
pub struct Discv5Handle {
    owner: Arc<Owner>,
    addr: SocketAddr,
}

impl Discv5Handle {
    /// Binds a UDP socket on `addr` and starts a node whose record announces the socket's
    /// address (the IP left out when unspecified). The record's sequence number is the time in
    /// milliseconds, as go-ethereum's for a node without a database: a restart does not set it
    /// back, so peers holding an older record of ours fetch the new one. The default
    /// [`Config::ip_mode`] (dual-stack) is narrowed to the socket's family
    /// ([`IpMode::of_socket`]); another is kept.
    pub async fn bind(addr: SocketAddr, key: SigningKey, mut config: Config) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        let local = socket.local_addr()?;
        if config.ip_mode == IpMode::DualStack {
            config.ip_mode = IpMode::of_socket(local);
        }
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut builder = Enr::builder();
        builder.seq(millis.max(1));
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

    /// Starts a node with `record` on `socket`, in a new task. Set [`Config::ip_mode`] for the
    /// socket ([`IpMode::of_socket`] gives it from its address).
    pub fn spawn(
        socket: UdpSocket,
        key: SigningKey,
        record: Enr,
        config: Config,
    ) -> io::Result<Self> {
        let addr = socket.local_addr()?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| io::Error::other(e.to_string()))?;
        // A request is due one timeout after it is made (a handshake first, then an answer).
        let heartbeat = config.request_timeout.min(config.session.handshake_timeout);
        let now = Instant::now();
        let core = Discv5::new(key, record, config, now, seed);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                core,
                waiting: Waiting::default(),
                backlog: VecDeque::new(),
                // The task's first turn arms the real deadline.
                armed: now,
                stopped: false,
                events: Some(broadcast::channel(EVENT_CAPACITY).0),
            }),
            socket,
            local: addr,
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            unanswered: Mutex::new(Vec::new()),
        });
        let owner = Arc::new(Owner {
            shared: Arc::clone(&shared),
        });
        tokio::spawn(run(Stopping(shared), Arc::downgrade(&owner), heartbeat));
        Ok(Self { owner, addr })
    }

    /// Our record as it is now: with [`Config::update_record`], a predicted external address
    /// replaces the one it was started with.
    pub fn local_enr(&self) -> Enr {
        self.owner.shared.lock().core.local_record().clone()
    }

    /// Changes our record (see [`Discv5::update_local_record`]): to set an `eth` entry, say.
    /// Returns the record as it is now. `change` runs while the node is locked: it must not
    /// call the handle.
    pub fn update_enr(&self, change: impl FnOnce(&mut Builder)) -> Result<Enr, EnrError> {
        let mut state = self.owner.shared.lock();
        state.core.update_local_record(change)?;
        Ok(state.core.local_record().clone())
    }

    /// The socket's address.
    pub const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The node's events from now on. The subscription closes when the node stops.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.owner
            .shared
            .lock()
            .events
            .as_ref()
            .map_or_else(|| broadcast::channel(1).1, broadcast::Sender::subscribe)
    }

    /// Adds a known node (a bootnode) and starts a table refresh.
    pub async fn add_enr(&self, record: Enr) -> Result<(), DriverError> {
        self.owner
            .call(|state, now| state.core.add_enr(now, record))?
            .map_err(DriverError::from)
    }

    /// Pings a node.
    pub async fn ping(&self, record: Enr) -> Result<PongInfo, DriverError> {
        self.owner
            .request(|state, now, reply| {
                let id = state.core.ping(now, &record);
                state.waiting.pings.insert(id, reply);
            })
            .await
    }

    /// Asks a node for the records at `distances`.
    pub async fn find_node(
        &self,
        record: Enr,
        distances: Vec<u16>,
    ) -> Result<Vec<Enr>, DriverError> {
        self.owner
            .request(|state, now, reply| {
                let id = state.core.find_node(now, &record, distances);
                state.waiting.finds.insert(id, reply);
            })
            .await
    }

    /// Sends a TALKREQ and returns the TALKRESP's bytes.
    pub async fn talk_req(
        &self,
        record: Enr,
        protocol: Vec<u8>,
        request: Vec<u8>,
    ) -> Result<Vec<u8>, DriverError> {
        self.owner
            .request(|state, now, reply| {
                let id = state.core.talk_req(now, &record, &protocol, &request);
                state.waiting.talks.insert(id, reply);
            })
            .await
    }

    /// Looks up the nodes closest to `target`.
    pub async fn lookup(&self, target: NodeId) -> Result<Vec<Enr>, DriverError> {
        self.owner
            .request(|state, now, reply| match state.core.lookup(now, target) {
                Some(id) => {
                    state.waiting.lookups.insert(id, reply);
                }
                None => {
                    let _ = reply.send(Err(DriverError::Busy));
                }
            })
            .await
    }

    /// Registers a TALKREQ protocol; its requests arrive on the returned channel, which holds
    /// up to `capacity`. A request that finds it full (or closed) gets an empty TALKRESP.
    pub async fn register_talk_handler(
        &self,
        protocol: Vec<u8>,
        capacity: usize,
    ) -> Result<mpsc::Receiver<TalkRequest>, DriverError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.owner.call(|state, _| {
            if state.core.register_talk_protocol(&protocol) {
                state.waiting.handlers.insert(protocol, tx);
                Ok(rx)
            } else {
                Err(DriverError::Busy)
            }
        })?
    }

    /// The nodes in the table.
    pub async fn table(&self) -> Result<Vec<NodeEntry>, DriverError> {
        self.owner
            .call(|state, _| state.core.table().iter().map(|e| e.value.clone()).collect())
    }
}

/// Marks the node stopped when the task ends, however it ends (also when it is dropped before
/// its first turn, as the task owns it from the start), so that nobody waits for an answer or
/// an event that cannot come.
struct Stopping(Arc<Shared>);

impl Drop for Stopping {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.stopped = true;
        state.waiting = Waiting::default();
        state.events = None;
    }
}

async fn run(stopping: Stopping, owner: Weak<Owner>, heartbeat: Duration) {
    let shared = &stopping.0;
    // One byte more than the largest packet, so an oversized one is seen as such.
    let mut buf = vec![0u8; crate::wire::MAX_PACKET_SIZE + 1];
    let mut answers = Vec::new();
    // The timer and the wake-up outlive a turn: registering and dropping them anew for every
    // datagram cost more than the rest of the task's work on it. The timer is reset only when
    // the deadline moves (or after it fired).
    let sleep = tokio::time::sleep_until(Instant::now().into());
    tokio::pin!(sleep);
    let mut sleeping_until = None;
    let notified = shared.wake.notified();
    tokio::pin!(notified);
    loop {
        let (deadline, backlog) = {
            let mut state = shared.lock();
            let unanswered = core::mem::take(
                &mut *shared
                    .unanswered
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            for (node, req_id) in unanswered {
                state
                    .core
                    .talk_response(Instant::now(), &node, req_id, Vec::new());
            }
            shared.settle(&mut state, &owner, &mut answers);
            // The task turns at least once per `heartbeat`, and an armed deadline still ahead
            // stays armed even when the core's next one is later (a request answered early).
            // So a request, due one timeout after it is made, never comes before the armed
            // deadline: making it needs no wake-up of this task. The cost is one turn of
            // handle_timeout a second when nothing is due.
            let now = Instant::now();
            let next = state
                .core
                .poll_timeout()
                .map_or(now + heartbeat, |due| due.min(now + heartbeat));
            state.armed = if state.armed > now {
                state.armed.min(next)
            } else {
                next
            };
            (state.armed, core::mem::take(&mut state.backlog))
        };
        answers.drain(..).for_each(Answer::send);
        for transmit in backlog {
            let dst = socket_destination(shared.local, transmit.dst);
            let _ = shared.socket.send_to(&transmit.bytes, dst).await;
        }
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        if sleeping_until != Some(deadline) {
            sleep.as_mut().reset(deadline.into());
            sleeping_until = Some(deadline);
        }
        tokio::select! {
            received = shared.socket.recv_from(&mut buf) => {
                if let Ok((len, from)) = received {
                    let bytes = buf.get(..len).unwrap_or_default();
                    shared.lock().core.handle_datagram(Instant::now(), from, bytes);
                }
            }
            () = notified.as_mut() => notified.set(shared.wake.notified()),
            () = sleep.as_mut() => {
                sleeping_until = None;
                shared.lock().core.handle_timeout(Instant::now());
            }
        }
    }
}

/// Finds whoever waits for an event's answer; talk requests go to their handlers.
fn deliver(state: &mut State, owner: &Weak<Owner>, event: &Event, answers: &mut Vec<Answer>) {
    let waiting = &mut state.waiting;
    match event {
        Event::Pong { id, result } => {
            if let Some(reply) = waiting.pings.remove(id) {
                answers.push(Answer::Pong(
                    reply,
                    result.clone().map_err(DriverError::from),
                ));
            }
        }
        Event::Nodes { id, result } => {
            if let Some(reply) = waiting.finds.remove(id) {
                answers.push(Answer::Nodes(
                    reply,
                    result.clone().map_err(DriverError::from),
                ));
            }
        }
        Event::TalkResponse { id, result } => {
            if let Some(reply) = waiting.talks.remove(id) {
                answers.push(Answer::Talk(
                    reply,
                    result.clone().map_err(DriverError::from),
                ));
            }
        }
        Event::LookupFinished { id, nodes, .. } => {
            if let Some(reply) = waiting.lookups.remove(id) {
                answers.push(Answer::Nodes(reply, Ok(nodes.clone())));
            }
        }
        Event::TalkRequest {
            node,
            req_id,
            protocol,
            request,
        } => {
            let handler = waiting.handlers.get(protocol);
            // A node being stopped says it has nothing rather than leave the request waiting.
            let running = owner.strong_count() > 0;
            let delivered = running
                && handler.is_some_and(|handler| {
                    let request = TalkRequest {
                        node: node.clone(),
                        request: request.clone(),
                        req_id: *req_id,
                        owner: owner.clone(),
                    };
                    handler
                        .try_send(request)
                        .map_err(|e| {
                            // Answered below, at once: dropped armed, it would also be left
                            // to the task's next turn, and answered twice.
                            let mut undelivered = e.into_inner();
                            undelivered.owner = Weak::new();
                        })
                        .is_ok()
                });
            // Nobody to answer (handler gone or full): say we have nothing.
            if !delivered {
                state
                    .core
                    .talk_response(Instant::now(), node, *req_id, Vec::new());
            }
        }
        _ => {}
    }
}
