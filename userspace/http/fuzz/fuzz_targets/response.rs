//! Response heads for each request method that changes framing: never panic,
//! two pieces agree with whole, bytes examined stay within twice the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_http::{HeadParser, Method, Options, Status};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, msg)) = data.split_first() else { return };
    let method = [Method::Get, Method::Head, Method::Connect, Method::Post][usize::from(ctl & 3)];
    let opts = Options { accept_invalid: ctl & 4 != 0, max_head: 4096 };
    let cut = if msg.is_empty() { 0 } else { usize::from(ctl >> 3) * msg.len() / 31 };

    let mut whole: HeadParser<32> = HeadParser::response(opts);
    whole.reset_response(method);
    let a = whole.parse(msg);
    let mut split: HeadParser<32> = HeadParser::response(opts);
    split.reset_response(method);
    if split.parse(&msg[..cut]) == Ok(Status::Partial) {
        let _ = split.parse(msg);
    }
    let b = split.parse(msg);
    assert_eq!(a, b);
    assert!(split.examined() <= 2 * msg.len() as u64);
    if let Ok(Status::Complete(_)) = a {
        assert_eq!(whole.head().framing(), split.head().framing());
        assert_eq!(whole.head().keep_alive(), split.head().keep_alive());
    }
});
