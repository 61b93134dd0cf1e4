//! Request heads: never panic; parsing in two pieces (cut chosen by the first
//! input byte) gives the same result as parsing whole; bytes examined stay
//! within twice the input; every span lies inside the head.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_http::{HeadParser, Options, Status};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, msg)) = data.split_first() else { return };
    let opts = Options { accept_invalid: ctl & 0x80 != 0, max_head: 4096 };
    let cut = if msg.is_empty() { 0 } else { usize::from(ctl & 0x7f) * msg.len() / 127 };

    let mut whole: HeadParser<32> = HeadParser::request(opts);
    let a = whole.parse(msg);
    let mut split: HeadParser<32> = HeadParser::request(opts);
    if split.parse(&msg[..cut]) == Ok(Status::Partial) {
        let _ = split.parse(msg);
    }
    let b = split.parse(msg);
    assert_eq!(a, b);
    assert!(split.examined() <= 2 * msg.len() as u64);
    if let Ok(Status::Complete(n)) = a {
        let h = whole.head();
        assert_eq!(h.head_len(), n);
        for f in h.headers() {
            assert!(f.name.end as usize <= n && f.value.end as usize <= n);
            assert_eq!(h.headers().len(), split.head().headers().len());
        }
    }
});
