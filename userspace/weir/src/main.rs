//! The `weir` binary: command line, start-up order, privileges, signals and
//! wiring of the configuration (weir-config) to the proxy (weir-proxy).
//!
//! It holds no logic a test would want beyond small pure helpers (tested in
//! their modules); the behaviour is tested end to end from `tests/`.
//! It must not touch the data path: everything after `run` is the workers'.
#![forbid(unsafe_code)]

mod cli;
mod daemon;
mod engine;
mod features;
mod files;
mod kernel;
mod limits;
mod privileges;
mod stats;
mod steer;
mod supervise;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use weir_config::Config;

use crate::cli::{Action, Options};

/// The configuration weir runs when started without `-f`; the file lives at
/// userspace/weir/src/quickstart.cfg.
const QUICKSTART: &str = include_str!("quickstart.cfg");
/// The name the quickstart configuration carries in messages.
const QUICKSTART_NAME: &str = "<embedded quickstart.cfg>";

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("weir: {e}\n{}", cli::USAGE);
            return ExitCode::from(1);
        }
    };
    let log = Log::new(&opts);
    let result = match opts.action {
        Action::Help => {
            print!("{}", cli::USAGE);
            Ok(())
        }
        Action::Version => {
            println!("{}", features::version_line());
            Ok(())
        }
        Action::VersionVerbose => {
            print!("{}", features::report());
            Ok(())
        }
        Action::Check => check(&opts, &log),
        Action::Run => run(&opts, &log),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Where messages go: stderr, filtered by `-q`/`-V`/`-d`.
#[derive(Debug, Clone, Copy)]
struct Log {
    quiet: bool,
    debug: bool,
}

impl Log {
    fn new(opts: &Options) -> Self {
        Self {
            quiet: opts.quiet && !opts.verbose,
            debug: opts.debug,
        }
    }

    /// A notice or warning, hidden by `-q`.
    fn info(&self, msg: &str) {
        if !self.quiet {
            eprintln!("weir: {msg}");
        }
    }

    /// A `-d` line: shown only in debug mode.
    fn debug(&self, msg: &str) {
        if self.debug {
            eprintln!("weir: [debug] {msg}");
        }
    }
}

/// Reads the configuration: the `-f` files (directories expanded), or the
/// embedded quickstart when there are none. Returns it with the list of
/// what was read, for messages.
fn load(opts: &Options) -> anyhow::Result<(Config, Vec<PathBuf>)> {
    if opts.config_paths.is_empty() {
        let config = weir_config::parse_str(QUICKSTART_NAME, QUICKSTART)?;
        return Ok((config, vec![PathBuf::from(QUICKSTART_NAME)]));
    }
    let files = files::expand(&opts.config_paths)?;
    if files.is_empty() {
        anyhow::bail!("no *.cfg file found in the given configuration paths");
    }
    let config = weir_config::load_files(&files)?;
    Ok((config, files))
}

/// The configuration's warnings (accepted lines with a caveat, as HAProxy
/// warns), each `FILE:LINE: [section] message`; hidden by `-q`.
fn print_warnings(config: &Config, log: &Log) {
    for w in &config.warnings {
        log.info(&format!("warning: {w}"));
    }
}

/// `-c`: parse and validate, bind nothing. With `-q` only the exit status
/// tells the result, as with HAProxy.
fn check(opts: &Options, log: &Log) -> anyhow::Result<()> {
    let (config, _) = load(opts)?;
    print_warnings(&config, log);
    if !log.quiet {
        println!("Configuration file is valid");
    }
    Ok(())
}

/// The start-up order matters: configuration (nothing bound on error) →
/// open-files limit → bind (errors name the bind line) → stats sockets
/// (stats.rs: created with their mode and owner) → SK_REUSEPORT steering of
/// each complete listener group (steer.rs) → load and attach the
/// `xdp` sections (kernel.rs) → drop privileges → daemonize (a fork: before
/// any worker thread exists) → pidfile → workers → stats sockets served →
/// old processes of a reload signalled (`-sf`/`-st`) → signal loop.
fn run(opts: &Options, log: &Log) -> anyhow::Result<()> {
    let (config, files) = load(opts)?;
    print_warnings(&config, log);
    if opts.config_paths.is_empty() && !log.quiet {
        eprintln!(
            "weir: no -f given: running the embedded quickstart configuration \
             (userspace/weir/src/quickstart.cfg), which is:\n\
             ----8<----\n{QUICKSTART}----8<----\n\
             weir: the comments at the top say what it serves and how to try it. \
             Use `weir -f FILE` for your own configuration."
        );
    } else {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        log.debug(&format!("configuration read from {}", names.join(", ")));
    }
    let config = Arc::new(config);

    check_fd_limit(&config, log);
    let plan = privileges::plan(&config.global)?;
    let pidfile_path = opts
        .pidfile
        .clone()
        .or_else(|| config.global.pidfile.clone());
    let pidfile = pidfile_path
        .as_deref()
        .map(daemon::PidFile::create)
        .transpose()?;

    let bound = engine::bind(Arc::clone(&config))?;
    for line in engine::listening(&bound) {
        log.debug(&line);
    }
    // Stats sockets: created with their mode and owner while privileges
    // still allow it; served once the workers run.
    let stats_sockets = stats::bind(&config)?;
    // SK_REUSEPORT steering: every group complete, privileges still held.
    let steering = steer::start(&config, &bound, log)?;
    // XDP sections load here: after binding, while privileges still allow it.
    let mut xdp = kernel::start(&config, log, opts.old_pids.is_some())?;

    if !plan.is_empty() {
        privileges::apply(&plan)?;
        log.debug(&format!("privileges dropped: {plan:?}"));
    }
    let daemon = (opts.daemon || config.global.daemon) && !opts.foreground();
    if daemon {
        daemon::daemonize()?;
    }
    if let Some(p) = pidfile {
        p.write_own_pid()?;
    }
    // Registered before the workers start so that no early signal is lost
    // to the default action (which would kill the process mid-start).
    let mut signals = signal_hook::iterator::Signals::new(supervise::SIGNALS)
        .context("cannot install signal handlers")?;
    let running = engine::run(bound)?;
    // Dropped at the end of `run`: the socket files are removed on stop.
    let _stats = stats_sockets.serve(&running.controller())?;
    log.info(&format!(
        "started, pid {}, {} frontend(s)",
        std::process::id(),
        config.frontends.len()
    ));
    // A reload: this process serves now (listeners bound with SO_REUSEPORT,
    // XDP attachments taken over): the old ones finish or stop.
    if let Some((kind, pids)) = &opts.old_pids {
        signal_old(*kind, pids, log);
    }
    xdp.commit();
    supervise::supervise(
        &running,
        || {
            xdp.poll();
            let got: Vec<i32> = signals.pending().collect();
            if got.iter().any(|s| supervise::STOPS.contains(s)) {
                xdp.stop_requested();
            }
            got
        },
        config.global.hard_stop_after,
        &mut |line: &str| log.info(line),
    );
    steering.report(&running.accepted_per_worker(), log);
    running.finish().context("proxy stopped with an error")?;
    drop(steering);
    drop(xdp);
    log.info("stopped");
    Ok(())
}

/// `-sf`: SIGUSR1 (finish the sessions, then exit); `-st`: SIGTERM (stop
/// now). A PID that cannot be signalled is reported; start-up goes on.
fn signal_old(kind: cli::OldProcesses, pids: &[i32], log: &Log) {
    use nix::sys::signal::Signal;
    let (sig, flag) = match kind {
        cli::OldProcesses::Finish => (Signal::SIGUSR1, "-sf"),
        cli::OldProcesses::Terminate => (Signal::SIGTERM, "-st"),
    };
    let own = std::process::id() as i32;
    for &pid in pids.iter().filter(|&&p| p != own) {
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
            Ok(()) => log.info(&format!(
                "{flag}: sent {} to old process {pid}",
                sig.as_str()
            )),
            Err(e) => log.info(&format!(
                "{flag}: cannot signal old process {pid}: {}",
                e.desc()
            )),
        }
    }
}

/// Raises the soft open-files limit and warns when `maxconn` needs more.
fn check_fd_limit(config: &Config, log: &Log) {
    let limit = match limits::raise_nofile() {
        Ok(l) => l,
        Err(e) => {
            log.info(&format!("cannot raise the open-files limit: {e}"));
            return;
        }
    };
    let threads = config.global.nbthread.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }) as u64;
    let binds: u64 = config.frontends.iter().map(|f| f.binds.len() as u64).sum();
    // Without a global maxconn, the proxy sizes itself from the limit.
    let Some(maxconn) = config.global.maxconn.map(u64::from) else {
        return;
    };
    let needed = limits::fds_needed(maxconn, binds * threads);
    if let Some(w) = limits::shortfall_warning(limit, needed, maxconn) {
        log.info(&w);
    }
}
