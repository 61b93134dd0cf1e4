//! `XdpBalancer`: loads the XDP program for one `xdp` section, attaches it,
//! and mirrors the configuration and server state into its maps. Rings are
//! written into the VIP's spare slot and published by one map update.

use crate::config::{
    AttachMode, Cidr, Fallback, FrontEntry, InterfaceConfig, Method, VipHash, XdpConfig,
};
use crate::{KernelError, EBPF_OBJECT};
use aya::maps::{lpm_trie::Key, Array, HashMap, LpmTrie, MapData, PerCpuArray};
use aya::programs::links::FdLink;
use aya::programs::xdp::XdpLinkId;
use aya::programs::{TestRun, TestRunOptions, Xdp, XdpMode};
use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use weir_common::{maps as m, *};
use weir_core::maglev;

mod link;
mod ring_mem;
mod types;

use ring_mem::RingMem;
pub use types::{Attached, Counters, ServerState};
use types::{ServerSlot, VipState};

/// One loaded XDP balancer. Dropping it detaches the program from every
/// interface and closes the maps, except what is pinned (with `pin`: the
/// maps and the attachments), which stays until [`XdpBalancer::finish`]
/// (or `unpin`) removes it or a successor takes it over.
pub struct XdpBalancer {
    ebpf: aya::Ebpf,
    cfg: XdpConfig,
    vips: Vec<VipState>,
    attached: Vec<(String, Attached)>,
    /// The attachments, parallel to `attached`.
    links: Vec<Held>,
    /// Attachments taken over from a previous process at attach time: the
    /// interface and the id of the program that ran there before.
    took_over: Vec<(String, u32)>,
    /// `RINGS` mapped into memory; `None` when the map is not mmapable (a
    /// map pinned by an older weir): rings are then written entry by entry.
    rings: Option<RingMem>,
    /// The frontend-rule tries hold entries (`CFG_F_FRONT_RULES`).
    front_rules: bool,
}

fn front_action(drop: bool) -> u32 {
    if drop {
        SRC_ACTION_BLOCK
    } else {
        SRC_ACTION_ALLOW
    }
}

fn words(addr: IpAddr) -> ([u32; 4], u8) {
    match addr {
        IpAddr::V4(a) => ([u32::from_ne_bytes(a.octets()), 0, 0, 0], FAMILY_V4),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_ne_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            ([w(0), w(4), w(8), w(12)], FAMILY_V6)
        }
    }
}

/// The `VIPS` key of a configured VIP.
fn vip_key(v: &crate::config::VipConfig) -> VipKey {
    let (addr, family) = words(v.addr);
    VipKey {
        addr,
        port: v.port.to_be(),
        proto: v.proto.number(),
        family,
    }
}

/// `VIP_TABLE` slots for `keys`, in order: linear probing from `vip_slot`
/// over at most `VIP_TABLE_PROBES` slots, as the XDP program searches.
/// `None` for a VIP that does not fit; the program then finds it in the
/// `VIPS` hash (`CFG_F_VIP_HASH`).
fn plan_vip_table(keys: &[VipKey]) -> Vec<Option<u32>> {
    let mut used = vec![false; VIP_TABLE_SLOTS as usize];
    let mut plan = Vec::with_capacity(keys.len());
    for k in keys {
        let home = vip_slot(k);
        let mut found = None;
        for i in 0..VIP_TABLE_PROBES {
            let slot = (home + i) & (VIP_TABLE_SLOTS - 1);
            if !used[slot as usize] {
                used[slot as usize] = true;
                found = Some(slot);
                break;
            }
        }
        plan.push(found);
    }
    plan
}

impl XdpBalancer {
    /// Validates `cfg`, loads the object with maps sized by `cfg.limits`
    /// (pinned and reused when `cfg.pin` is set), loads the XDP program and
    /// fills every map. Nothing is attached yet: see `attach_all`.
    pub fn load(cfg: &XdpConfig) -> Result<Self, KernelError> {
        cfg.validate().map_err(KernelError::Config)?;
        let l = cfg.limits;
        let ring_entries = l
            .max_vips
            .checked_mul(2 * l.ring_size)
            .ok_or_else(|| KernelError::Config("max-vips × ring-size too large".into()))?;
        let mut loader = aya::EbpfLoader::new();
        loader
            .map_max_entries(m::VIPS, l.max_vips)
            .map_max_entries(m::RINGS, ring_entries)
            .map_max_entries(m::SERVERS, l.max_servers)
            .map_max_entries(m::FLOWS, l.max_flows)
            // Sized like the flow table: a live flow must keep its reverse entry.
            .map_max_entries(m::NAT_REV, l.max_flows)
            .map_max_entries(m::RATE, l.max_rate_sources)
            .map_max_entries(m::SRC_V4, l.max_src_prefixes)
            .map_max_entries(m::SRC_V6, l.max_src_prefixes)
            .map_max_entries(m::FRONT_V4, l.max_src_prefixes)
            .map_max_entries(m::FRONT_V6, l.max_src_prefixes)
            .map_max_entries(m::VIP_STATS, l.max_vips)
            .map_max_entries(m::SERVER_STATS, l.max_servers);
        let pin_paths: Vec<(&'static str, std::path::PathBuf)>;
        if let Some(dir) = &cfg.pin {
            std::fs::create_dir_all(dir).map_err(|e| KernelError::Pin {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
            pin_paths = [
                m::VIPS,
                m::RINGS,
                m::SERVERS,
                m::FLOWS,
                m::NAT_REV,
                m::RATE,
                m::SRC_V4,
                m::SRC_V6,
                m::CONFIG,
                m::VIP_STATS,
                m::SERVER_STATS,
                m::EVENTS,
            ]
            .into_iter()
            .map(|n| (n, dir.join(n)))
            .collect();
            for (n, p) in &pin_paths {
                loader.map_pin_path(n, p.as_path());
            }
        }
        let mut ebpf = loader.load(EBPF_OBJECT)?;
        let prog: &mut Xdp = ebpf
            .program_mut(m::PROG_XDP)
            .ok_or(KernelError::MissingMap(m::PROG_XDP))?
            .try_into()
            .map_err(KernelError::program(m::PROG_XDP))?;
        prog.load().map_err(KernelError::program(m::PROG_XDP))?;
        let rings = {
            let map = ebpf
                .map(m::RINGS)
                .ok_or(KernelError::MissingMap(m::RINGS))?;
            let data = match map {
                aya::maps::Map::Array(d) => d,
                _ => return Err(KernelError::MissingMap(m::RINGS)),
            };
            let info = data.info().map_err(KernelError::map(m::RINGS))?;
            RingMem::map(
                data.fd().as_fd(),
                info.max_entries(),
                info.value_size(),
                info.map_flags(),
            )
        };
        let mut me = XdpBalancer {
            ebpf,
            cfg: cfg.clone(),
            vips: Vec::new(),
            attached: Vec::new(),
            links: Vec::new(),
            took_over: Vec::new(),
            rings,
            front_rules: false,
        };
        me.write_config()?;
        me.write_sources(&cfg.blocklist, &cfg.allowlist)?;
        me.write_vips()?;
        Ok(me)
    }

    fn array<V: aya::Pod>(
        &mut self,
        name: &'static str,
    ) -> Result<Array<&mut MapData, V>, KernelError> {
        let map = self
            .ebpf
            .map_mut(name)
            .ok_or(KernelError::MissingMap(name))?;
        Array::try_from(map).map_err(KernelError::map(name))
    }

    fn write_config(&mut self) -> Result<(), KernelError> {
        let c = &self.cfg;
        let mut flags = 0;
        if c.allowlist_only {
            flags |= CFG_F_ALLOWLIST;
        }
        if !c.blocklist.is_empty() || !c.allowlist.is_empty() || c.allowlist_only {
            flags |= CFG_F_SRC_FILTER;
        }
        if self.front_rules {
            flags |= CFG_F_FRONT_RULES;
        }
        if c.vips.iter().any(|v| v.port == 0) {
            flags |= CFG_F_PORTLESS_VIPS;
        }
        let keys: Vec<VipKey> = c.vips.iter().map(vip_key).collect();
        if plan_vip_table(&keys).contains(&None) {
            flags |= CFG_F_VIP_HASH;
        }
        let (rate, burst) = match c.new_flow_rate {
            Some(r) => {
                flags |= CFG_F_RATE_LIMIT;
                (r.per_sec, r.burst.max(1))
            }
            None => (0, 0),
        };
        let value = Config {
            src_v6: c
                .source_v6
                .map(|a| words(IpAddr::V6(a)).0)
                .unwrap_or_default(),
            src_v4: c
                .source_v4
                .map(|a| u32::from_ne_bytes(a.octets()))
                .unwrap_or(0),
            flags,
            next_hop_mac: c.next_hop_mac,
            _pad: [0; 2],
            rate_per_sec: rate,
            burst,
            nat_v4: c
                .nat_source_v4
                .map(|a| u32::from_ne_bytes(a.octets()))
                .unwrap_or(0),
            nat_v6: c
                .nat_source_v6
                .map(|a| words(IpAddr::V6(a)).0)
                .unwrap_or_default(),
        };
        self.array::<Config>(m::CONFIG)?
            .set(0, value, 0)
            .map_err(KernelError::map(m::CONFIG))
    }

    /// Replaces the source block/allow prefixes (a reload of the lists);
    /// flows in the connection table are untouched.
    pub fn set_sources(
        &mut self,
        blocklist: &[Cidr],
        allowlist: &[Cidr],
    ) -> Result<(), KernelError> {
        self.cfg.blocklist = blocklist.to_vec();
        self.cfg.allowlist = allowlist.to_vec();
        self.write_sources(blocklist, allowlist)?;
        self.write_config()
    }

    /// Replaces the compiled frontend rules (see [`FrontEntry`], computed by
    /// `weir_config::xdp::frontend_drops`). The tries
    /// are not pinned: each load starts empty and fills its own. At most
    /// `max-src-prefixes` entries per family.
    pub fn set_frontend_rules(&mut self, rules: &[FrontEntry]) -> Result<(), KernelError> {
        {
            let map = self
                .ebpf
                .map_mut(m::FRONT_V4)
                .ok_or(KernelError::MissingMap(m::FRONT_V4))?;
            let mut t: LpmTrie<&mut MapData, [u8; 6], u32> =
                LpmTrie::try_from(map).map_err(KernelError::map(m::FRONT_V4))?;
            let old: Vec<_> = t.keys().filter_map(Result::ok).collect();
            for k in old {
                let _ = t.remove(&k);
            }
            for r in rules {
                if let (IpAddr::V4(a), true) = (r.addr, r.len <= 32) {
                    let p = r.port.to_be_bytes();
                    let o = a.octets();
                    let key = Key::new(16 + u32::from(r.len), [p[0], p[1], o[0], o[1], o[2], o[3]]);
                    t.insert(&key, front_action(r.drop), 0)
                        .map_err(KernelError::map(m::FRONT_V4))?;
                }
            }
        }
        let map = self
            .ebpf
            .map_mut(m::FRONT_V6)
            .ok_or(KernelError::MissingMap(m::FRONT_V6))?;
        let mut t: LpmTrie<&mut MapData, [u8; 18], u32> =
            LpmTrie::try_from(map).map_err(KernelError::map(m::FRONT_V6))?;
        let old: Vec<_> = t.keys().filter_map(Result::ok).collect();
        for k in old {
            let _ = t.remove(&k);
        }
        for r in rules {
            if let (IpAddr::V6(a), true) = (r.addr, r.len <= 128) {
                let mut d = [0u8; 18];
                d[..2].copy_from_slice(&r.port.to_be_bytes());
                d[2..].copy_from_slice(&a.octets());
                t.insert(&Key::new(16 + u32::from(r.len), d), front_action(r.drop), 0)
                    .map_err(KernelError::map(m::FRONT_V6))?;
            }
        }
        self.front_rules = !rules.is_empty();
        self.write_config()
    }

    fn write_sources(&mut self, block: &[Cidr], allow: &[Cidr]) -> Result<(), KernelError> {
        {
            let map = self
                .ebpf
                .map_mut(m::SRC_V4)
                .ok_or(KernelError::MissingMap(m::SRC_V4))?;
            let mut t: LpmTrie<&mut MapData, [u8; 4], u32> =
                LpmTrie::try_from(map).map_err(KernelError::map(m::SRC_V4))?;
            let old: Vec<_> = t.keys().filter_map(Result::ok).collect();
            for k in old {
                let _ = t.remove(&k);
            }
            for (list, action) in [(block, SRC_ACTION_BLOCK), (allow, SRC_ACTION_ALLOW)] {
                for c in list {
                    if let IpAddr::V4(a) = c.addr {
                        t.insert(&Key::new(u32::from(c.len), a.octets()), action, 0)
                            .map_err(KernelError::map(m::SRC_V4))?;
                    }
                }
            }
        }
        let map = self
            .ebpf
            .map_mut(m::SRC_V6)
            .ok_or(KernelError::MissingMap(m::SRC_V6))?;
        let mut t: LpmTrie<&mut MapData, [u8; 16], u32> =
            LpmTrie::try_from(map).map_err(KernelError::map(m::SRC_V6))?;
        let old: Vec<_> = t.keys().filter_map(Result::ok).collect();
        for k in old {
            let _ = t.remove(&k);
        }
        for (list, action) in [(block, SRC_ACTION_BLOCK), (allow, SRC_ACTION_ALLOW)] {
            for c in list {
                if let IpAddr::V6(a) = c.addr {
                    t.insert(&Key::new(u32::from(c.len), a.octets()), action, 0)
                        .map_err(KernelError::map(m::SRC_V6))?;
                }
            }
        }
        Ok(())
    }

    /// Fills VIPS, SERVERS and RINGS from the configuration. With pinned
    /// maps from a previous run (a reload), VIPs keep their index and live
    /// slot, and servers keep their index when their address is unchanged,
    /// so recorded flows keep pointing at the same machine; VIPs and server
    /// indices that left the configuration are removed / marked down.
    fn write_vips(&mut self) -> Result<(), KernelError> {
        let old_vips: Vec<(VipKey, VipMeta)> = {
            let map = self
                .ebpf
                .map(m::VIPS)
                .ok_or(KernelError::MissingMap(m::VIPS))?;
            let h: HashMap<&MapData, VipKey, VipMeta> =
                HashMap::try_from(map).map_err(KernelError::map(m::VIPS))?;
            h.iter().filter_map(Result::ok).collect()
        };
        let old_servers: Vec<(u32, Server)> = if old_vips.is_empty() {
            Vec::new()
        } else {
            let map = self
                .ebpf
                .map(m::SERVERS)
                .ok_or(KernelError::MissingMap(m::SERVERS))?;
            let a: Array<&MapData, Server> =
                Array::try_from(map).map_err(KernelError::map(m::SERVERS))?;
            (0..a.len())
                .filter_map(|i| a.get(&i, 0).ok().map(|s| (i, s)))
                .filter(|(_, s)| s.family != 0)
                .collect()
        };
        let vips = self.cfg.vips.clone();
        let keys: Vec<VipKey> = vips.iter().map(vip_key).collect();
        let slots = plan_vip_table(&keys);
        // VIP indices: kept for VIPs that stay, lowest free ones for new VIPs.
        let kept: Vec<Option<VipMeta>> = keys
            .iter()
            .map(|k| old_vips.iter().find(|(o, _)| o == k).map(|(_, m)| *m))
            .collect();
        let mut taken: Vec<u32> = kept.iter().flatten().map(|m| m.index).collect();
        let mut vip_index = Vec::new();
        for k in &kept {
            vip_index.push(match k {
                Some(m) => m.index,
                None => {
                    let i = (0..).find(|i| !taken.contains(i)).unwrap_or(0);
                    taken.push(i);
                    i
                }
            });
        }
        // Server indices: reuse an old index with the same address (each once),
        // else the lowest index never used by a live server.
        let mut reusable: Vec<(u32, Server)> = old_servers.clone();
        let mut assigned: Vec<u32> = Vec::new();
        let mut plan: Vec<Vec<Option<u32>>> = Vec::new();
        for v in &vips {
            let mut row = Vec::new();
            for s in &v.servers {
                let (addr, family) = words(s.addr);
                let pos = reusable
                    .iter()
                    .position(|(_, o)| o.addr == addr && o.family == family);
                row.push(pos.map(|p| {
                    let idx = reusable.swap_remove(p).0;
                    assigned.push(idx);
                    idx
                }));
            }
            plan.push(row);
        }
        let old_idx: Vec<u32> = old_servers.iter().map(|(i, _)| *i).collect();
        let mut next = 0u32;
        for (vi, v) in vips.iter().enumerate() {
            let mut flags = if v.hash == VipHash::Source {
                VIP_F_HASH_SRC_ONLY
            } else {
                0
            };
            if self.cfg.method == Method::FullNat {
                flags |= VIP_F_FULLNAT;
            }
            let meta = VipMeta {
                flags,
                index: vip_index[vi],
                // A pinned VIPS map from a previous run tells which slot is live.
                ring_slot: kept[vi].map_or(1, |l| l.ring_slot),
                ring_size: self.cfg.limits.ring_size,
            };
            let mut servers = Vec::new();
            for (si, s) in v.servers.iter().enumerate() {
                let index = match plan[vi][si] {
                    Some(i) => i,
                    None => {
                        while assigned.contains(&next) || old_idx.contains(&next) {
                            next += 1;
                        }
                        assigned.push(next);
                        next
                    }
                };
                servers.push(ServerSlot {
                    name: s.name.clone(),
                    addr: s.addr,
                    index,
                    state: if s.down {
                        ServerState::Down
                    } else {
                        ServerState::Up { weight: s.weight }
                    },
                });
            }
            if servers
                .iter()
                .any(|s| s.index >= self.cfg.limits.max_servers)
            {
                return Err(KernelError::Config(format!(
                    "server indices exceed max-servers {} (raise it for this reload)",
                    self.cfg.limits.max_servers
                )));
            }
            self.vips.push(VipState {
                key: keys[vi],
                slot: slots[vi],
                addr: v.addr,
                port: v.port,
                meta,
                servers,
            });
            let vi = self.vips.len() - 1;
            for si in 0..self.vips[vi].servers.len() {
                self.write_server(vi, si)?;
            }
            self.publish_ring(vi)?;
        }
        // What the previous run had and this one does not: VIPs go, server
        // slots are marked down so flows still pointing there re-pick.
        {
            let map = self
                .ebpf
                .map_mut(m::VIPS)
                .ok_or(KernelError::MissingMap(m::VIPS))?;
            let mut h: HashMap<&mut MapData, VipKey, VipMeta> =
                HashMap::try_from(map).map_err(KernelError::map(m::VIPS))?;
            for (k, _) in &old_vips {
                if !keys.contains(k) {
                    h.remove(k).map_err(KernelError::map(m::VIPS))?;
                }
            }
        }
        let mut servers = self.array::<Server>(m::SERVERS)?;
        for (i, _) in &old_servers {
            if !assigned.contains(i) {
                servers
                    .set(*i, Server::default(), 0)
                    .map_err(KernelError::map(m::SERVERS))?;
            }
        }
        Ok(())
    }

    fn write_server(&mut self, vi: usize, si: usize) -> Result<(), KernelError> {
        let s = &self.vips[vi].servers[si];
        let (addr, family) = words(s.addr);
        let value = Server {
            addr,
            flags: if s.state == ServerState::Down {
                0
            } else {
                SERVER_F_UP
            },
            family,
            _pad: [0; 3],
        };
        let index = s.index;
        self.array::<Server>(m::SERVERS)?
            .set(index, value, 0)
            .map_err(KernelError::map(m::SERVERS))
    }

    /// Builds the VIP's Maglev table from the servers' current weights into
    /// the spare ring slot, then flips the VIP's live slot in one update.
    fn publish_ring(&mut self, vi: usize) -> Result<(), KernelError> {
        let ring_size = self.cfg.limits.ring_size;
        let v = &self.vips[vi];
        // Server names are the Maglev identities: stable across reloads and
        // configuration reordering (weir-core builds the table).
        let backends: Vec<maglev::MaglevBackend<'_>> = v
            .servers
            .iter()
            .map(|s| maglev::MaglevBackend {
                name: s.name.as_bytes(),
                weight: if let ServerState::Up { weight } = s.state {
                    weight
                } else {
                    0
                },
            })
            .collect();
        let indices: Vec<u32> = match maglev::build(&backends, ring_size) {
            Ok(table) => table.iter().map(|&b| v.servers[b as usize].index).collect(),
            Err(maglev::MaglevError::NoBackends) => vec![RING_EMPTY; ring_size as usize],
            Err(e) => return Err(KernelError::Config(e.to_string())),
        };
        let spare = 1 - v.meta.ring_slot.min(1);
        let vip_index = v.meta.index;
        let mut meta = v.meta;
        let key = v.key;
        let start = ring_index(vip_index, spare, ring_size, 0) as usize;
        if let Some(mem) = &mut self.rings {
            // One copy into the mapped map; `write` fences, and the VIPS
            // update below is the publication.
            mem.write(start, &indices);
        } else {
            let mut rings = self.array::<u32>(m::RINGS)?;
            for (pos, &s) in indices.iter().enumerate() {
                rings
                    .set(ring_index(vip_index, spare, ring_size, pos as u32), s, 0)
                    .map_err(KernelError::map(m::RINGS))?;
            }
        }
        meta.ring_slot = spare;
        let map = self
            .ebpf
            .map_mut(m::VIPS)
            .ok_or(KernelError::MissingMap(m::VIPS))?;
        let mut h: HashMap<&mut MapData, VipKey, VipMeta> =
            HashMap::try_from(map).map_err(KernelError::map(m::VIPS))?;
        h.insert(key, meta, 0).map_err(KernelError::map(m::VIPS))?;
        // The program's copy: an array update copies the value in place, and
        // only `ring_slot` (one aligned word) differs from what was there.
        if let Some(slot) = self.vips[vi].slot {
            self.array::<VipSlot>(m::VIP_TABLE)?
                .set(slot, VipSlot { key, meta }, 0)
                .map_err(KernelError::map(m::VIP_TABLE))?;
        }
        self.vips[vi].meta = meta;
        Ok(())
    }

    fn find(&self, addr: IpAddr, port: u16, server: &str) -> Result<(usize, usize), KernelError> {
        let vi = self
            .vips
            .iter()
            .position(|v| v.addr == addr && v.port == port)
            .ok_or(KernelError::UnknownVip { addr, port })?;
        let si = self.vips[vi]
            .servers
            .iter()
            .position(|s| s.name == server)
            .ok_or_else(|| KernelError::UnknownServer(server.to_owned()))?;
        Ok((vi, si))
    }

    /// Sets a server's state. DOWN: the ring is rebuilt without it, then the
    /// server is marked down so its recorded flows move too. UP with weight
    /// 0: out of the ring, its flows stay (drain). UP: marked up, then the
    /// ring is rebuilt with its weight.
    pub fn set_server_state(
        &mut self,
        vip: IpAddr,
        port: u16,
        server: &str,
        state: ServerState,
    ) -> Result<(), KernelError> {
        let (vi, si) = self.find(vip, port, server)?;
        self.vips[vi].servers[si].state = state;
        match state {
            ServerState::Down => {
                self.publish_ring(vi)?;
                self.write_server(vi, si)
            }
            ServerState::Up { .. } => {
                self.write_server(vi, si)?;
                self.publish_ring(vi)
            }
        }
    }

    /// Index of `server` of a VIP in `SERVERS` (and in the rings).
    pub fn server_index(&self, vip: IpAddr, port: u16, server: &str) -> Result<u32, KernelError> {
        let (vi, si) = self.find(vip, port, server)?;
        Ok(self.vips[vi].servers[si].index)
    }

    /// The live Maglev ring of a VIP, as server indices (`RING_EMPTY` for none).
    pub fn live_ring(&self, vip: IpAddr, port: u16) -> Result<Vec<u32>, KernelError> {
        let vi = self
            .vips
            .iter()
            .position(|v| v.addr == vip && v.port == port)
            .ok_or(KernelError::UnknownVip { addr: vip, port })?;
        let meta = self.vips[vi].meta;
        if let Some(mem) = &self.rings {
            let start = ring_index(meta.index, meta.ring_slot, meta.ring_size, 0) as usize;
            return Ok(mem.read(start, meta.ring_size as usize));
        }
        let map = self
            .ebpf
            .map(m::RINGS)
            .ok_or(KernelError::MissingMap(m::RINGS))?;
        let rings: Array<&MapData, u32> =
            Array::try_from(map).map_err(KernelError::map(m::RINGS))?;
        (0..meta.ring_size)
            .map(|pos| {
                rings
                    .get(
                        &ring_index(meta.index, meta.ring_slot, meta.ring_size, pos),
                        0,
                    )
                    .map_err(KernelError::map(m::RINGS))
            })
            .collect()
    }

    /// Reads every counter, summed over CPUs.
    pub fn counters(&self) -> Result<Counters, KernelError> {
        let map = self
            .ebpf
            .map(m::EVENTS)
            .ok_or(KernelError::MissingMap(m::EVENTS))?;
        let ev: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(map).map_err(KernelError::map(m::EVENTS))?;
        let events = (0..EVENT_COUNT)
            .map(|i| {
                ev.get(&i, 0)
                    .map(|v| v.iter().sum())
                    .map_err(KernelError::map(m::EVENTS))
            })
            .collect::<Result<Vec<u64>, _>>()?;
        let sum = |name: &'static str, i: u32| -> Result<Traffic, KernelError> {
            let map = self.ebpf.map(name).ok_or(KernelError::MissingMap(name))?;
            let a: PerCpuArray<&MapData, Traffic> =
                PerCpuArray::try_from(map).map_err(KernelError::map(name))?;
            let v = a.get(&i, 0).map_err(KernelError::map(name))?;
            Ok(v.iter().fold(Traffic::default(), |acc, t| Traffic {
                packets: acc.packets + t.packets,
                bytes: acc.bytes + t.bytes,
            }))
        };
        let mut vips = Vec::new();
        let mut servers = Vec::new();
        for v in &self.vips {
            vips.push(sum(m::VIP_STATS, v.meta.index)?);
            servers.push(
                v.servers
                    .iter()
                    .map(|s| Ok((s.name.clone(), sum(m::SERVER_STATS, s.index)?)))
                    .collect::<Result<Vec<_>, KernelError>>()?,
            );
        }
        Ok(Counters {
            events,
            vips,
            servers,
        })
    }

    /// Number of flows in the connection table (walks the map: for tests
    /// and reports, not for the data path).
    pub fn flow_count(&self) -> Result<usize, KernelError> {
        let map = self
            .ebpf
            .map(m::FLOWS)
            .ok_or(KernelError::MissingMap(m::FLOWS))?;
        let h: HashMap<&MapData, FlowKey, FlowValue> =
            HashMap::try_from(map).map_err(KernelError::map(m::FLOWS))?;
        Ok(h.keys().filter(Result::is_ok).count())
    }

    /// Attaches to every configured interface, in order.
    pub fn attach_all(&mut self) -> Result<Vec<(String, Attached)>, KernelError> {
        for i in self.cfg.interfaces.clone() {
            self.attach(&i)?;
        }
        Ok(self.attached.clone())
    }

    /// Attaches to one interface per its mode and fallback; the error lists
    /// each mode tried with the kernel's answer. With `pin`, an attachment a
    /// previous process left pinned for this interface is taken over instead
    /// (see [`XdpBalancer::finish`]), and a new attachment is pinned so that
    /// the next process can take it over in turn.
    pub fn attach(&mut self, iface: &InterfaceConfig) -> Result<Attached, KernelError> {
        if let Some(dir) = self.cfg.pin.clone() {
            for mode in [Attached::Native, Attached::Generic] {
                let path = link_pin_path(&dir, &iface.name, mode);
                if path.exists() && self.take_over(&iface.name, mode, &path)? {
                    return Ok(mode);
                }
            }
        }
        let prog = self.program_mut()?;
        let mut tried = Vec::new();
        let native_first = iface.mode != AttachMode::Generic;
        let mut done = None;
        if native_first {
            match prog.attach(&iface.name, XdpMode::Driver) {
                Ok(id) => done = Some((id, Attached::Native)),
                Err(e) => tried.push(format!("native: {}", explain(&e))),
            }
        }
        let generic_allowed =
            iface.mode == AttachMode::Generic || iface.fallback == Fallback::Generic;
        if done.is_none() {
            if generic_allowed {
                match prog.attach(&iface.name, XdpMode::Skb) {
                    Ok(id) => done = Some((id, Attached::Generic)),
                    Err(e) => tried.push(format!("generic: {}", explain(&e))),
                }
            } else {
                tried.push("generic: not tried (fallback refuse)".into());
            }
        }
        match done {
            Some((id, mode)) => {
                self.keep(id, &iface.name, mode)?;
                Ok(mode)
            }
            None => Err(KernelError::Attach {
                interface: iface.name.clone(),
                reason: tried.join("; "),
            }),
        }
    }

    fn program_mut(&mut self) -> Result<&mut Xdp, KernelError> {
        self.ebpf
            .program_mut(m::PROG_XDP)
            .ok_or(KernelError::MissingMap(m::PROG_XDP))?
            .try_into()
            .map_err(KernelError::program(m::PROG_XDP))
    }

    fn program(&self) -> Result<&Xdp, KernelError> {
        self.ebpf
            .program(m::PROG_XDP)
            .ok_or(KernelError::MissingMap(m::PROG_XDP))?
            .try_into()
            .map_err(KernelError::program(m::PROG_XDP))
    }

    /// Records a new attachment. With `pin`, the link is pinned next to the
    /// maps and held through a descriptor of our own (aya's is closed):
    /// the pin lets a successor find it, the descriptor lets this process
    /// detach it even once `chroot` has put the pin out of reach.
    fn keep(&mut self, id: XdpLinkId, iface: &str, mode: Attached) -> Result<(), KernelError> {
        let Some(dir) = self.cfg.pin.clone() else {
            self.links.push(Held::Aya);
            self.attached.push((iface.to_owned(), mode));
            return Ok(());
        };
        let path = link_pin_path(&dir, iface, mode);
        let pin_err = |e: &dyn std::fmt::Display| KernelError::Pin {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        // Errors from here on drop the link, which detaches it.
        let xdp_link = self
            .program_mut()?
            .take_link(id)
            .map_err(KernelError::program(m::PROG_XDP))?;
        let fd_link = FdLink::try_from(xdp_link).map_err(|e| {
            pin_err(&format!(
                "{e} (pinning an attachment needs a bpf_link: Linux 5.9 or later)"
            ))
        })?;
        let pinned = fd_link.pin(&path).map_err(|e| pin_err(&e))?;
        let fd = link::open_pinned(&path);
        if fd.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        drop(pinned);
        let fd = fd.map_err(|e| pin_err(&e))?;
        self.links.push(Held::Pinned { fd, path });
        self.attached.push((iface.to_owned(), mode));
        Ok(())
    }

    /// Reload, new side: makes the link pinned at `path` (left there by the
    /// previous process) run this program, in one atomic swap. The pin
    /// stays, for the next reload. False when the pin is stale (its
    /// interface went away): it is removed and the caller attaches anew.
    fn take_over(&mut self, iface: &str, mode: Attached, path: &Path) -> Result<bool, KernelError> {
        let pin_err = |e: &dyn std::fmt::Display| KernelError::Pin {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let fd = link::open_pinned(path).map_err(|e| pin_err(&e))?;
        let before = link::program_id(fd.as_fd()).map_err(|e| pin_err(&e))?;
        let prog_fd = self
            .program()?
            .fd()
            .map_err(KernelError::program(m::PROG_XDP))?;
        match link::update(fd.as_fd(), prog_fd.as_fd()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOLINK) => {
                let _ = std::fs::remove_file(path);
                return Ok(false);
            }
            Err(e) => return Err(pin_err(&format!("taking over the attachment: {e}"))),
        }
        self.links.push(Held::Pinned {
            fd,
            path: path.to_owned(),
        });
        self.attached.push((iface.to_owned(), mode));
        self.took_over.push((iface.to_owned(), before));
        Ok(true)
    }

    /// Reload, old side, when the old process goes first: with `pin`, the
    /// attachments and maps are already pinned, so this only lets go of
    /// them without detaching; the next `XdpBalancer` loaded with the same
    /// pin directory takes the maps (flows included) and swaps its program
    /// into these attachments.
    pub fn hand_over(self) -> Result<(), KernelError> {
        if self.cfg.pin.is_none() {
            return Err(KernelError::Config(
                "hand-over needs a pin directory".into(),
            ));
        }
        drop(self);
        Ok(())
    }

    /// The kernel's id of this balancer's XDP program.
    pub fn program_id(&self) -> Result<u32, KernelError> {
        let info = self
            .program()?
            .info()
            .map_err(KernelError::program(m::PROG_XDP))?;
        Ok(info.id())
    }

    /// The id of the program that replaced ours in one of our (pinned)
    /// attachments, i.e. a reload's new process has taken over; `None`
    /// while every attachment still runs this program.
    pub fn successor(&self) -> Result<Option<u32>, KernelError> {
        let own = self.program_id()?;
        for h in &self.links {
            if let Held::Pinned { fd, path } = h {
                let id = link::program_id(fd.as_fd()).map_err(|e| KernelError::Pin {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                if id != own {
                    return Ok(Some(id));
                }
            }
        }
        Ok(None)
    }

    /// Attachments taken over from a previous process by `attach`: the
    /// interface and the id of the program that ran there before.
    pub fn took_over(&self) -> &[(String, u32)] {
        &self.took_over
    }

    /// Undoes the take-overs of `attach` (the new process failed to start):
    /// each attachment taken over runs the previous process's program
    /// again, and [`XdpBalancer::finish`] then leaves it and the maps to
    /// that process. Returns what could not be given back.
    pub fn give_back(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for (iface, before) in std::mem::take(&mut self.took_over) {
            let Some(fd) = self
                .attached
                .iter()
                .zip(&self.links)
                .find_map(|((i, _), h)| match h {
                    Held::Pinned { fd, .. } if *i == iface => Some(fd),
                    _ => None,
                })
            else {
                continue;
            };
            let r = link::program_by_id(before).and_then(|p| link::update(fd.as_fd(), p.as_fd()));
            if let Err(e) = r {
                problems.push(format!(
                    "{iface}: cannot give the attachment back to program {before}: {e}"
                ));
            }
        }
        problems
    }

    /// Stops this balancer. An attachment that now runs another program
    /// (a successor took it over) is left alone, pin included; every other
    /// one is detached for good (BPF_LINK_DETACH: even if some other
    /// process still holds it) and its pin removed. The pinned maps are
    /// removed unless a successor exists, which uses them. Problems are
    /// collected, not fatal: the rest of the clean-up still happens.
    pub fn finish(mut self) -> Finish {
        let own = self.program_id().ok();
        let mut out = Finish::default();
        let links = std::mem::take(&mut self.links);
        let attached = std::mem::take(&mut self.attached);
        for ((iface, _), held) in attached.into_iter().zip(links) {
            let (fd, path) = match held {
                // aya detaches it when the program goes, just below.
                Held::Aya => {
                    out.detached.push(iface);
                    continue;
                }
                Held::Pinned { fd, path } => (fd, path),
            };
            match (link::program_id(fd.as_fd()), own) {
                (Ok(id), Some(own)) if id != own => {
                    out.successor = Some(id);
                    out.handed_over.push(iface);
                    continue;
                }
                (Err(e), _) => out
                    .problems
                    .push(format!("{iface}: cannot read the attachment: {e}")),
                _ => {}
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => out
                    .problems
                    .push(format!("cannot remove {}: {e}", path.display())),
            }
            match link::detach(fd.as_fd()) {
                Ok(()) => out.detached.push(iface),
                Err(e) => out.problems.push(format!("{iface}: cannot detach: {e}")),
            }
        }
        let dir = self.cfg.pin.clone();
        drop(self);
        if let (Some(dir), None) = (dir, out.successor) {
            match std::fs::read_dir(&dir) {
                Ok(rd) => {
                    for e in rd.flatten() {
                        if let Err(err) = std::fs::remove_file(e.path()) {
                            out.problems
                                .push(format!("cannot remove {}: {err}", e.path().display()));
                        }
                    }
                    if let Err(e) = std::fs::remove_dir(&dir) {
                        out.problems
                            .push(format!("cannot remove {}: {e}", dir.display()));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => out
                    .problems
                    .push(format!("cannot list {}: {e}", dir.display())),
            }
        }
        out
    }

    /// Interfaces attached so far and their modes.
    pub fn attached(&self) -> &[(String, Attached)] {
        &self.attached
    }

    /// Runs the XDP program once on `frame` through BPF_PROG_TEST_RUN with
    /// this balancer's maps: returns the XDP action and the frame as the
    /// program left it. `repeat` > 1 times the program (duration is per run).
    pub fn test_run(
        &self,
        frame: &[u8],
        repeat: u32,
    ) -> Result<(u32, Vec<u8>, std::time::Duration), KernelError> {
        let prog: &Xdp = self
            .ebpf
            .program(m::PROG_XDP)
            .ok_or(KernelError::MissingMap(m::PROG_XDP))?
            .try_into()
            .map_err(KernelError::program(m::PROG_XDP))?;
        let mut out = vec![0u8; frame.len() + 256];
        let r = prog
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                repeat: repeat.max(1),
                ..Default::default()
            })
            .map_err(KernelError::program(m::PROG_XDP))?;
        out.truncate(r.data_size_out as usize);
        Ok((r.return_value, out, r.duration))
    }

    /// Times the program with BPF_PROG_TEST_RUN in live-frames mode: each of
    /// `repeat` runs gets a fresh copy of `frame` as if received on
    /// `ifindex` (so a forwarding verdict is measured every time, which the
    /// plain repeat loop cannot do: it does not reset the frame). XDP_TX
    /// frames really go out of `ifindex`; use a device of a throwaway
    /// namespace or `lo` (which has no XDP transmit and frees them).
    /// Returns the kernel's average time per run.
    pub fn time_live(
        &self,
        frame: &[u8],
        repeat: u32,
        ifindex: u32,
    ) -> Result<std::time::Duration, KernelError> {
        let prog: &Xdp = self
            .ebpf
            .program(m::PROG_XDP)
            .ok_or(KernelError::MissingMap(m::PROG_XDP))?
            .try_into()
            .map_err(KernelError::program(m::PROG_XDP))?;
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex,
        // rx_queue_index, egress_ifindex (all u32).
        let md: [u32; 6] = [0, frame.len() as u32, 0, ifindex, 0, 0];
        let ctx: Vec<u8> = md.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let r = prog
            .test_run(TestRunOptions {
                data_in: Some(frame),
                ctx_in: Some(&ctx),
                repeat: repeat.max(1),
                attrs: aya::programs::TestRunAttrs::new().xdp_live_frames(64),
                ..Default::default()
            })
            .map_err(KernelError::program(m::PROG_XDP))?;
        Ok(r.duration)
    }

    /// A final stop: [`XdpBalancer::finish`], with its problems as an error.
    pub fn unpin(self) -> Result<(), KernelError> {
        let path = self
            .cfg
            .pin
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let f = self.finish();
        if f.problems.is_empty() {
            Ok(())
        } else {
            Err(KernelError::Pin {
                path,
                reason: f.problems.join("; "),
            })
        }
    }
}

/// How this process holds one attachment.
enum Held {
    /// aya holds the link (no pin directory): dropping the balancer detaches.
    Aya,
    /// A bpf_link pinned at `path` for a successor to take over; `fd` is
    /// this process's own descriptor of it.
    Pinned { fd: OwnedFd, path: PathBuf },
}

/// What [`XdpBalancer::finish`] did.
#[derive(Debug, Default)]
pub struct Finish {
    /// The program that now runs in our attachments (a reload's successor).
    pub successor: Option<u32>,
    /// Interfaces left to the successor's program, pins and maps in place.
    pub handed_over: Vec<String>,
    /// Interfaces this program was taken off.
    pub detached: Vec<String>,
    /// What could not be cleaned up, and why.
    pub problems: Vec<String>,
}

/// Where the attachment of `iface` in `mode` is pinned for a hand-over.
fn link_pin_path(dir: &std::path::Path, iface: &str, mode: Attached) -> std::path::PathBuf {
    let mode = match mode {
        Attached::Native => "native",
        Attached::Generic => "generic",
    };
    dir.join(format!("link-{iface}-{mode}"))
}

/// The reason behind an aya program error, with a hint for the usual causes.
fn explain(e: &aya::programs::ProgramError) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    let lower = msg.to_lowercase();
    if lower.contains("operation not permitted") || lower.contains("permission denied") {
        msg.push_str(" (needs CAP_NET_ADMIN and CAP_BPF)");
    } else if lower.contains("not supported") {
        msg.push_str(" (the driver has no native XDP)");
    } else if lower.contains("busy") || lower.contains("exists") {
        msg.push_str(" (another XDP program is attached)");
    }
    msg
}

#[cfg(test)]
mod tests;
