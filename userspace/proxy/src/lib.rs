//! Session state machines that wire the core, the HTTP parser and the io_uring
//! runtime together. One state machine per file.
#![forbid(unsafe_code)]
