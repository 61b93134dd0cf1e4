//! weir-proxy: the session state machines that wire the sans-io core
//! (balancing, timers, pools), the configuration and the io_uring runtime
//! into running workers. Today: `mode tcp` ([`tcp`]); the HTTP session will
//! sit beside it. One state machine per file; the worker loop
//! ([`worker`]) is protocol-agnostic and only dispatches completions.
//!
//! Entry points for the binary: [`bind`] (binds every listener of every
//! worker, before privileges are dropped), [`Bound::run`] (spawns the pinned
//! workers), then [`Running`]/[`Controller`] to stop them (soft or hard) and
//! read counters. It must not parse configuration text or share mutable
//! state between workers other than the atomics in [`shared`] (and the
//! error captures of [`capture`], written only on a rejected message).
#![forbid(unsafe_code)]

pub mod capture;
mod check;
mod error;
pub mod http;
mod log;
mod pick;
pub mod plan;
pub mod shared;
pub mod tcp;
mod worker;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU8;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use weir_config::{BindAddr, Config};
use weir_runtime::sys::{self, OwnedSocket};
use weir_runtime::Waker;

pub use error::ProxyError;
pub use shared::Stats;

use crate::plan::Plan;
use crate::shared::{Counters, Gauge, Health, Shared, HARD_STOP, RUN, SOFT_STOP};
use crate::worker::ListenerFd;

/// One bound listener of one worker.
#[derive(Debug)]
struct BoundListener {
    sock: OwnedSocket,
    fe: u16,
    port: u16,
    /// Bound here with SO_REUSEPORT (not an inherited `fd@` duplicate).
    reuseport: bool,
}

/// Every listener bound, workers not started yet (see [`bind`]).
#[derive(Debug)]
pub struct Bound {
    plan: Arc<Plan>,
    /// Per worker.
    listeners: Vec<Vec<BoundListener>>,
    /// (frontend name, actual address) of each bind entry.
    addrs: Vec<(String, SocketAddr)>,
    /// The configuration the plan was made from.
    config: Arc<Config>,
}

/// Binds every `bind` of every enabled frontend once per worker
/// (SO_REUSEPORT: the kernel spreads connections over the workers' sockets).
/// A port 0 is resolved by the first socket and reused by the others.
/// On error nothing is left bound and the message names the bind line:
/// `weir.cfg:7: [frontend 'web'] cannot bind 127.0.0.1:80: Address already in use`.
///
/// # Errors
/// [`ProxyError::Bind`], [`ProxyError::Unsupported`], [`ProxyError::Resolve`].
pub fn bind(cfg: Arc<Config>) -> Result<Bound, ProxyError> {
    let plan = Plan::new(&cfg)?;
    let n = plan.nbthread;
    let mut listeners: Vec<Vec<BoundListener>> = (0..n).map(|_| Vec::new()).collect();
    let mut addrs = Vec::new();
    for (fi, fe) in plan.frontends.iter().enumerate() {
        for b in &fe.binds {
            let err = |source| ProxyError::Bind {
                loc: b.loc.clone(),
                section: fe.section,
                name: fe.name.clone(),
                spec: b.spec.clone(),
                source,
            };
            match b.addr {
                BindAddr::Inet(addr) => {
                    let mut actual = addr;
                    for per_worker in &mut listeners {
                        let sock = OwnedSocket::new(
                            sys::listen_reuseport(actual, b.backlog).map_err(err)?,
                        );
                        if actual.port() == 0 {
                            actual = sys::local_addr(std::os::fd::AsRawFd::as_raw_fd(&sock))
                                .map_err(err)?;
                        }
                        per_worker.push(BoundListener {
                            sock,
                            fe: fi as u16,
                            port: actual.port(),
                            reuseport: true,
                        });
                    }
                    addrs.push((fe.name.clone(), actual));
                }
                BindAddr::Fd(fd) => {
                    // An inherited listener: every worker accepts on a
                    // duplicate of the same socket.
                    let local = sys::local_addr(fd).map_err(err)?;
                    for per_worker in &mut listeners {
                        let dup = sys::dup(fd).map_err(err)?;
                        per_worker.push(BoundListener {
                            sock: OwnedSocket::new(dup),
                            fe: fi as u16,
                            port: local.port(),
                            reuseport: false,
                        });
                    }
                    addrs.push((fe.name.clone(), local));
                }
            }
        }
    }
    Ok(Bound {
        plan: Arc::new(plan),
        listeners,
        addrs,
        config: cfg,
    })
}

impl Bound {
    /// The address each bind entry listens on, with its frontend's name (a
    /// port 0 in the configuration appears here as the port the OS chose).
    #[must_use]
    pub fn local_addrs(&self) -> &[(String, SocketAddr)] {
        &self.addrs
    }

    /// The configuration being served.
    #[must_use]
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The SO_REUSEPORT groups: for each `bind` with an address, every
    /// worker's listener in worker order (for SK_REUSEPORT steering, which
    /// must see the whole group before the workers accept).
    #[must_use]
    pub fn reuseport_groups(&self) -> Vec<Vec<&OwnedSocket>> {
        let entries = self.listeners.first().map_or(0, Vec::len);
        (0..entries)
            .filter(|k| self.listeners[0][*k].reuseport)
            .map(|k| self.listeners.iter().map(|w| &w[k].sock).collect())
            .collect()
    }

    /// The CPU each worker will be pinned to (`None`: unpinned).
    #[must_use]
    pub fn worker_cpus(&self) -> &[Option<usize>] {
        &self.plan.cpus
    }

    /// Worker count that [`Bound::run`] will start.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.plan.nbthread
    }

    /// Starts the workers (call after privileges were dropped). Returns once
    /// every worker has set up its ring and pools, or the first set-up error
    /// (then the started workers are stopped).
    ///
    /// # Errors
    /// [`ProxyError::Worker`] / [`ProxyError::Thread`].
    pub fn run(self) -> Result<Running, ProxyError> {
        let plan = self.plan;
        let n = plan.nbthread;
        let mut wakers = Vec::with_capacity(n);
        for i in 0..n {
            wakers.push(Waker::new().map_err(|source| ProxyError::Worker { worker: i, source })?);
        }
        let shared = Arc::new(Shared {
            global: Gauge::new(plan.global_maxconn),
            frontends: plan
                .frontends
                .iter()
                .map(|f| Gauge::new(f.maxconn))
                .collect(),
            servers: plan
                .backends
                .iter()
                .map(|b| b.servers.iter().map(|s| Gauge::new(s.maxconn)).collect())
                .collect(),
            health: plan
                .backends
                .iter()
                .map(|b| Arc::new(Health::new(b.servers.len())))
                .collect(),
            counters: (0..n).map(|_| Counters::default()).collect(),
            wakers: wakers.into_boxed_slice(),
            stop: AtomicU8::new(RUN),
            captures: capture::Captures::new(plan.frontends.len(), plan.backends.len()),
        });
        let checks = check::targets(&self.config, &plan);
        let (tx, rx) = mpsc::channel::<(usize, Result<(), String>)>();
        let mut threads = Vec::with_capacity(n);
        for (i, ls) in self.listeners.into_iter().enumerate() {
            let ls: Vec<ListenerFd> = ls
                .into_iter()
                .map(|l| ListenerFd {
                    fd: l.sock.into_raw(),
                    fe: l.fe,
                    port: l.port,
                })
                .collect();
            let (plan, shared, tx) = (Arc::clone(&plan), Arc::clone(&shared), tx.clone());
            let h = std::thread::Builder::new()
                .name(format!("weir-w{i}"))
                .spawn(move || {
                    worker::run(i, plan, shared, ls, |r| {
                        let _ = tx.send((i, r.map_err(|e| e.to_string())));
                    })
                })
                .map_err(|e| ProxyError::Thread {
                    worker: i,
                    what: e.to_string(),
                })?;
            threads.push(h);
        }
        drop(tx);
        let running = Running {
            ctl: Controller {
                shared,
                plan: Arc::clone(&plan),
            },
            threads,
        };
        for _ in 0..n {
            match rx.recv() {
                Ok((_, Ok(()))) => {}
                Ok((i, Err(what))) => {
                    running.hard_stop();
                    let _ = running.wait();
                    return Err(ProxyError::Thread { worker: i, what });
                }
                Err(_) => {
                    running.hard_stop();
                    let _ = running.wait();
                    return Err(ProxyError::Thread {
                        worker: 0,
                        what: "worker exited during set-up".into(),
                    });
                }
            }
        }
        // Health checks start once the workers run.
        if let Err(e) = check::start(checks, &running.ctl.shared, &plan) {
            running.hard_stop();
            let _ = running.wait();
            return Err(ProxyError::Thread {
                worker: 0,
                what: format!("cannot start the health checks: {e}"),
            });
        }
        Ok(running)
    }
}

/// A cloneable handle to stop the workers and read their counters, usable
/// from any thread (a signal-handling thread, the stats socket).
#[derive(Debug, Clone)]
pub struct Controller {
    shared: Arc<Shared>,
    plan: Arc<Plan>,
}

impl Controller {
    /// HAProxy's SIGUSR1: stop listening, let sessions finish, then exit;
    /// `hard-stop-after` bounds the wait.
    pub fn soft_stop(&self) {
        self.shared.request_stop(SOFT_STOP);
    }

    /// SIGTERM: close everything now.
    pub fn hard_stop(&self) {
        self.shared.request_stop(HARD_STOP);
    }

    /// Counters summed over workers.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Connections accepted by each worker, in worker order.
    #[must_use]
    pub fn accepted_per_worker(&self) -> Vec<u64> {
        self.shared
            .counters
            .iter()
            .map(|c| c.accepted.load(std::sync::atomic::Ordering::Relaxed))
            .collect()
    }

    /// The stats socket's `show errors [PROXY] [request|response]` answer:
    /// the last invalid request of each frontend and the last invalid
    /// response of each backend (see [`capture`]).
    ///
    /// # Errors
    /// The answer text when `proxy` names no proxy.
    pub fn show_errors(
        &self,
        proxy: Option<&str>,
        dir: Option<capture::Direction>,
    ) -> Result<String, String> {
        capture::show_errors(
            &self.plan,
            &self.shared.captures,
            proxy,
            dir,
            std::time::SystemTime::now(),
        )
    }
}

/// Running workers (see [`Bound::run`]).
#[derive(Debug)]
pub struct Running {
    ctl: Controller,
    threads: Vec<JoinHandle<Result<(), ProxyError>>>,
}

impl Running {
    /// See [`Controller::soft_stop`].
    pub fn soft_stop(&self) {
        self.ctl.soft_stop();
    }

    /// See [`Controller::hard_stop`].
    pub fn hard_stop(&self) {
        self.ctl.hard_stop();
    }

    /// See [`Controller::stats`].
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.ctl.stats()
    }

    /// A handle for other threads.
    #[must_use]
    pub fn controller(&self) -> Controller {
        self.ctl.clone()
    }

    /// Waits for every worker to exit (after a stop); the first error wins.
    ///
    /// # Errors
    /// A worker's error, or [`ProxyError::Thread`] if one panicked.
    pub fn wait(self) -> Result<(), ProxyError> {
        let mut first = Ok(());
        for (i, t) in self.threads.into_iter().enumerate() {
            let r = t.join().unwrap_or_else(|_| {
                Err(ProxyError::Thread {
                    worker: i,
                    what: "panicked".into(),
                })
            });
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}
