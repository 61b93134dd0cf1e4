//! Command-line parsing, HAProxy's flags where the two overlap.
//!
//! Hand-written because HAProxy's flags do not fit a getopt-style parser:
//! `-db` is one flag, not `-d -b`; `-sf`/`-st` swallow every following
//! argument that is a PID; `--` introduces a list of configuration files.

use std::fmt;
use std::path::PathBuf;

/// What the process was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Load the configuration and run the proxy.
    Run,
    /// `-c`: load and validate the configuration, bind nothing.
    Check,
    /// `-v`: print the version.
    Version,
    /// `-vv`: print the version and the build and kernel features.
    VersionVerbose,
    /// `-h`/`--help`: print the usage text.
    Help,
}

/// How `-sf`/`-st` asked old processes to be treated after start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldProcesses {
    /// `-sf`: old processes should finish their sessions (soft stop).
    Finish,
    /// `-st`: old processes should stop at once.
    Terminate,
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub action: Action,
    /// `-f` arguments and files after `--`, in order; a directory is expanded
    /// later (see `config_files`), because that needs the filesystem.
    pub config_paths: Vec<PathBuf>,
    /// `-d`: foreground with debug output (listening addresses, decisions).
    pub debug: bool,
    /// `-db`: stay in the foreground even if the configuration says `daemon`.
    pub no_background: bool,
    /// `-D`: daemonize (as the `daemon` global keyword).
    pub daemon: bool,
    /// `-p FILE`: write the (daemon's) PID there.
    pub pidfile: Option<PathBuf>,
    /// `-sf`/`-st` and the PIDs that followed.
    pub old_pids: Option<(OldProcesses, Vec<i32>)>,
    /// `-q`: print nothing but errors.
    pub quiet: bool,
    /// `-V`: verbose, even when `quiet` is configured.
    pub verbose: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            action: Action::Run,
            config_paths: Vec::new(),
            debug: false,
            no_background: false,
            daemon: false,
            pidfile: None,
            old_pids: None,
            quiet: false,
            verbose: false,
        }
    }
}

impl Options {
    /// Whether the process must stay attached to the terminal: `-d` and `-db`
    /// win over `-D` and the `daemon` keyword, as in HAProxy.
    pub fn foreground(&self) -> bool {
        self.debug || self.no_background
    }
}

/// A command line that cannot be understood; the caller prints it with the
/// usage text and exits with status 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The usage text printed for `-h` and after a usage error.
pub const USAGE: &str = "\
Usage: weir [-f <cfgfile|cfgdir>]* [-c] [-d | -db | -D] [-p <pidfile>] [-q] [-V]
            [-sf|-st <pid>*] [-v | -vv] [-- <cfgfile>*]
  -f <path>  load this configuration file, or every *.cfg file of this
             directory in lexical order; may be repeated
  -c         check the configuration and exit (0: valid, 1: invalid)
  -d         foreground, debug output
  -db        foreground (ignore `daemon` in the configuration)
  -D         run as a daemon
  -p <file>  write the process id to <file>
  -q         quiet: print errors only
  -V         verbose
  -v, -vv    print the version (-vv: with build and kernel features)
  -sf/-st <pid>*  reload: once started, send these old processes SIGUSR1
             (-sf: finish their sessions) or SIGTERM (-st: stop now)
  -h         this help
Without -f, weir runs its embedded quickstart configuration.
";

/// Parses the arguments after the program name.
///
/// Returns the options, or a `UsageError` naming the offending argument.
pub fn parse<I, S>(args: I) -> Result<Options, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let args: Vec<String> = args.into_iter().map(Into::into).collect();
    let mut opts = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        match arg {
            "--" => {
                // Everything after `--` is a configuration file, as in HAProxy.
                opts.config_paths
                    .extend(args[i..].iter().map(PathBuf::from));
                break;
            }
            "-f" => {
                let path = args
                    .get(i)
                    .ok_or_else(|| UsageError("-f needs a file or directory".into()))?;
                i += 1;
                opts.config_paths.push(PathBuf::from(path));
            }
            "-p" => {
                let path = args
                    .get(i)
                    .ok_or_else(|| UsageError("-p needs a file name".into()))?;
                i += 1;
                opts.pidfile = Some(PathBuf::from(path));
            }
            "-c" => opts.action = Action::Check,
            "-v" => opts.action = Action::Version,
            "-vv" => opts.action = Action::VersionVerbose,
            "-h" | "--help" => opts.action = Action::Help,
            "-d" => opts.debug = true,
            "-db" => opts.no_background = true,
            "-D" => opts.daemon = true,
            "-q" => opts.quiet = true,
            "-V" => opts.verbose = true,
            "-sf" | "-st" => {
                let kind = if arg == "-sf" {
                    OldProcesses::Finish
                } else {
                    OldProcesses::Terminate
                };
                // HAProxy takes every following argument up to the next
                // option; each must be a PID.
                let mut pids = Vec::new();
                while let Some(next) = args.get(i) {
                    if next.starts_with('-') {
                        break;
                    }
                    let pid: i32 = next
                        .parse()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| UsageError(format!("{arg}: '{next}' is not a PID")))?;
                    pids.push(pid);
                    i += 1;
                }
                opts.old_pids = Some((kind, pids));
            }
            other => return Err(UsageError(format!("unknown option '{other}'"))),
        }
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, UsageError> {
        parse(args.iter().copied())
    }

    #[test]
    fn no_arguments_runs_the_quickstart() {
        let o = p(&[]).unwrap();
        assert_eq!(o.action, Action::Run);
        assert!(o.config_paths.is_empty());
        assert!(!o.foreground());
    }

    #[test]
    fn several_files_keep_their_order() {
        let o = p(&["-f", "a.cfg", "-f", "dir", "--", "b.cfg", "c.cfg"]).unwrap();
        let want: Vec<PathBuf> = ["a.cfg", "dir", "b.cfg", "c.cfg"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(o.config_paths, want);
    }

    #[test]
    fn db_is_one_flag_not_two() {
        let o = p(&["-db"]).unwrap();
        assert!(o.no_background);
        assert!(!o.debug);
        assert!(o.foreground());
        let o = p(&["-d"]).unwrap();
        assert!(o.debug && o.foreground());
    }

    #[test]
    fn check_version_and_daemon() {
        assert_eq!(p(&["-c", "-f", "x"]).unwrap().action, Action::Check);
        assert_eq!(p(&["-v"]).unwrap().action, Action::Version);
        assert_eq!(p(&["-vv"]).unwrap().action, Action::VersionVerbose);
        let o = p(&["-D", "-p", "/run/weir.pid", "-q", "-V"]).unwrap();
        assert!(o.daemon && o.quiet && o.verbose);
        assert_eq!(o.pidfile, Some(PathBuf::from("/run/weir.pid")));
    }

    #[test]
    fn sf_and_st_take_pids_up_to_the_next_option() {
        let o = p(&["-sf", "12", "34", "-f", "x.cfg"]).unwrap();
        assert_eq!(o.old_pids, Some((OldProcesses::Finish, vec![12, 34])));
        assert_eq!(o.config_paths, vec![PathBuf::from("x.cfg")]);
        let o = p(&["-st", "7"]).unwrap();
        assert_eq!(o.old_pids, Some((OldProcesses::Terminate, vec![7])));
        let o = p(&["-sf"]).unwrap();
        assert_eq!(o.old_pids, Some((OldProcesses::Finish, vec![])));
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["-x"][..],
            &["-f"],
            &["-p"],
            &["-sf", "abc"],
            &["-sf", "0"],
            &["--frobnicate"],
            &["-dd"],
            &["config.cfg"],
        ] {
            assert!(p(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
