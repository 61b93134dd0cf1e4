//! Reading a process's CPU time and memory from /proc, and starting the
//! proxies under test.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// CPU time (user + system, all threads) of `pid`, in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: utime and stime are fields 14 and 15 (1-based) of the line.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11).context("no utime")?.parse()?;
    let stime: u64 = f.get(12).context("no stime")?.parse()?;
    let tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100);
    Ok((utime + stime) as f64 / tck as f64)
}

/// Resident set size of `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmRSS")?
        .parse()?;
    Ok(kb * 1024)
}

/// A proxy process under test, pinned to `cpu` with taskset, killed on drop.
pub struct Proxy {
    pub child: Child,
}

impl Proxy {
    /// Starts `program args… -f config` pinned to `cpu` and waits until
    /// `listen` accepts connections (at most 10 s).
    pub fn start(
        name: &'static str,
        program: &Path,
        args: &[&str],
        config: &Path,
        cpu: usize,
        listen: SocketAddr,
        log: &Path,
    ) -> anyhow::Result<Proxy> {
        let log_file = std::fs::File::create(log)?;
        let child = Command::new("taskset")
            .arg("-c")
            .arg(cpu.to_string())
            .arg(program)
            .args(args)
            .arg("-f")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("start {}", program.display()))?;
        let mut p = Proxy { child };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = p.child.try_wait()? {
                let out = std::fs::read_to_string(log).unwrap_or_default();
                bail!("{name} exited at start-up ({st}):\n{out}");
            }
            if TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok() {
                return Ok(p);
            }
            if Instant::now() > deadline {
                bail!("{name} not listening on {listen} after 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running (a crash mid-phase invalidates the phase).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An nginx serving a tiny 200 response on 127.0.0.1:`port`, pinned to
/// `cpu`, as the backend of the wrk phase. Killed on drop.
pub struct Nginx {
    child: Child,
}

impl Nginx {
    pub fn start(dir: &Path, port: u16, cpu: usize) -> anyhow::Result<Nginx> {
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\n\
                 pid {dir}/nginx.pid;\nerror_log {dir}/nginx-error.log;\n\
                 events {{ worker_connections 4096; }}\n\
                 http {{\n  access_log off;\n  keepalive_timeout 60s;\n\
                   client_body_temp_path {dir};\n  proxy_temp_path {dir};\n\
                   fastcgi_temp_path {dir};\n  uwsgi_temp_path {dir};\n  scgi_temp_path {dir};\n\
                   server {{\n    listen 127.0.0.1:{port};\n    location / {{ return 200 \"x\"; }}\n  }}\n}}\n",
                dir = dir.display()
            ),
        )?;
        let child = Command::new("taskset")
            .arg("-c")
            .arg(cpu.to_string())
            .arg("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start nginx")?;
        let mut n = Nginx { child };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(st) = n.child.try_wait()? {
                bail!("nginx exited at start-up ({st})");
            }
            if Instant::now() > deadline {
                bail!("nginx not listening on {addr} after 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(n)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs wrk pinned to `cpu` against `url` with `Connection: close` (one
/// new connection per request) for `seconds`; returns requests per second
/// and the number of requests completed.
pub fn wrk_close(
    url: &str,
    connections: usize,
    seconds: u64,
    cpu: usize,
) -> anyhow::Result<(f64, u64)> {
    let out = Command::new("taskset")
        .arg("-c")
        .arg(cpu.to_string())
        .arg("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .args(["-H", "Connection: close", url])
        .output()
        .context("run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    if let Some(l) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        bail!("wrk saw errors: {}", l.trim());
    }
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk output:\n{text}"))?;
    // "  12345 requests in 3.00s, 1.2MB read"
    let count = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no request count in wrk output:\n{text}"))?;
    Ok((rate, count))
}
