//! Early drop: source prefixes (LPM tries) and per-source new-flow token
//! buckets, applied before any VIP work and to all IP traffic (the
//! userspace listeners are protected too).

use crate::maps::{FRONT_V4, FRONT_V6, RATE, SRC_V4, SRC_V6};
use aya_ebpf::{helpers::bpf_ktime_get_ns, maps::lpm_trie::Key};
use weir_common::{
    Config, Event, RateState, SrcKey, CFG_F_ALLOWLIST, FAMILY_V4, SRC_ACTION_ALLOW,
    SRC_ACTION_BLOCK, TOKEN_SCALE,
};

/// Refill is computed over at most this much idle time, so that
/// `elapsed * rate` cannot overflow u64 for any u32 rate.
const MAX_REFILL_NS: u64 = 4_000_000_000;

/// Checks `addr` against the source tries: the longest matching prefix
/// decides; without a match, allowlist mode drops.
#[inline(always)]
pub fn source(cfg: &Config, family: u8, addr: &[u32; 4]) -> Result<(), Event> {
    let action = if family == FAMILY_V4 {
        SRC_V4.get(Key::new(32, addr[0].to_ne_bytes())).copied()
    } else {
        // The trie keys on wire bytes; the words hold them in memory order.
        let mut b = [0u8; 16];
        let mut i = 0;
        while i < 4 {
            let w = addr[i].to_ne_bytes();
            b[i * 4] = w[0];
            b[i * 4 + 1] = w[1];
            b[i * 4 + 2] = w[2];
            b[i * 4 + 3] = w[3];
            i += 1;
        }
        SRC_V6.get(Key::new(128, b)).copied()
    };
    match action {
        Some(SRC_ACTION_BLOCK) => Err(Event::DropBlocklist),
        Some(SRC_ACTION_ALLOW) => Ok(()),
        _ if cfg.flags & CFG_F_ALLOWLIST != 0 => Err(Event::DropNotAllowed),
        _ => Ok(()),
    }
}

/// Checks a TCP SYN to `dport` (wire order) from `addr` against the
/// compiled frontend rules: the longest (port, source prefix) entry decides.
#[inline(always)]
pub fn frontend(family: u8, dport: u16, addr: &[u32; 4]) -> Result<(), Event> {
    let p = dport.to_ne_bytes();
    let action = if family == FAMILY_V4 {
        let a = addr[0].to_ne_bytes();
        FRONT_V4
            .get(Key::new(48, [p[0], p[1], a[0], a[1], a[2], a[3]]))
            .copied()
    } else {
        let mut b = [0u8; 18];
        b[0] = p[0];
        b[1] = p[1];
        let mut i = 0;
        while i < 4 {
            let w = addr[i].to_ne_bytes();
            b[2 + i * 4] = w[0];
            b[2 + i * 4 + 1] = w[1];
            b[2 + i * 4 + 2] = w[2];
            b[2 + i * 4 + 3] = w[3];
            i += 1;
        }
        FRONT_V6.get(Key::new(144, b)).copied()
    };
    match action {
        Some(SRC_ACTION_BLOCK) => Err(Event::DropFrontendRule),
        _ => Ok(()),
    }
}

/// Charges one new flow to `addr`'s token bucket; `Err` when it is empty.
#[inline(always)]
pub fn charge_new_flow(cfg: &Config, family: u8, addr: &[u32; 4]) -> Result<(), Event> {
    let key = SrcKey {
        addr: *addr,
        family,
        _pad: 0,
        _pad2: 0,
    };
    // SAFETY: the helper only reads the clock.
    let now = unsafe { bpf_ktime_get_ns() };
    let cap = cfg.burst as u64 * TOKEN_SCALE;
    match RATE.get_ptr_mut(&key) {
        Some(p) => {
            // SAFETY: pointer from a successful lookup; concurrent updates on
            // other CPUs can only lose a refill or a charge (approximate limit).
            let st = unsafe { &mut *p };
            let mut elapsed = now.saturating_sub(st.last_ns);
            if elapsed > MAX_REFILL_NS {
                elapsed = MAX_REFILL_NS;
            }
            let mut tokens = st.tokens + elapsed * cfg.rate_per_sec as u64;
            if tokens > cap {
                tokens = cap;
            }
            st.last_ns = now;
            if tokens < TOKEN_SCALE {
                st.tokens = tokens;
                return Err(Event::DropRateLimit);
            }
            st.tokens = tokens - TOKEN_SCALE;
            Ok(())
        }
        None => {
            if cap < TOKEN_SCALE {
                return Err(Event::DropRateLimit);
            }
            let st = RateState {
                tokens: cap - TOKEN_SCALE,
                last_ns: now,
            };
            // A failed insert (map busy) lets this one flow through.
            let _ = RATE.insert(&key, &st, 0);
            Ok(())
        }
    }
}
