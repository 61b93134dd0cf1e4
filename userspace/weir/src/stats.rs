//! The `stats socket` listeners (HAProxy's runtime API, the commands weir
//! has so far): bound at start-up while privileges still allow it (with the
//! configured `mode` and owner), served by one small accepting thread per
//! socket, each connection on its own short-lived thread, and the UNIX
//! socket file removed on stop.
//!
//! A connection sends a line of commands separated by `;`, gets the
//! answers and is closed, unless it entered `prompt` mode, where it gets
//! a `> ` prompt after each line until `quit`. `stats timeout` bounds the
//! wait for a line and for a write (HAProxy's default: 10s).

use std::io::{BufRead as _, BufReader, Read as _, Write};
use std::net::TcpListener;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use weir_config::{Config, StatsAddr, StatsLevel, StatsSocket};
use weir_proxy::capture::Direction;
use weir_proxy::Controller;

/// HAProxy's default `stats timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest command line accepted.
const MAX_LINE: usize = 16 * 1024;
/// Connections served at once over all sockets; more are closed at once.
const MAX_CLIENTS: usize = 16;

/// The supported commands, as `help` lists them.
const USAGE: &str = "\
The following commands are valid at this level:
  help           : this message
  prompt         : toggle interactive mode with prompt
  quit           : disconnect
  show errors    : report last request and response errors for each proxy
";

/// A bound listener.
enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// One bound `stats socket`.
struct Bound {
    listener: Listener,
    level: StatsLevel,
    /// The socket file and its (device, inode), removed on stop if it is
    /// still ours (a reloaded process may have replaced it).
    file: Option<(PathBuf, u64, u64)>,
}

/// The stats sockets, bound and not served yet.
pub struct StatsSockets {
    bound: Vec<Bound>,
    timeout: Duration,
}

/// The sockets being served; dropping it removes the socket files.
#[derive(Default)]
pub struct Serving {
    files: Vec<(PathBuf, u64, u64)>,
}

/// Binds every `stats socket` line. Errors name the line.
pub fn bind(config: &Config) -> anyhow::Result<StatsSockets> {
    // On an error the sockets bound so far are dropped: their files go.
    let mut out = StatsSockets {
        bound: Vec::new(),
        timeout: config.global.stats_timeout.unwrap_or(DEFAULT_TIMEOUT),
    };
    for s in &config.global.stats_sockets {
        let b = bind_one(s).map_err(|e| anyhow!("{}: [global] {e:#}", s.loc))?;
        out.bound.push(b);
    }
    Ok(out)
}

fn bind_one(s: &StatsSocket) -> anyhow::Result<Bound> {
    match &s.addr {
        StatsAddr::Unix(path) => {
            let shown = path.display();
            // A socket file left by a previous run (or the process being
            // reloaded) is replaced, as HAProxy does; anything else is not.
            if let Ok(m) = std::fs::symlink_metadata(path) {
                if !m.file_type().is_socket() {
                    return Err(anyhow!(
                        "cannot bind stats socket {shown}: the path exists and is not a socket"
                    ));
                }
                std::fs::remove_file(path)
                    .with_context(|| format!("cannot replace stats socket {shown}"))?;
            }
            let l = UnixListener::bind(path)
                .with_context(|| format!("cannot bind stats socket {shown}"))?;
            let cleanup = |e: anyhow::Error| {
                let _ = std::fs::remove_file(path);
                e
            };
            if let Some(mode) = s.mode {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .with_context(|| format!("cannot set mode {mode:o} on stats socket {shown}"))
                    .map_err(cleanup)?;
            }
            let (uid, gid) = owner(s).map_err(cleanup)?;
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::chown(path, uid, gid)
                    .with_context(|| format!("cannot change the owner of stats socket {shown}"))
                    .map_err(cleanup)?;
            }
            let m = std::fs::symlink_metadata(path)
                .with_context(|| format!("cannot stat stats socket {shown}"))
                .map_err(cleanup)?;
            Ok(Bound {
                listener: Listener::Unix(l),
                level: s.level,
                file: Some((path.clone(), m.dev(), m.ino())),
            })
        }
        StatsAddr::Inet(a) => Ok(Bound {
            listener: Listener::Tcp(
                TcpListener::bind(a).with_context(|| format!("cannot bind stats socket {a}"))?,
            ),
            level: s.level,
            file: None,
        }),
        StatsAddr::Fd(fd) => Err(anyhow!(
            "stats socket fd@{fd}: an inherited stats socket is not supported by weir yet"
        )),
    }
}

/// The `uid`/`gid`/`user`/`group` options (numbers win over names).
fn owner(s: &StatsSocket) -> anyhow::Result<(Option<u32>, Option<u32>)> {
    let uid = match (s.uid, &s.user) {
        (Some(u), _) => Some(u),
        (None, Some(name)) => Some(
            nix::unistd::User::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| anyhow!("stats socket: unknown user '{name}'"))?
                .uid
                .as_raw(),
        ),
        (None, None) => None,
    };
    let gid = match (s.gid, &s.group) {
        (Some(g), _) => Some(g),
        (None, Some(name)) => Some(
            nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| anyhow!("stats socket: unknown group '{name}'"))?
                .gid
                .as_raw(),
        ),
        (None, None) => None,
    };
    Ok((uid, gid))
}

impl StatsSockets {
    /// Starts serving (after the workers started: the answers read them).
    pub fn serve(mut self, ctl: &Controller) -> anyhow::Result<Serving> {
        let clients = Arc::new(AtomicUsize::new(0));
        let bound = std::mem::take(&mut self.bound);
        // From here the files are `Serving`'s to remove (also on error).
        let mut serving = Serving {
            files: bound.iter().filter_map(|b| b.file.clone()).collect(),
        };
        for (i, b) in bound.into_iter().enumerate() {
            let (ctl, clients, level, timeout) =
                (ctl.clone(), Arc::clone(&clients), b.level, self.timeout);
            let listener = b.listener;
            std::thread::Builder::new()
                .name(format!("weir-stats{i}"))
                .spawn(move || accept_loop(&listener, &ctl, &clients, level, timeout))
                .context("cannot start the stats socket thread")?;
        }
        Ok(std::mem::take(&mut serving))
    }
}

/// Not served (start-up failed before the workers ran): the files go.
impl Drop for StatsSockets {
    fn drop(&mut self) {
        drop(Serving {
            files: self.bound.iter().filter_map(|b| b.file.clone()).collect(),
        });
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        for (path, dev, ino) in &self.files {
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.dev() == *dev && m.ino() == *ino) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// A connected client of either kind.
trait Stream: std::io::Read + Write + Send + 'static {
    fn timeouts(&self, t: Duration) -> std::io::Result<()>;
}

impl Stream for std::os::unix::net::UnixStream {
    fn timeouts(&self, t: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

impl Stream for std::net::TcpStream {
    fn timeouts(&self, t: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

fn accept_loop(
    l: &Listener,
    ctl: &Controller,
    clients: &Arc<AtomicUsize>,
    level: StatsLevel,
    timeout: Duration,
) {
    loop {
        let stream: Box<dyn Stream> = match l {
            Listener::Unix(l) => match l.accept() {
                Ok((s, _)) => Box::new(s),
                Err(_) => {
                    // EMFILE and friends: do not spin.
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            },
            Listener::Tcp(l) => match l.accept() {
                Ok((s, _)) => Box::new(s),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            },
        };
        if clients.fetch_add(1, Ordering::Relaxed) >= MAX_CLIENTS {
            clients.fetch_sub(1, Ordering::Relaxed);
            continue; // dropped: closed
        }
        let (ctl, clients2) = (ctl.clone(), Arc::clone(clients));
        let spawned = std::thread::Builder::new()
            .name("weir-statsc".into())
            .spawn(move || {
                if stream.timeouts(timeout).is_ok() {
                    let _ = serve_client(stream, &ctl, level);
                }
                clients2.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            clients.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Serves one connection until `quit`, the end of a non-interactive line,
/// EOF, an error or the timeout.
fn serve_client(
    stream: Box<dyn Stream>,
    ctl: &Controller,
    level: StatsLevel,
) -> std::io::Result<()> {
    let mut r = BufReader::new(stream);
    let mut prompt = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        let mut out = String::new();
        let quit = if line.len() > MAX_LINE && !line.ends_with(b"\n") {
            out.push_str("Command line too long.\n");
            true
        } else {
            let text = String::from_utf8_lossy(&line);
            let (o, q) = run_line(text.trim_end_matches(['\n', '\r']), ctl, level, &mut prompt);
            out = o;
            q
        };
        if prompt && !quit {
            out.push_str("\n> ");
        }
        r.get_mut().write_all(out.as_bytes())?;
        r.get_mut().flush()?;
        if quit || !prompt {
            return Ok(());
        }
    }
}

/// Runs a line of `;`-separated commands. Returns the answer and whether
/// the connection ends.
fn run_line(line: &str, ctl: &Controller, level: StatsLevel, prompt: &mut bool) -> (String, bool) {
    let mut out = String::new();
    for cmd in line.split(';') {
        let words: Vec<&str> = cmd.split_ascii_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["quit"] => return (out, true),
            ["prompt", ..] => *prompt = !*prompt,
            ["help", ..] => out.push_str(USAGE),
            ["show", "errors", rest @ ..] => out.push_str(&show_errors(rest, ctl, level)),
            _ => {
                out.push_str(&format!("Unknown command: '{}'\n", words.join(" ")));
                out.push_str(USAGE);
            }
        }
    }
    (out, false)
}

fn show_errors(args: &[&str], ctl: &Controller, level: StatsLevel) -> String {
    // HAProxy requires the operator level: the captures hold client data.
    if level == StatsLevel::User {
        return "Permission denied\n".into();
    }
    let (proxy, dir) = match args {
        [] => (None, None),
        [d @ ("request" | "response")] => (None, direction(d)),
        [p] => (Some(*p), None),
        [p, d @ ("request" | "response")] => (Some(*p), direction(d)),
        _ => return "Usage: show errors [<proxy>|<id>|-1] [request|response]\n".into(),
    };
    match ctl.show_errors(proxy, dir) {
        Ok(s) | Err(s) => s,
    }
}

fn direction(d: &str) -> Option<Direction> {
    match d {
        "request" => Some(Direction::Request),
        "response" => Some(Direction::Response),
        _ => None,
    }
}
