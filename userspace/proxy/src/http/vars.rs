//! The variables of one client connection (`set-var`, `unset-var`, read by
//! the `var()` fetch). A variable is named `scope.name`; the scope says how
//! long it lives: `sess` for the connection, `txn` for one request and its
//! response, `req` while the request is processed, `res` while the
//! response is. A value keeps the type it was stored with.
//!
//! The frontend's capture slots (`http-request capture … len N`, read by
//! `capture.req.hdr(SLOT)`) live here too: per transaction, like `txn`.
//!
//! Entries are kept when a scope ends (only marked unset), so a connection
//! that sets the same variables on every request reuses their storage and
//! allocates nothing in steady state.

use std::net::IpAddr;

use weir_core::acl::Sample;

/// How long a variable lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The client connection.
    Sess,
    /// One request and its response.
    Txn,
    /// Request processing.
    Req,
    /// Response processing.
    Res,
}

impl Scope {
    /// The scope of a `scope.name` variable (`None`: not one weir keeps;
    /// the configuration refuses those).
    #[must_use]
    pub fn of(name: &[u8]) -> Option<Scope> {
        let dot = name.iter().position(|&b| b == b'.')?;
        Some(match &name[..dot] {
            b"sess" => Scope::Sess,
            b"txn" => Scope::Txn,
            b"req" => Scope::Req,
            b"res" => Scope::Res,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool(bool),
    Int(i64),
    Ip(IpAddr),
    Str,
    Bin,
}

#[derive(Debug)]
struct Entry {
    name: Box<[u8]>,
    scope: Scope,
    /// `None`: unset.
    kind: Option<Kind>,
    bytes: Vec<u8>,
}

/// The variables of a connection.
#[derive(Debug, Default)]
pub struct Vars {
    list: Vec<Entry>,
    /// Capture slots: whether set, and the text.
    captures: Vec<(bool, Vec<u8>)>,
}

impl Vars {
    /// Stores sample `s` as `name` (a `scope.name` the configuration
    /// checked). Nothing happens for a name without a known scope.
    pub fn set(&mut self, name: &[u8], s: Sample<'_>) {
        let Some(scope) = Scope::of(name) else {
            return;
        };
        let i = match self.list.iter().position(|e| &*e.name == name) {
            Some(i) => i,
            None => {
                self.list.push(Entry {
                    name: name.into(),
                    scope,
                    kind: None,
                    bytes: Vec::new(),
                });
                self.list.len() - 1
            }
        };
        let e = &mut self.list[i];
        e.bytes.clear();
        e.kind = Some(match s {
            Sample::Bool(b) => Kind::Bool(b),
            Sample::Int(n) => Kind::Int(n),
            Sample::Ip(ip) => Kind::Ip(ip),
            Sample::Str(b) => {
                e.bytes.extend_from_slice(b);
                Kind::Str
            }
            Sample::Bin(b) => {
                e.bytes.extend_from_slice(b);
                Kind::Bin
            }
        });
    }

    /// Removes `name`.
    pub fn unset(&mut self, name: &[u8]) {
        if let Some(e) = self.list.iter_mut().find(|e| &*e.name == name) {
            e.kind = None;
        }
    }

    /// The value of `name`, if set.
    #[must_use]
    pub fn get(&self, name: &[u8]) -> Option<Sample<'_>> {
        let e = self.list.iter().find(|e| &*e.name == name)?;
        Some(match e.kind? {
            Kind::Bool(b) => Sample::Bool(b),
            Kind::Int(n) => Sample::Int(n),
            Kind::Ip(ip) => Sample::Ip(ip),
            Kind::Str => Sample::Str(&e.bytes),
            Kind::Bin => Sample::Bin(&e.bytes),
        })
    }

    /// Ends the variables of the scopes `ended` accepts (the capture
    /// slots end with `txn`).
    pub fn end(&mut self, ended: impl Fn(Scope) -> bool) {
        for e in &mut self.list {
            if ended(e.scope) {
                e.kind = None;
            }
        }
        if ended(Scope::Txn) {
            for c in &mut self.captures {
                c.0 = false;
            }
        }
    }

    /// The storage of capture slot `slot`, emptied and marked set.
    pub fn capture_slot(&mut self, slot: usize) -> &mut Vec<u8> {
        if self.captures.len() <= slot {
            self.captures.resize_with(slot + 1, || (false, Vec::new()));
        }
        let c = &mut self.captures[slot];
        c.0 = true;
        c.1.clear();
        &mut c.1
    }

    /// What capture slot `slot` holds, if it was set in this transaction.
    #[must_use]
    pub fn captured(&self, slot: usize) -> Option<&[u8]> {
        self.captures
            .get(slot)
            .filter(|c| c.0)
            .map(|c| c.1.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_end_separately_and_storage_is_kept() {
        let mut v = Vars::default();
        v.set(b"txn.a", Sample::Str(b"hello"));
        v.set(b"sess.b", Sample::Int(7));
        v.set(b"nope.c", Sample::Int(1));
        assert_eq!(v.get(b"txn.a"), Some(Sample::Str(b"hello")));
        assert_eq!(v.get(b"sess.b"), Some(Sample::Int(7)));
        assert_eq!(v.get(b"nope.c"), None);
        v.end(|s| s == Scope::Txn);
        assert_eq!(v.get(b"txn.a"), None);
        assert_eq!(v.get(b"sess.b"), Some(Sample::Int(7)));
        v.set(b"txn.a", Sample::Str(b"x"));
        assert_eq!(v.get(b"txn.a"), Some(Sample::Str(b"x")));
        assert_eq!(v.list.len(), 2);
        v.unset(b"sess.b");
        assert_eq!(v.get(b"sess.b"), None);
        v.capture_slot(1).extend_from_slice(b"cap");
        assert_eq!(v.captured(1), Some(&b"cap"[..]));
        assert_eq!(v.captured(0), None);
        v.end(|s| s == Scope::Res);
        assert_eq!(v.captured(1), Some(&b"cap"[..]));
        v.end(|s| s != Scope::Sess);
        assert_eq!(v.captured(1), None);
    }
}
