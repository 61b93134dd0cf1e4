use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

#[test]
fn insert_get_remove() {
    let mut p = Pool::with_capacity(2);
    assert_eq!(p.capacity(), 2);
    let a = p.insert("a").unwrap();
    let b = p.insert("b").unwrap();
    assert_eq!(p.len(), 2);
    assert!(p.is_full());
    assert_eq!(p.insert("c"), Err(Full("c")));
    assert_eq!(p.get(a), Some(&"a"));
    *p.get_mut(b).unwrap() = "B";
    assert_eq!(p.remove(b), Some("B"));
    assert_eq!(p.remove(b), None, "double remove");
    assert_eq!(p.get(b), None);
    assert_eq!(p.len(), 1);
}

#[test]
fn hands_out_most_recently_freed_first() {
    let mut p = Pool::with_capacity(4);
    let keys: Vec<_> = (0..4).map(|i| p.insert(i).unwrap()).collect();
    assert_eq!(
        keys.iter().map(|k| k.index()).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    p.remove(keys[1]);
    p.remove(keys[3]);
    p.remove(keys[0]);
    // LIFO: 0 (freed last), then 3, then 1.
    assert_eq!(p.next_key().unwrap().index(), 0);
    assert_eq!(p.insert(10).unwrap().index(), 0);
    assert_eq!(p.insert(11).unwrap().index(), 3);
    assert_eq!(p.insert(12).unwrap().index(), 1);
}

#[test]
fn stale_key_never_reaches_reused_slot() {
    let mut p = Pool::with_capacity(1);
    let old = p.insert(1).unwrap();
    p.remove(old);
    let new = p.insert(2).unwrap();
    assert_eq!(old.index(), new.index());
    assert_ne!(old, new);
    assert_eq!(p.get(old), None);
    assert_eq!(p.get_mut(old), None);
    assert_eq!(p.remove(old), None);
    assert_eq!(p.get(new), Some(&2));
}

#[test]
fn forged_keys_find_nothing() {
    let mut p = Pool::with_capacity(3);
    let k = p.insert(()).unwrap();
    assert!(p.contains(k));
    assert!(!p.contains(SlotKey::from_u64(u64::MAX)));
    assert!(!p.contains(SlotKey::from_u64(5)));
    assert_eq!(SlotKey::from_u64(k.to_u64()), k);
}

#[test]
fn insert_with_sees_its_key() {
    let mut p = Pool::with_capacity(1);
    let k = p.insert_with(|k| k).unwrap();
    assert_eq!(p.get(k), Some(&k));
    assert_eq!(p.insert_with(|k| k), Err(Full(())));
}

#[test]
fn zero_capacity() {
    let mut p: Pool<u8> = Pool::with_capacity(0);
    assert!(p.is_full());
    assert_eq!(p.next_key(), None);
    assert_eq!(p.insert(1), Err(Full(1)));
}

#[test]
fn no_reallocation_after_construction() {
    let mut p = Pool::with_capacity(64);
    let before = p.slots.as_ptr();
    let mut keys = Vec::new();
    for round in 0..10 {
        while let Ok(k) = p.insert(round) {
            keys.push(k);
        }
        for k in keys.drain(..) {
            p.remove(k);
        }
    }
    assert_eq!(p.slots.as_ptr(), before);
    assert_eq!(p.slots.capacity(), 64);
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u32),
    /// Remove the n-th key ever handed out (may be stale).
    Remove(usize),
    Get(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u32>().prop_map(Op::Insert),
        any::<usize>().prop_map(Op::Remove),
        any::<usize>().prop_map(Op::Get),
    ]
}

proptest! {
    /// The pool behaves like a bounded map from live keys to values, every
    /// key ever issued that was removed stays dead, and reuse is LIFO.
    #[test]
    fn matches_model(cap in 0usize..8, ops in proptest::collection::vec(op(), 0..200)) {
        let mut pool = Pool::with_capacity(cap);
        let mut model: HashMap<SlotKey, u32> = HashMap::new();
        let mut issued: Vec<SlotKey> = Vec::new();
        let mut freed_stack: Vec<u32> = Vec::new();
        let mut never_used = 0u32;
        for op in ops {
            match op {
                Op::Insert(v) => match pool.insert(v) {
                    Ok(k) => {
                        prop_assert!(model.len() < cap);
                        prop_assert!(!model.contains_key(&k));
                        prop_assert!(!issued.contains(&k), "key reissued");
                        let expect = freed_stack.pop().unwrap_or_else(|| { never_used += 1; never_used - 1 });
                        prop_assert_eq!(k.index(), expect, "not MRU");
                        model.insert(k, v);
                        issued.push(k);
                    }
                    Err(Full(back)) => {
                        prop_assert_eq!(back, v);
                        prop_assert_eq!(model.len(), cap);
                    }
                },
                Op::Remove(n) if !issued.is_empty() => {
                    let k = issued[n % issued.len()];
                    let got = pool.remove(k);
                    prop_assert_eq!(got, model.remove(&k));
                    if got.is_some() { freed_stack.push(k.index()); }
                }
                Op::Get(n) if !issued.is_empty() => {
                    let k = issued[n % issued.len()];
                    prop_assert_eq!(pool.get(k), model.get(&k));
                }
                _ => {}
            }
            prop_assert_eq!(pool.len(), model.len());
            prop_assert_eq!(pool.iter().count(), model.len());
        }
    }
}
