//! `mode tcp`: the session state machine ([`session`]) and the forwarding of
//! one direction ([`flow`]).
//!
//! Choices the worker makes around them, and why:
//! * Server queues are per worker (FIFO within a worker): a session waits on
//!   the worker that accepted it, where its sockets live. Server slots are
//!   process-wide atomics (see [`crate::shared`]), so a slot freed by another
//!   worker is noticed within one short sleep (10 ms) of a worker that has
//!   queued sessions. HAProxy's queue is one per server and backend for the
//!   whole process; here fairness between workers is left to the kernel's
//!   spreading of connections over the workers' SO_REUSEPORT sockets.
//! * `tune.maxaccept` bounds how many connections a listener takes per loop
//!   turn: when a turn reaches it, the multishot accept is cancelled (the
//!   rest wait in the kernel's listen backlog) and re-armed on the next
//!   turn. Connections the kernel posted before the cancel took effect are
//!   started, never refused: below `maxconn` they start at once; above it
//!   they wait in a per-worker queue, the listener stays stopped until that
//!   queue has drained, and nothing in it is ever closed for lack of room.
//! * Running out of fds: an accept failure pauses the listener for 100 ms;
//!   a server socket that cannot be created counts as a failed connection
//!   attempt (retried after the turn-around delay) and pauses listeners.
//!   Both are logged at most once per second. Note that io_uring reads the
//!   fd limit when a multishot accept is armed: a limit lowered at run time
//!   applies from the next re-arm.

pub mod flow;
pub mod session;
