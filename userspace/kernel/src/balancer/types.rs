//! Plain data of the balancer: attach outcome, server state, counters and
//! the per-VIP bookkeeping mirrored into the maps.

use std::net::IpAddr;
use weir_common::{Event, Traffic, VipKey, VipMeta};

/// The mode XDP ended up attached in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// In the driver.
    Native,
    /// Generic (skb) mode.
    Generic,
}

/// Administrative state of a server, as set by config, runtime API or checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// Takes new flows in proportion to `weight`; 0 drains.
    Up {
        /// Maglev weight.
        weight: u32,
    },
    /// Takes nothing: out of the ring, its flows move elsewhere.
    Down,
}

/// A configured server of one VIP and the `SERVERS` index it occupies.
#[derive(Debug)]
pub(super) struct ServerSlot {
    pub(super) name: String,
    pub(super) addr: IpAddr,
    pub(super) index: u32,
    pub(super) state: ServerState,
}

/// A configured VIP: its key, its map metadata (live ring slot) and servers.
#[derive(Debug)]
pub(super) struct VipState {
    pub(super) key: VipKey,
    /// Its `VIP_TABLE` slot; `None`: found through the `VIPS` hash only.
    pub(super) slot: Option<u32>,
    pub(super) addr: IpAddr,
    pub(super) port: u16,
    pub(super) meta: VipMeta,
    pub(super) servers: Vec<ServerSlot>,
}

/// Counters summed over CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// `Event` counters by index.
    pub events: Vec<u64>,
    /// Per VIP, in configuration order.
    pub vips: Vec<Traffic>,
    /// Per VIP, per server, in configuration order.
    pub servers: Vec<Vec<(String, Traffic)>>,
}

impl std::fmt::Display for Counters {
    /// One line per non-zero event, then per-VIP and per-server traffic:
    /// the dump `weir` prints on request.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for ev in Event::ALL {
            let n = self.event(*ev);
            if n > 0 {
                writeln!(f, "event {} {n}", ev.name())?;
            }
        }
        for (i, (v, servers)) in self.vips.iter().zip(&self.servers).enumerate() {
            writeln!(f, "vip {i} packets {} bytes {}", v.packets, v.bytes)?;
            for (name, t) in servers {
                writeln!(
                    f,
                    "vip {i} server {name} packets {} bytes {}",
                    t.packets, t.bytes
                )?;
            }
        }
        Ok(())
    }
}

impl Counters {
    /// The count of one event.
    pub fn event(&self, ev: Event) -> u64 {
        self.events.get(ev as usize).copied().unwrap_or(0)
    }
}
