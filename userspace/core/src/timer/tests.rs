use super::*;
use proptest::prelude::*;

/// Heap order and back-pointers agree.
fn check_invariants<K: Copy>(q: &TimerQueue<K>) {
    for (pos, n) in q.heap.iter().enumerate() {
        assert_eq!(q.entries[n.entry as usize].link as usize, pos);
        assert!(q.entries[n.entry as usize].key.is_some());
        if pos > 0 {
            assert!(!n.before(&q.heap[(pos - 1) / 2]), "heap order broken");
        }
    }
    let live = q.entries.iter().filter(|e| e.key.is_some()).count();
    assert_eq!(live, q.heap.len());
}

fn drain(q: &mut TimerQueue<usize>, now: Ticks, deadlines: &mut [Option<Ticks>]) -> Vec<usize> {
    let mut out = Vec::new();
    while let Some(k) = q.pop_expired(now, |k| deadlines[k]) {
        deadlines[k] = None;
        out.push(k);
    }
    out
}

#[test]
fn fires_in_deadline_order() {
    let mut q = TimerQueue::with_capacity(8);
    let mut d = [
        Some(Ticks(30)),
        Some(Ticks(10)),
        Some(Ticks(20)),
        Some(Ticks(10)),
    ];
    for (k, w) in d.iter().enumerate() {
        q.schedule(k, w.unwrap());
    }
    assert_eq!(q.next_expiry(), Some(Ticks(10)));
    assert_eq!(drain(&mut q, Ticks(9), &mut d), Vec::<usize>::new());
    // Equal deadlines fire in scheduling order.
    assert_eq!(drain(&mut q, Ticks(20), &mut d), [1, 3, 2]);
    assert_eq!(drain(&mut q, Ticks(100), &mut d), [0]);
    assert!(q.is_empty());
    assert_eq!(q.next_expiry(), None);
}

#[test]
fn postponing_does_not_touch_the_queue() {
    let mut q = TimerQueue::with_capacity(1);
    let mut slot = None;
    q.arm(&mut slot, 0usize, Ticks(10));
    let h = slot.unwrap();
    for later in 11..1000 {
        q.arm(&mut slot, 0, Ticks(later));
        assert_eq!(slot, Some(h));
        assert_eq!(q.queued_at(h), Some(Ticks(10)), "postpone moved the entry");
    }
    // When the stale entry comes up, it is re-queued once at the current deadline.
    let mut d = [Some(Ticks(999))];
    assert_eq!(drain(&mut q, Ticks(10), &mut d), Vec::<usize>::new());
    assert_eq!(q.queued_at(h), Some(Ticks(999)));
    assert_eq!(drain(&mut q, Ticks(999), &mut d), [0]);
    assert_eq!(q.queued_at(h), None, "fired handle is stale");
}

#[test]
fn moving_earlier_repositions() {
    let mut q = TimerQueue::with_capacity(2);
    let mut slot = None;
    q.arm(&mut slot, 0usize, Ticks(100));
    q.arm(&mut slot, 0, Ticks(5));
    assert_eq!(q.next_expiry(), Some(Ticks(5)));
    assert_eq!(q.len(), 1);
}

#[test]
fn postponed_past_deadline_keeps_order() {
    // A queued at 5 and postponed to 8; B queued at 7. At 10 both are due;
    // B (7) must fire before A (8).
    let mut q = TimerQueue::with_capacity(2);
    q.schedule(0usize, Ticks(5));
    q.schedule(1usize, Ticks(7));
    let mut d = [Some(Ticks(8)), Some(Ticks(7))];
    assert_eq!(drain(&mut q, Ticks(10), &mut d), [1, 0]);
}

#[test]
fn disarmed_entries_are_dropped() {
    let mut q = TimerQueue::with_capacity(2);
    let h = q.schedule(0usize, Ticks(5));
    let mut d = [None];
    assert_eq!(drain(&mut q, Ticks(10), &mut d), Vec::<usize>::new());
    assert!(q.is_empty());
    assert_eq!(q.cancel(h), None);
}

#[test]
fn stale_handles_are_harmless() {
    let mut q = TimerQueue::with_capacity(2);
    let h = q.schedule(1usize, Ticks(5));
    assert_eq!(q.cancel(h), Some(1));
    let h2 = q.schedule(2usize, Ticks(6));
    assert_eq!(h.index, h2.index, "entry reused");
    assert_eq!(q.cancel(h), None);
    assert!(!q.reschedule(h, Ticks(1)));
    assert_eq!(q.queued_at(h2), Some(Ticks(6)));
    let mut slot = Some(h);
    q.arm(&mut slot, 3, Ticks(7));
    assert_ne!(slot, Some(h));
    assert_eq!(q.len(), 2);
}

#[test]
fn ticks_arithmetic() {
    assert_eq!(Ticks(u64::MAX - 1).after_ms(10), Ticks(u64::MAX));
    assert_eq!(Ticks(5) + Duration::from_micros(1), Ticks(6));
    assert_eq!(Ticks(5) + Duration::from_secs(2), Ticks(2005));
    assert_eq!(Ticks(5).saturating_ms_since(Ticks(9)), 0);
}

#[test]
fn no_allocation_in_steady_state() {
    let mut q = TimerQueue::with_capacity(64);
    let (ep, hp) = (q.entries.as_ptr(), q.heap.as_ptr());
    let mut d = [None; 64];
    for round in 0..100u64 {
        for (k, slot) in d.iter_mut().enumerate() {
            *slot = Some(Ticks(round * 10 + (k as u64 % 7)));
            q.schedule(k, slot.unwrap());
        }
        drain(&mut q, Ticks(round * 10 + 10), &mut d);
    }
    assert_eq!((q.entries.as_ptr(), q.heap.as_ptr()), (ep, hp));
}

#[derive(Debug, Clone)]
enum Op {
    /// Owner arms (or moves) its deadline to now + delay.
    Arm(usize, u64),
    /// Owner disarms by clearing its own field (no queue operation).
    Disarm(usize),
    /// Owner cancels its queued timer explicitly.
    Cancel(usize),
    /// Time advances and due timers are collected.
    Advance(u64),
}

const OWNERS: usize = 6;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..OWNERS, 0u64..50).prop_map(|(o, d)| Op::Arm(o, d)),
        1 => (0..OWNERS).prop_map(Op::Disarm),
        1 => (0..OWNERS).prop_map(Op::Cancel),
        2 => (0u64..40).prop_map(Op::Advance),
    ]
}

proptest! {
    /// Against a naive model (each owner's deadline; at each step everything
    /// whose deadline has passed fires): same fired set at each step, fired in
    /// non-decreasing deadline order, and the queue never sleeps past a live
    /// deadline.
    #[test]
    fn matches_naive_model(ops in proptest::collection::vec(op(), 0..300)) {
        let mut q: TimerQueue<usize> = TimerQueue::with_capacity(OWNERS);
        let mut slots: [Option<TimerHandle>; OWNERS] = [None; OWNERS];
        let mut deadlines: [Option<Ticks>; OWNERS] = [None; OWNERS];
        let mut now = Ticks(0);
        for op in ops {
            match op {
                Op::Arm(o, delay) => {
                    let d = now.after_ms(delay);
                    deadlines[o] = Some(d);
                    q.arm(&mut slots[o], o, d);
                }
                Op::Disarm(o) => deadlines[o] = None,
                Op::Cancel(o) => {
                    if let Some(h) = slots[o].take() {
                        q.cancel(h);
                    }
                    deadlines[o] = None;
                }
                Op::Advance(dt) => {
                    now = now.after_ms(dt);
                    let mut expected: Vec<(Ticks, usize)> = deadlines
                        .iter()
                        .enumerate()
                        .filter_map(|(o, d)| d.filter(|&d| d <= now).map(|d| (d, o)))
                        .collect();
                    expected.sort();
                    let mut got = Vec::new();
                    while let Some(k) = q.pop_expired(now, |k| deadlines[k]) {
                        got.push((deadlines[k].unwrap(), k));
                        deadlines[k] = None;
                        slots[k] = None;
                    }
                    prop_assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "order: {got:?}");
                    got.sort();
                    prop_assert_eq!(got, expected);
                }
            }
            check_invariants(&q);
            if let Some(min) = deadlines.iter().flatten().min() {
                let next = q.next_expiry();
                prop_assert!(next.is_some_and(|n| n <= *min), "would sleep past {min:?}: {next:?}");
            }
            prop_assert!(q.len() <= OWNERS);
        }
    }
}
