//! The XDP program's decision sequence: parse → source filters → frontend
//! rules (TCP SYNs) → SYN rate → VIP → connection table / Maglev (with the
//! new-flow rate) → encapsulate → XDP_TX. Every exit is counted in `EVENTS`.

use crate::{
    balance, encap, filter, fullnat,
    maps::CONFIG,
    packet,
    parse::{self, Verdict, TCP_ACK, TCP_SYN},
    stats,
};
use aya_ebpf::{bindings::xdp_action, programs::XdpContext};
use weir_common::{
    Config, Event, CFG_F_FRONT_RULES, CFG_F_PORTLESS_VIPS, CFG_F_RATE_LIMIT, CFG_F_SRC_FILTER,
    CFG_F_VIP_HASH, FAMILY_V4, PROTO_TCP, VIP_F_FULLNAT,
};

/// Runs the program and turns the outcome into an XDP action.
#[inline(always)]
pub fn try_xdp(ctx: &XdpContext) -> u32 {
    match run(ctx) {
        Ok(()) => {
            stats::event(Event::Forwarded);
            xdp_action::XDP_TX
        }
        Err(Verdict::Pass(ev)) => {
            stats::event(ev);
            xdp_action::XDP_PASS
        }
        Err(Verdict::Drop(ev)) => {
            stats::event(ev);
            xdp_action::XDP_DROP
        }
    }
}

/// Stands in for the CONFIG entry (an array entry always exists; this is
/// for the verifier's benefit).
static NO_CONFIG: Config = Config {
    src_v6: [0; 4],
    src_v4: 0,
    flags: 0,
    next_hop_mac: [0; 6],
    _pad: [0; 2],
    rate_per_sec: 0,
    burst: 0,
    nat_v4: 0,
    nat_v6: [0; 4],
};

#[inline(always)]
fn run(ctx: &XdpContext) -> Result<(), Verdict> {
    let bytes = packet::len(ctx) as u64;
    let p = parse::parse(ctx)?;
    // By reference into the map: a copy would cost stack and a memcpy.
    let cfg: &Config = match CONFIG.get(0) {
        Some(c) => c,
        None => &NO_CONFIG,
    };
    if cfg.flags & CFG_F_SRC_FILTER != 0 {
        filter::source(cfg, p.family, &p.peer).map_err(Verdict::Drop)?;
    }
    let limit = cfg.flags & CFG_F_RATE_LIMIT != 0;
    let syn = p.proto == PROTO_TCP && !p.icmp && p.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN;
    if syn && cfg.flags & CFG_F_FRONT_RULES != 0 {
        filter::frontend(p.family, p.dport, &p.peer).map_err(Verdict::Drop)?;
    }
    if limit && syn {
        filter::charge_new_flow(cfg, p.family, &p.peer).map_err(Verdict::Drop)?;
    }
    // Full NAT: replies from servers to the NAT address go back to clients.
    if !p.icmp {
        let nat = fullnat::nat_addr(cfg, p.family);
        if nat != [0; 4] && p.dst == nat {
            if let Some(done) = fullnat::reverse(ctx, &p, cfg) {
                done.map_err(Verdict::Drop)?;
                stats::event(Event::ReverseNat);
                return Ok(());
            }
        }
    }
    let meta = balance::vip(
        &p,
        cfg.flags & CFG_F_PORTLESS_VIPS != 0,
        cfg.flags & CFG_F_VIP_HASH != 0,
    )
    .ok_or(Verdict::Pass(Event::PassNotVip))?;
    if meta.flags & VIP_F_FULLNAT != 0 {
        return full_nat(ctx, &p, cfg, &meta, limit, bytes);
    }
    let key = balance::flow_key(&p);
    // The ring hash is needed on a miss and for an IPv6 outer flow label
    // only: an established flow to an IPv4 server never computes it.
    let (index, server, hash) = match balance::lookup(&key) {
        Some((index, server, _)) => {
            let hash = if server.family == FAMILY_V4 {
                0
            } else {
                balance::hash(&p, &meta)
            };
            (index, server, hash)
        }
        None => {
            if !p.icmp {
                balance::count_miss(&p);
                // TCP paid at its SYN; other protocols pay per new flow.
                if limit && p.proto != PROTO_TCP {
                    filter::charge_new_flow(cfg, p.family, &p.peer).map_err(Verdict::Drop)?;
                }
            }
            let hash = balance::hash(&p, &meta);
            let (index, server) =
                balance::pick_new(&key, &meta, hash, !p.icmp).map_err(Verdict::Drop)?;
            (index, server, hash)
        }
    };
    if p.options {
        stats::event(Event::ForwardIpOptions);
    }
    if p.icmp {
        stats::event(Event::ForwardIcmpTooBig);
    }
    encap::encapsulate(ctx, &p, &server, cfg, hash).map_err(Verdict::Drop)?;
    stats::traffic(meta.index, index, bytes);
    Ok(())
}

/// The full-NAT variant of the VIP path: same flow table and ring, but the
/// packet is translated instead of encapsulated.
#[inline(always)]
fn full_nat(
    ctx: &XdpContext,
    p: &parse::Packet,
    cfg: &Config,
    meta: &weir_common::VipMeta,
    limit: bool,
    bytes: u64,
) -> Result<(), Verdict> {
    if p.icmp {
        return Err(Verdict::Pass(Event::PassNatUnsupported));
    }
    let key = balance::flow_key(p);
    let hash = balance::hash(p, meta);
    let (index, server, nat_port) = match balance::lookup(&key) {
        Some(found) if found.2 != 0 => found,
        _ => {
            balance::count_miss(p);
            if limit && p.proto != PROTO_TCP {
                filter::charge_new_flow(cfg, p.family, &p.peer).map_err(Verdict::Drop)?;
            }
            let (index, server) =
                balance::pick_new(&key, meta, hash, false).map_err(Verdict::Drop)?;
            if server.family != p.family || fullnat::nat_addr(cfg, p.family) == [0; 4] {
                return Err(Verdict::Drop(Event::DropNoSource));
            }
            let port = fullnat::allocate(p, &server, hash).map_err(Verdict::Drop)?;
            balance::record(&key, index, port);
            (index, server, port)
        }
    };
    fullnat::forward(ctx, p, &server, cfg, nat_port).map_err(Verdict::Drop)?;
    stats::traffic(meta.index, index, bytes);
    Ok(())
}
