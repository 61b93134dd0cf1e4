//! Realistic messages, shared by the checkpoint property tests: the
//! benchmarks' corpus (`benches/corpus.rs`), so both measure and test the
//! same bytes.

#[path = "../../benches/corpus.rs"]
mod messages;
pub use messages::*;

#[test]
fn corpus_parses() {
    use crate::{Framing, HeadParser, Options, Status};
    for m in [BROWSER_GET, MINIMAL_GET] {
        let mut p: HeadParser = HeadParser::request(Options::DEFAULT);
        assert_eq!(p.parse(m), Ok(Status::Complete(m.len())));
    }
    let mut p: HeadParser = HeadParser::request(Options::DEFAULT);
    let Ok(Status::Complete(n)) = p.parse(API_POST) else {
        panic!("api post")
    };
    assert_eq!(
        p.head().framing(),
        Framing::Length((API_POST.len() - n) as u64)
    );
    let mut p: HeadParser = HeadParser::response(Options::DEFAULT);
    assert_eq!(p.parse(RESPONSE), Ok(Status::Complete(RESPONSE.len())));
    assert_eq!(p.head().headers().len(), 10);
}
