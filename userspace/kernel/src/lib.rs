//! Loads weir's eBPF programs (aya), owns their map handles and mirrors the
//! core's decisions (Maglev rings, server state, blocklists) into the maps.
//! Makes no policy decisions of its own.
