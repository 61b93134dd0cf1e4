//! The proxy as the binary sees it: bind, run, and a stop/wait handle for
//! the supervisor. A thin layer over weir-proxy that turns its blocking
//! `wait` into a time-boxed one, so the main thread can keep handling
//! signals while the workers run.

use std::cell::RefCell;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use weir_config::Config;
use weir_proxy::{Bound, Controller, ProxyError};

use crate::supervise::Control;

/// Binds every listener. The error names the bind line.
pub fn bind(config: Arc<Config>) -> anyhow::Result<Bound> {
    Ok(weir_proxy::bind(config)?)
}

/// One line per listening address, for `-d`.
pub fn listening(bound: &Bound) -> Vec<String> {
    bound
        .local_addrs()
        .iter()
        .map(|(name, addr)| format!("frontend '{name}' listening on {addr}"))
        .collect()
}

/// Running workers, watched by a thread that reports when they all exit.
pub struct Engine {
    ctl: Controller,
    done: mpsc::Receiver<Result<(), ProxyError>>,
    result: RefCell<Option<Result<(), ProxyError>>>,
}

/// Starts the workers.
pub fn run(bound: Bound) -> anyhow::Result<Engine> {
    let running = bound.run()?;
    let ctl = running.controller();
    let (tx, done) = mpsc::channel();
    std::thread::Builder::new()
        .name("weir-wait".into())
        .spawn(move || {
            let _ = tx.send(running.wait());
        })?;
    Ok(Engine {
        ctl,
        done,
        result: RefCell::new(None),
    })
}

impl Engine {
    /// A handle for other threads (the stats socket).
    pub fn controller(&self) -> Controller {
        self.ctl.clone()
    }

    /// Connections accepted by each worker.
    pub fn accepted_per_worker(&self) -> Vec<u64> {
        self.ctl.accepted_per_worker()
    }

    /// The workers' exit status, once `wait_for` returned true.
    pub fn finish(self) -> Result<(), ProxyError> {
        match self.result.into_inner() {
            Some(r) => r,
            None => self.done.recv().unwrap_or(Ok(())),
        }
    }
}

impl Control for Engine {
    fn soft_stop(&self) {
        self.ctl.soft_stop();
    }

    fn hard_stop(&self) {
        self.ctl.hard_stop();
    }

    fn wait_for(&self, d: Duration) -> bool {
        if self.result.borrow().is_some() {
            return true;
        }
        match self.done.recv_timeout(d) {
            Ok(r) => {
                *self.result.borrow_mut() = Some(r);
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            // The waiter thread is gone without a result: nothing left to wait for.
            Err(mpsc::RecvTimeoutError::Disconnected) => true,
        }
    }
}
