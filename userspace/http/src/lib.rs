//! Incremental, checkpointed HTTP/1.1 parser: resumes where it stopped and
//! never re-reads bytes. Knows nothing of sockets, backends or ACLs.
#![forbid(unsafe_code)]
