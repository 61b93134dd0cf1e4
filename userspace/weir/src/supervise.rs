//! The main thread's loop once the workers run: turns signals into stop
//! requests and enforces `hard-stop-after`.
//!
//! SIGTERM/SIGINT stop at once (HAProxy's hard stop); SIGUSR1 stops
//! listening and lets sessions finish (soft stop), closing what remains after
//! `hard-stop-after`; SIGHUP is logged: reload is not implemented yet and
//! weir does not pretend otherwise.

use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

/// The signals `supervise` handles.
pub const SIGNALS: [i32; 4] = [SIGTERM, SIGINT, SIGUSR1, SIGHUP];

/// The signals that stop weir, softly or not.
pub const STOPS: [i32; 3] = [SIGTERM, SIGINT, SIGUSR1];

/// What the supervisor needs from the running proxy.
pub trait Control {
    /// Stop accepting; running sessions go on.
    fn soft_stop(&self);
    /// Close everything now.
    fn hard_stop(&self);
    /// Waits at most `d`; true once every worker has finished.
    fn wait_for(&self, d: Duration) -> bool;
}

/// How often pending signals are looked at while waiting for the workers.
const TICK: Duration = Duration::from_millis(50);

/// Runs until the proxy has finished. `pending` returns the signals received
/// since its last call; `log` prints one line.
pub fn supervise(
    control: &impl Control,
    mut pending: impl FnMut() -> Vec<i32>,
    hard_stop_after: Option<Duration>,
    log: &mut impl FnMut(&str),
) {
    let mut hard_deadline: Option<Instant> = None;
    let mut hard_stopped = false;
    let mut soft_stopped = false;
    loop {
        for sig in pending() {
            match sig {
                SIGTERM | SIGINT if !hard_stopped => {
                    log(&format!("received {}: stopping now", name(sig)));
                    control.hard_stop();
                    hard_stopped = true;
                }
                SIGUSR1 if !soft_stopped && !hard_stopped => {
                    match hard_stop_after {
                        Some(d) => {
                            log(&format!(
                                "received SIGUSR1: soft stop, no new connections; \
                                 remaining sessions closed after {} ms (hard-stop-after)",
                                d.as_millis()
                            ));
                            hard_deadline = Some(Instant::now() + d);
                        }
                        None => log("received SIGUSR1: soft stop, no new connections; \
                             waiting for sessions to finish"),
                    }
                    control.soft_stop();
                    soft_stopped = true;
                }
                SIGHUP => log(
                    "received SIGHUP: configuration reload is not implemented yet; \
                     nothing changed (restart weir to apply a new configuration)",
                ),
                _ => {}
            }
        }
        if let Some(deadline) = hard_deadline {
            if !hard_stopped && Instant::now() >= deadline {
                log("hard-stop-after expired: closing the remaining sessions");
                control.hard_stop();
                hard_stopped = true;
            }
        }
        if control.wait_for(TICK) {
            return;
        }
    }
}

fn name(sig: i32) -> &'static str {
    match sig {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        SIGUSR1 => "SIGUSR1",
        SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// A proxy that finishes a set time after a stop request.
    struct Fake {
        calls: RefCell<Vec<&'static str>>,
        finish_at: RefCell<Option<Instant>>,
        soft_takes: Duration,
    }

    impl Fake {
        fn new(soft_takes: Duration) -> Self {
            Self {
                calls: RefCell::new(Vec::new()),
                finish_at: RefCell::new(None),
                soft_takes,
            }
        }
    }

    impl Control for Fake {
        fn soft_stop(&self) {
            self.calls.borrow_mut().push("soft");
            *self.finish_at.borrow_mut() = Some(Instant::now() + self.soft_takes);
        }
        fn hard_stop(&self) {
            self.calls.borrow_mut().push("hard");
            *self.finish_at.borrow_mut() = Some(Instant::now());
        }
        fn wait_for(&self, d: Duration) -> bool {
            let done = self.finish_at.borrow().is_some_and(|t| Instant::now() >= t);
            if !done {
                std::thread::sleep(d.min(Duration::from_millis(5)));
            }
            done
        }
    }

    fn run(fake: &Fake, script: Vec<Vec<i32>>, hsa: Option<Duration>) -> Vec<String> {
        let mut script: VecDeque<Vec<i32>> = script.into();
        let mut lines = Vec::new();
        supervise(
            fake,
            || script.pop_front().unwrap_or_default(),
            hsa,
            &mut |l: &str| lines.push(l.to_owned()),
        );
        lines
    }

    #[test]
    fn sigterm_hard_stops() {
        let f = Fake::new(Duration::from_secs(3600));
        run(&f, vec![vec![], vec![SIGTERM]], None);
        assert_eq!(*f.calls.borrow(), ["hard"]);
    }

    #[test]
    fn sigusr1_soft_stops_and_waits_for_sessions() {
        let f = Fake::new(Duration::from_millis(30));
        run(&f, vec![vec![SIGUSR1], vec![SIGUSR1]], None);
        assert_eq!(*f.calls.borrow(), ["soft"]);
    }

    #[test]
    fn hard_stop_after_closes_what_remains() {
        let f = Fake::new(Duration::from_secs(3600));
        let t = Instant::now();
        run(&f, vec![vec![SIGUSR1]], Some(Duration::from_millis(100)));
        assert_eq!(*f.calls.borrow(), ["soft", "hard"]);
        assert!(t.elapsed() >= Duration::from_millis(100));
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn sigterm_during_soft_stop_hard_stops() {
        let f = Fake::new(Duration::from_secs(3600));
        run(&f, vec![vec![SIGUSR1], vec![], vec![SIGTERM]], None);
        assert_eq!(*f.calls.borrow(), ["soft", "hard"]);
    }

    #[test]
    fn sighup_says_reload_is_not_implemented() {
        let f = Fake::new(Duration::ZERO);
        let lines = run(&f, vec![vec![SIGHUP], vec![SIGINT]], None);
        assert!(lines[0].contains("not implemented"), "{lines:?}");
        assert_eq!(*f.calls.borrow(), ["hard"]);
    }
}
