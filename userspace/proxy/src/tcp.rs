//! `mode tcp`: the session state machine ([`session`]) and the forwarding of
//! one direction ([`flow`]).

pub mod flow;
pub mod session;
