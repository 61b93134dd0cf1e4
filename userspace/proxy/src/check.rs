//! Health checks (HAProxy configuration manual, 5.2 `check`, `inter`,
//! `fastinter`, `downinter`, `rise`, `fall`, `port`, `addr`; 4.2
//! `timeout check`, `option httpchk`, `http-check expect`).
//!
//! Each checked server gets a small thread of its own that sleeps between
//! checks and runs them with blocking sockets bounded by timeouts: checks
//! are few and rare, and one server that swallows packets must not delay
//! the checks of the others. The verdicts go to the workers through
//! [`crate::shared::Health`]; a DOWN server is unusable for every balancing
//! algorithm, exactly like a disabled one, so backups take over when no
//! active server is left.
//!
//! The state machine is HAProxy's: a health counter from 0 to
//! `rise + fall - 1`, UP from `rise` on. A server starts UP at `rise` ("UP,
//! going down"), so the first failed check takes it DOWN; once a check
//! passes it is fully UP and `fall` consecutive failures take it DOWN.
//! From DOWN, `rise` consecutive successes bring it back. The interval is
//! `inter` when fully UP, `downinter` (else `inter`) when fully DOWN, and
//! `fastinter` (else `inter`) in between and before the first check. The
//! first checks of all servers are spread over the smallest interval.
//!
//! Timeouts: with `timeout check`, the connect timeout is the smaller of
//! `timeout connect` and `inter` and `timeout check` bounds the rest; without
//! it, `inter` bounds the whole check.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_config::{Check, CheckKind, Config, ExpectRule, HttpCheck};
use weir_core::acl::Rewrite;

use crate::plan::{Plan, ServerAddrPlan};
use crate::shared::{Shared, HARD_STOP};

/// Largest response kept for `http-check expect string` (HAProxy checks
/// look at one buffer).
const MAX_RESPONSE: usize = 16 * 1024;

/// Longest sleep between two looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// One checked server.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    be: usize,
    srv: usize,
    /// `be/srv`, for logs.
    be_name: String,
    srv_name: String,
    backup: bool,
    /// `weight 0`: "DRAIN" rather than "UP" in `log-health-checks` lines.
    drain: bool,
    /// Where the check connects (`addr`/`port` or the server's).
    addr: SocketAddr,
    params: Check,
    kind: Arc<CheckKind>,
    /// `http-check expect rstatus|rstring`, compiled.
    regex: Option<Arc<Rewrite>>,
    connect_timeout: Duration,
    /// `timeout check` (`None`: `inter` bounds the whole check).
    read_timeout: Option<Duration>,
    /// `option log-health-checks`: log every move of the health counter.
    log_checks: bool,
    /// The backend has `on-marked-down` / `on-marked-up` servers.
    wake_workers: bool,
}

/// The checked servers of `cfg` (the backends of `plan`, in the same order).
/// Disabled servers are not checked: they stay in maintenance.
pub(crate) fn targets(cfg: &Config, plan: &Plan) -> Vec<Target> {
    let mut out = Vec::new();
    for (bi, (be, bp)) in cfg.backends.iter().zip(&plan.backends).enumerate() {
        let kind = Arc::new(be.check_kind.clone());
        // Validated by the configuration parser.
        let regex = match &be.check_kind {
            CheckKind::Http(HttpCheck {
                expect: Some(e), ..
            }) => match &e.rule {
                ExpectRule::RStatus(r) | ExpectRule::RString(r) => {
                    Rewrite::new(r).ok().map(Arc::new)
                }
                _ => None,
            },
            _ => None,
        };
        for (si, (s, sp)) in be.servers.iter().zip(&bp.servers).enumerate() {
            let Some(params) = &s.check else { continue };
            if s.disabled {
                continue;
            }
            let first = match &sp.addr {
                ServerAddrPlan::Fixed(a) => Some(*a),
                ServerAddrPlan::ByPort(v) => v.first().map(|(_, a)| *a),
            };
            let server_addr = first.and_then(|a| plan.addrs.get(a.0 as usize).copied());
            let ip = match (params.addr, server_addr) {
                (Some(ip), _) => ip,
                (None, Some(a)) => a.ip(),
                (None, None) => continue,
            };
            let port = match (params.port, &sp.addr, server_addr) {
                (Some(p), _, _) => p,
                (None, ServerAddrPlan::Fixed(_), Some(a)) => a.port(),
                // The configuration refuses `check` without a port to probe.
                _ => continue,
            };
            let inter = params.inter;
            let connect = be.timeouts.connect.filter(|d| !d.is_zero());
            let read_timeout = be.timeouts.check.filter(|d| !d.is_zero());
            let connect_timeout = match read_timeout {
                Some(_) => connect.map_or(inter, |c| c.min(inter)),
                None => inter,
            };
            out.push(Target {
                be: bi,
                srv: si,
                be_name: be.name.clone(),
                srv_name: s.name.clone(),
                backup: s.backup,
                drain: s.weight == 0,
                addr: SocketAddr::new(ip, port),
                params: params.clone(),
                kind: Arc::clone(&kind),
                regex: regex.clone(),
                connect_timeout,
                read_timeout,
                log_checks: be.log_options.log_health_checks,
                wake_workers: be
                    .servers
                    .iter()
                    .any(|s| s.shutdown_on_down || s.shutdown_backup_on_up),
            });
        }
    }
    out
}

/// Starts one checker thread per target. The threads end at a hard stop
/// (or with the process).
///
/// # Errors
/// The thread could not be spawned.
pub(crate) fn start(
    targets: Vec<Target>,
    shared: &Arc<Shared>,
    plan: &Arc<Plan>,
) -> std::io::Result<()> {
    let n = targets.len() as u32;
    // HAProxy spreads the first checks over the smallest first interval.
    let min_inter = targets
        .iter()
        .map(|t| State::new(&t.params).interval(&t.params))
        .min()
        .unwrap_or_default();
    for (k, t) in targets.into_iter().enumerate() {
        let offset = min_inter * k as u32 / n.max(1);
        let (shared, plan) = (Arc::clone(shared), Arc::clone(plan));
        std::thread::Builder::new()
            .name(format!("weir-chk{k}"))
            .stack_size(128 * 1024)
            .spawn(move || run(&t, offset, &shared, &plan))?;
    }
    Ok(())
}

/// The health counter (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    health: u32,
}

impl State {
    /// UP, going down at the first failure.
    fn new(p: &Check) -> Self {
        State { health: p.rise }
    }

    fn is_up(self, p: &Check) -> bool {
        self.health >= p.rise
    }

    fn full(p: &Check) -> u32 {
        p.rise + p.fall - 1
    }

    /// Records a check; returns true when the server changed side (UP/DOWN).
    fn record(&mut self, p: &Check, ok: bool) -> bool {
        let was = self.is_up(p);
        if ok {
            if self.health < Self::full(p) {
                self.health += 1;
                if self.health >= p.rise {
                    self.health = Self::full(p);
                }
            }
        } else if self.health > 0 {
            self.health -= 1;
            if self.health < p.rise {
                self.health = 0;
            }
        }
        was != self.is_up(p)
    }

    /// Time to the next check.
    fn interval(self, p: &Check) -> Duration {
        if self.health == Self::full(p) {
            p.inter
        } else if self.health == 0 {
            p.downinter.unwrap_or(p.inter)
        } else {
            p.fastinter.unwrap_or(p.inter)
        }
    }
}

/// What one check found: passed or not, and HAProxy's wording of why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    ok: bool,
    /// `Layer4 connection problem, info: "Connection refused"`…
    reason: String,
}

impl Verdict {
    fn pass(reason: impl Into<String>) -> Self {
        Verdict {
            ok: true,
            reason: reason.into(),
        }
    }
    fn fail(reason: impl Into<String>) -> Self {
        Verdict {
            ok: false,
            reason: reason.into(),
        }
    }
}

fn sleep_until(at: Instant, shared: &Shared) -> bool {
    loop {
        if shared.stop.load(Relaxed) >= HARD_STOP {
            return false;
        }
        let now = Instant::now();
        if now >= at {
            return true;
        }
        std::thread::sleep((at - now).min(STOP_POLL));
    }
}

fn run(t: &Target, offset: Duration, shared: &Shared, plan: &Plan) {
    let mut state = State::new(&t.params);
    let mut next = Instant::now() + offset;
    while sleep_until(next, shared) {
        let start = Instant::now();
        let v = check_once(t);
        let took = start.elapsed();
        if shared.stop.load(Relaxed) >= HARD_STOP {
            return;
        }
        let before = state;
        let changed = state.record(&t.params, v.ok);
        if t.log_checks && state != before {
            log_check(t, state, &v, took);
        }
        if changed {
            let up = state.is_up(&t.params);
            shared.health[t.be].set(t.srv, up);
            // Workers act on `on-marked-down` / `on-marked-up` at once.
            if t.wake_workers {
                for w in &*shared.wakers {
                    w.wake();
                }
            }
            report(t, up, &v, took, shared, plan);
        }
        next = (start + state.interval(&t.params)).max(Instant::now());
    }
}

/// `option log-health-checks`: one line per move of the health counter,
/// worded as HAProxy words it.
fn log_check(t: &Target, state: State, v: &Verdict, took: Duration) {
    let p = &t.params;
    let (n, of, side) = if state.is_up(p) {
        let side = if t.drain { "DRAIN" } else { "UP" };
        (state.health - p.rise + 1, p.fall, side)
    } else {
        (state.health, p.rise, "DOWN")
    };
    eprintln!(
        "[WARNING] weir: Health check for {}server {}/{} {}, reason: {}, check duration: {}ms, status: {n}/{of} {side}.",
        if t.backup { "backup " } else { "" },
        t.be_name,
        t.srv_name,
        if v.ok { "succeeded" } else { "failed" },
        v.reason,
        took.as_millis()
    );
}

/// Logs a state change the way HAProxy does.
fn report(t: &Target, up: bool, v: &Verdict, took: Duration, shared: &Shared, plan: &Plan) {
    let health = &shared.health[t.be];
    let (mut act, mut bck) = (0, 0);
    for (i, s) in plan.backends[t.be].servers.iter().enumerate() {
        if !s.disabled && s.weight > 0 && health.is_up(i) {
            if s.backup {
                bck += 1;
            } else {
                act += 1;
            }
        }
    }
    let who = format!(
        "{}Server {}/{}",
        if t.backup { "Backup " } else { "" },
        t.be_name,
        t.srv_name
    );
    let ms = took.as_millis();
    if up {
        eprintln!(
            "[WARNING] weir: {who} is UP, reason: {}, check duration: {ms}ms. {act} active and {bck} backup servers online. 0 sessions requeued, 0 total in queue.",
            v.reason
        );
    } else {
        let sessions = shared.servers[t.be][t.srv].current();
        let on_backup = if act == 0 && bck > 0 {
            " Running on backup."
        } else {
            ""
        };
        eprintln!(
            "[WARNING] weir: {who} is DOWN, reason: {}, check duration: {ms}ms. {act} active and {bck} backup servers left.{on_backup} {sessions} sessions active, 0 requeued, 0 remaining in queue.",
            v.reason
        );
        if act == 0 && bck == 0 {
            eprintln!(
                "[ALERT] weir: backend '{}' has no server available!",
                t.be_name
            );
        }
    }
}

/// The OS message without std's " (os error N)" suffix.
fn os_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Runs one check.
fn check_once(t: &Target) -> Verdict {
    let start = Instant::now();
    let stream = match TcpStream::connect_timeout(&t.addr, t.connect_timeout) {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            return Verdict::fail("Layer4 timeout");
        }
        Err(e) => {
            return Verdict::fail(format!(
                "Layer4 connection problem, info: \"{}\"",
                os_message(&e)
            ))
        }
    };
    match &*t.kind {
        CheckKind::Tcp => Verdict::pass("Layer4 check passed"),
        CheckKind::Http(h) => {
            // Without `timeout check`, `inter` bounds connect and response.
            let deadline = match t.read_timeout {
                Some(r) => Instant::now() + r,
                None => start + t.params.inter,
            };
            http_check(stream, h, t.regex.as_deref(), deadline)
        }
    }
}

/// The request `option httpchk` sends, byte for byte as HAProxy 2.6 sends
/// it: header names in lower case, `content-length` with a body, and
/// `connection: close` unless the version is HTTP/1.0 (where it is implied).
fn http_request(h: &HttpCheck) -> Vec<u8> {
    let mut r = format!("{} {} {}\r\n", h.method, h.uri, h.version);
    for (n, v) in &h.headers {
        r.push_str(&format!("{}: {v}\r\n", n.to_ascii_lowercase()));
    }
    let has = |name: &str| h.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if let Some(b) = &h.body {
        if !has("content-length") {
            r.push_str(&format!("content-length: {}\r\n", b.len()));
        }
    }
    if !has("connection") && !h.version.eq_ignore_ascii_case("HTTP/1.0") {
        r.push_str("connection: close\r\n");
    }
    r.push_str("\r\n");
    if let Some(b) = &h.body {
        r.push_str(b);
    }
    r.into_bytes()
}

fn http_check(mut s: TcpStream, h: &HttpCheck, re: Option<&Rewrite>, deadline: Instant) -> Verdict {
    let remaining = |d: Instant| d.saturating_duration_since(Instant::now());
    let timeout = || Verdict::fail("Layer7 timeout");
    let io_fail = |e: &std::io::Error| {
        if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) {
            Verdict::fail("Layer7 timeout")
        } else {
            Verdict::fail(format!(
                "Layer4 connection problem, info: \"{}\"",
                os_message(e)
            ))
        }
    };
    let left = remaining(deadline);
    if left.is_zero() {
        return timeout();
    }
    if let Err(e) = s
        .set_write_timeout(Some(left))
        .and_then(|()| s.write_all(&http_request(h)))
    {
        return io_fail(&e);
    }
    let needs_body = matches!(
        h.expect.as_ref().map(|e| &e.rule),
        Some(ExpectRule::String(_) | ExpectRule::RString(_))
    );
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut eof = false;
    loop {
        if response_complete(&buf, needs_body) == Some(true) {
            break;
        }
        if eof || buf.len() >= MAX_RESPONSE {
            break;
        }
        let left = remaining(deadline);
        if left.is_zero() {
            return timeout();
        }
        if let Err(e) = s.set_read_timeout(Some(left)) {
            return io_fail(&e);
        }
        match s.read(&mut chunk) {
            Ok(0) => eof = true,
            Ok(n) => {
                let room = MAX_RESPONSE - buf.len();
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                // A reset after a complete status line still lets the
                // status rules judge.
                if buf.windows(2).any(|w| w == b"\r\n") && !needs_body {
                    break;
                }
                return io_fail(&e);
            }
        }
    }
    judge(&buf, h, re)
}

/// `Some(true)` once enough of the response is in: the status line (and,
/// for a body match, the whole body by `Content-Length`; otherwise the
/// caller reads to the end of the stream).
fn response_complete(buf: &[u8], needs_body: bool) -> Option<bool> {
    if !needs_body {
        return Some(buf.windows(2).any(|w| w == b"\r\n"));
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let len = head.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    })?;
    Some(buf.len() >= end.saturating_add(len))
}

/// Parses `HTTP/1.x CODE REASON` from the start of `buf`.
fn status_line(buf: &[u8]) -> Option<(u16, String)> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[..end]).ok()?;
    let mut parts = line.splitn(3, ' ');
    let ver = parts.next()?;
    if !ver.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((code.parse().ok()?, parts.next().unwrap_or("").to_owned()))
}

/// Applies `http-check expect` (default: 2xx and 3xx pass) to a response.
fn judge(buf: &[u8], h: &HttpCheck, re: Option<&Rewrite>) -> Verdict {
    let Some((code, reason)) = status_line(buf) else {
        return Verdict::fail(if buf.is_empty() {
            "Layer7 invalid response, info: \"Empty response\"".to_owned()
        } else {
            "Layer7 invalid response, info: \"Invalid HTTP status line\"".to_owned()
        });
    };
    let passed = format!("Layer7 check passed, code: {code}, info: \"{reason}\"");
    let wrong = format!("Layer7 wrong status, code: {code}, info: \"{reason}\"");
    let Some(expect) = &h.expect else {
        return if (200..400).contains(&code) {
            Verdict::pass(passed)
        } else {
            Verdict::fail(wrong)
        };
    };
    match &expect.rule {
        ExpectRule::Status(ranges) => {
            let hit = ranges.iter().any(|(a, b)| (*a..=*b).contains(&code));
            if hit != expect.negate {
                Verdict::pass(passed)
            } else {
                Verdict::fail(wrong)
            }
        }
        ExpectRule::RStatus(_) => {
            let hit = re.is_some_and(|re| re.is_match(code.to_string().as_bytes()));
            if hit != expect.negate {
                Verdict::pass(passed)
            } else {
                Verdict::fail(wrong)
            }
        }
        ExpectRule::String(_) | ExpectRule::RString(_) => {
            let body = buf
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(&[][..], |i| &buf[i + 4..]);
            let hit = match &expect.rule {
                ExpectRule::String(text) => {
                    !text.is_empty() && body.windows(text.len()).any(|w| w == text.as_bytes())
                }
                _ => re.is_some_and(|re| re.is_match(body)),
            };
            if hit != expect.negate {
                Verdict::pass(passed)
            } else {
                Verdict::fail(format!(
                    "Layer7 invalid response, code: {code}, info: \"HTTP content check {}\"",
                    if expect.negate {
                        "matched"
                    } else {
                        "did not match"
                    }
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_config::HttpExpect;

    fn params(rise: u32, fall: u32) -> Check {
        Check {
            inter: Duration::from_millis(1000),
            fastinter: Some(Duration::from_millis(100)),
            downinter: Some(Duration::from_millis(3000)),
            rise,
            fall,
            ..Check::default()
        }
    }

    #[test]
    fn targets_from_configuration() {
        let cfg = weir_config::parse_str(
            "t.cfg",
            "defaults\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
             frontend f\n bind 127.0.0.1:8000\n bind 127.0.0.1:8001\n default_backend b\n\
             backend b\n timeout check 500ms\n\
             \x20server a 127.0.0.1:80 check addr 127.0.0.2 port 8080 inter 3s backup\n\
             \x20server p 127.0.0.3 check port 9000 inter 200ms\n\
             \x20server off 127.0.0.1:81 check disabled\n\
             \x20server plain 127.0.0.1:82\n\
             backend c\n option httpchk\n http-check expect rstatus ^2\n\
             \x20server s 127.0.0.1:83 check inter 5s\n",
        )
        .unwrap();
        let plan = Plan::new(&cfg).unwrap();
        let t = targets(&cfg, &plan);
        let got: Vec<_> = t
            .iter()
            .map(|t| {
                (
                    (t.be, t.srv, t.srv_name.as_str(), t.backup),
                    t.addr.to_string(),
                    t.connect_timeout.as_millis(),
                    t.read_timeout.map(|d| d.as_millis()),
                    t.regex.is_some(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                // With `timeout check`: connect in min(timeout connect, inter).
                (
                    (0, 0, "a", true),
                    "127.0.0.2:8080".into(),
                    1000,
                    Some(500),
                    false
                ),
                (
                    (0, 1, "p", false),
                    "127.0.0.3:9000".into(),
                    200,
                    Some(500),
                    false
                ),
                // Without: `inter` bounds the whole check.
                ((1, 0, "s", false), "127.0.0.1:83".into(), 5000, None, true),
            ]
        );
    }

    #[test]
    fn starts_up_and_falls_at_first_failure() {
        let p = params(2, 3);
        let mut s = State::new(&p);
        assert!(s.is_up(&p));
        assert_eq!(s.interval(&p), Duration::from_millis(100));
        assert!(s.record(&p, false));
        assert!(!s.is_up(&p));
        assert_eq!(s.interval(&p), Duration::from_millis(3000));
    }

    #[test]
    fn fall_failures_then_rise_successes() {
        let p = params(2, 3);
        let mut s = State::new(&p);
        assert!(!s.record(&p, true));
        assert_eq!(s.interval(&p), Duration::from_millis(1000));
        assert!(!s.record(&p, false));
        assert_eq!(s.interval(&p), Duration::from_millis(100));
        assert!(!s.record(&p, false));
        assert!(s.record(&p, false), "DOWN after fall=3 failures");
        assert!(!s.record(&p, true));
        assert_eq!(s.interval(&p), Duration::from_millis(100));
        assert!(s.record(&p, true), "UP after rise=2 successes");
        assert_eq!(s.interval(&p), Duration::from_millis(1000));
        // A success in between resets the failure count.
        s.record(&p, false);
        s.record(&p, false);
        s.record(&p, true);
        s.record(&p, false);
        s.record(&p, false);
        assert!(s.is_up(&p));
    }

    #[test]
    fn rise_and_fall_of_one() {
        let p = params(1, 1);
        let mut s = State::new(&p);
        assert_eq!(s.interval(&p), Duration::from_millis(1000));
        assert!(s.record(&p, false));
        assert!(s.record(&p, true));
    }

    fn http(expect: Option<HttpExpect>) -> HttpCheck {
        HttpCheck {
            method: "GET".into(),
            uri: "/health".into(),
            version: "HTTP/1.1".into(),
            headers: vec![("Host".into(), "x".into())],
            body: None,
            expect,
        }
    }

    #[test]
    fn request_text() {
        assert_eq!(
            http_request(&http(None)),
            b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        );
        let mut h = http(None);
        h.body = Some("ping".into());
        h.version = "HTTP/1.0".into();
        assert_eq!(
            http_request(&h),
            b"GET /health HTTP/1.0\r\nhost: x\r\ncontent-length: 4\r\n\r\nping"
        );
    }

    #[test]
    fn judging_responses() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong";
        let err = b"HTTP/1.1 500 Internal Server Error\r\n\r\n";
        let redirect = b"HTTP/1.0 302 Found\r\n\r\n";
        assert_eq!(
            judge(ok, &http(None), None),
            Verdict::pass("Layer7 check passed, code: 200, info: \"OK\"")
        );
        assert!(judge(redirect, &http(None), None).ok);
        assert_eq!(
            judge(err, &http(None), None),
            Verdict::fail("Layer7 wrong status, code: 500, info: \"Internal Server Error\"")
        );
        let st = |negate, r: Vec<(u16, u16)>| {
            http(Some(HttpExpect {
                negate,
                rule: ExpectRule::Status(r),
            }))
        };
        assert!(!judge(redirect, &st(false, vec![(200, 200)]), None).ok);
        assert!(judge(err, &st(false, vec![(200, 200), (500, 599)]), None).ok);
        assert!(!judge(err, &st(true, vec![(500, 599)]), None).ok);
        assert!(judge(redirect, &st(true, vec![(500, 599)]), None).ok);
        let s = |negate, t: &str| {
            http(Some(HttpExpect {
                negate,
                rule: ExpectRule::String(t.into()),
            }))
        };
        assert!(judge(ok, &s(false, "pon"), None).ok);
        assert!(!judge(ok, &s(false, "OK"), None).ok, "the body only");
        assert!(!judge(ok, &s(true, "pong"), None).ok);
        assert!(!judge(b"", &http(None), None).ok);
        assert!(!judge(b"SSH-2.0-x\r\n", &http(None), None).ok);
        assert!(!judge(b"HTTP/1.1 20 OK\r\n", &http(None), None).ok);
    }

    #[test]
    fn regex_matches() {
        let ok = b"HTTP/1.1 204 No Content\r\n\r\nstatus=green";
        let e = |negate, rule| http(Some(HttpExpect { negate, rule }));
        let rs = Rewrite::new("^2").unwrap();
        let rb = Rewrite::new("status=(green|yellow)").unwrap();
        assert!(judge(ok, &e(false, ExpectRule::RStatus("^2".into())), Some(&rs)).ok);
        assert!(!judge(ok, &e(true, ExpectRule::RStatus("^2".into())), Some(&rs)).ok);
        let r = ExpectRule::RString("status=(green|yellow)".into());
        assert!(judge(ok, &e(false, r.clone()), Some(&rb)).ok);
        assert!(
            !judge(
                b"HTTP/1.1 200 OK\r\n\r\nstatus=red",
                &e(false, r),
                Some(&rb)
            )
            .ok
        );
    }

    #[test]
    fn arbitrary_responses_never_panic() {
        // xorshift: bytes biased towards what the parsers look for.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"HTTP/1.0 2\r\n:content-length9 ";
        let rs = Rewrite::new("^2").unwrap();
        for len in 0..2000usize {
            let buf: Vec<u8> = (0..len % 200)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x.is_multiple_of(4) {
                        x as u8
                    } else {
                        alphabet[(x >> 8) as usize % alphabet.len()]
                    }
                })
                .collect();
            let _ = response_complete(&buf, len.is_multiple_of(2));
            let _ = judge(&buf, &http(None), None);
            let e = HttpExpect {
                negate: false,
                rule: ExpectRule::RStatus("^2".into()),
            };
            let _ = judge(&buf, &http(Some(e)), Some(&rs));
        }
    }

    #[test]
    fn completeness() {
        assert_eq!(response_complete(b"HTTP/1.1 200", false), Some(false));
        assert_eq!(response_complete(b"HTTP/1.1 200 OK\r\n", false), Some(true));
        assert_eq!(response_complete(b"HTTP/1.1 200 OK\r\n", true), None);
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npo";
        assert_eq!(response_complete(r, true), Some(false));
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong";
        assert_eq!(response_complete(r, true), Some(true));
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551615\r\n\r\npong";
        assert_eq!(response_complete(r, true), Some(false));
    }
}
