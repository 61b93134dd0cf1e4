//! Counter layouts and indices. Counters live in per-CPU arrays; userspace
//! sums the CPUs when it reads them.

/// Packets and bytes, per VIP and per server.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Packets seen.
    pub packets: u64,
    /// Bytes seen (the packet as received, before encapsulation).
    pub bytes: u64,
}

macro_rules! events {
    ($($(#[doc = $doc:literal])* $name:ident = $val:literal,)*) => {
        /// Index of a counter in the `EVENTS` per-CPU array: every verdict
        /// other than plain forwarding, and every drop reason.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Event {
            $($(#[doc = $doc])* $name = $val,)*
        }
        impl Event {
            /// Every event, in index order.
            pub const ALL: &'static [Event] = &[$(Event::$name,)*];
            /// A stable lower-case name for reports.
            pub const fn name(self) -> &'static str {
                match self { $(Event::$name => stringify!($name),)* }
            }
        }
    };
}

events! {
    /// Not IPv4/IPv6 (ARP, LLDP…): passed.
    PassNonIp = 0,
    /// IP, but not addressed to a VIP: passed.
    PassNotVip = 1,
    /// IPv4 fragment (MF set or offset non-zero): passed to the stack, which
    /// reassembles; ports are unknown in non-first fragments.
    PassFragment = 2,
    /// IPv6 with an extension header before L4 (including fragments): passed.
    PassIpv6Ext = 3,
    /// ICMP other than "fragmentation needed"/"packet too big" to a VIP: passed.
    PassIcmp = 4,
    /// Frame or header shorter than its headers claim: dropped.
    DropTruncated = 5,
    /// IPv4 header length below 20 bytes or total length inconsistent: dropped.
    DropBadHeader = 6,
    /// Source matched a blocklist entry: dropped.
    DropBlocklist = 7,
    /// Allowlist mode and the source matched no allow entry: dropped.
    DropNotAllowed = 8,
    /// Source exceeded its new-flow token bucket: dropped.
    DropRateLimit = 9,
    /// VIP ring has no server taking new flows: dropped.
    DropNoServer = 10,
    /// Growing the packet for the outer header failed: dropped.
    DropEncap = 11,
    /// Packet forwarded (encapsulated and transmitted).
    Forwarded = 12,
    /// Flow-table miss: a server was picked from the ring and recorded.
    NewFlow = 13,
    /// Flow-table miss on a TCP packet without SYN: the flow was evicted
    /// (table full) or began before weir; it is re-picked and recorded.
    FlowMissMidstream = 14,
    /// The flow's server was DOWN: re-picked from the ring.
    FlowServerDown = 15,
    /// Recording a flow failed (the entry is not kept; the packet still goes).
    FlowInsertFailed = 16,
    /// ICMP "fragmentation needed"/"packet too big" about a VIP flow,
    /// forwarded to that flow's server so it can lower its MSS/PMTU.
    ForwardIcmpTooBig = 17,
    /// IPv4 packet to a VIP with IP options: forwarded like any other.
    ForwardIpOptions = 18,
    /// VIP's server has an address family the load has no source for: dropped.
    DropNoSource = 19,
    /// Server side (`weir_decap`): an IPIP / IPv6-in-IPv6 packet unwrapped
    /// and passed to the stack.
    Decapsulated = 20,
    /// Full NAT: a server's reply translated back and sent to the client.
    ReverseNat = 21,
    /// Full NAT: no free NAT port for a new flow after bounded probing: dropped.
    DropNatPorts = 22,
    /// Full NAT: the packet cannot be translated (ICMP errors): passed.
    PassNatUnsupported = 23,
    /// A TCP SYN matched a `tcp-request connection reject` rule of the
    /// frontend listening on its destination port (compiled to the
    /// `FRONT_V4`/`FRONT_V6` tries): dropped.
    DropFrontendRule = 24,
}

/// Number of entries of the `EVENTS` array.
pub const EVENT_COUNT: u32 = 25;

const _: () = assert!(Event::ALL.len() == EVENT_COUNT as usize);
