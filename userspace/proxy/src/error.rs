//! The proxy's errors. Start-up errors name the configuration line they come
//! from, HAProxy style: `weir.cfg:7: [frontend 'web'] cannot bind …`.

use weir_config::Loc;

/// Errors of `bind`, `run` and `wait`.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A `bind` line could not be bound (address in use, permission…).
    #[error("{loc}: [{section} '{name}'] cannot bind {spec}: {source}")]
    Bind {
        /// The bind line.
        loc: Loc,
        /// `frontend` or `listen`.
        section: &'static str,
        /// Section name.
        name: String,
        /// The address as written.
        spec: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Something the configuration asks for that this version cannot do.
    #[error("{loc}: [{section} '{name}'] {what}")]
    Unsupported {
        /// Where.
        loc: Loc,
        /// Section keyword.
        section: &'static str,
        /// Section name.
        name: String,
        /// What is not supported.
        what: String,
    },
    /// A server name could not be resolved at start-up.
    #[error("{loc}: [backend '{backend}'] cannot resolve server '{server}': {reason}")]
    Resolve {
        /// The server line.
        loc: Loc,
        /// Backend name.
        backend: String,
        /// Server name.
        server: String,
        /// Why.
        reason: String,
    },
    /// A worker could not start (ring set-up, thread spawn).
    #[error("worker {worker}: {source}")]
    Worker {
        /// Worker index.
        worker: usize,
        /// Why.
        #[source]
        source: weir_runtime::RuntimeError,
    },
    /// A worker thread could not be spawned or panicked.
    #[error("worker {worker}: {what}")]
    Thread {
        /// Worker index.
        worker: usize,
        /// What happened.
        what: String,
    },
}
