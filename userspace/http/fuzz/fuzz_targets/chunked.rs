//! Chunked bodies: never panic; feeding in pieces (sizes from the first
//! input byte) yields the same data, trailers, end and error as feeding
//! whole; data ranges stay inside the input given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_http::{Chunk, ChunkedDecoder, Options};

#[derive(Debug, PartialEq)]
struct Out {
    data: Vec<u8>,
    trailers: Vec<(Vec<u8>, Vec<u8>)>,
    done: bool,
    error: Option<weir_http::ErrorKind>,
}

fn run(wire: &[u8], piece: usize, opts: Options) -> Out {
    let mut d = ChunkedDecoder::new(opts);
    let mut out = Out { data: vec![], trailers: vec![], done: false, error: None };
    let mut pending = Vec::new();
    for part in wire.chunks(piece.max(1)) {
        pending.extend_from_slice(part);
        loop {
            match d.decode(&pending) {
                Err(e) => {
                    out.error = Some(e.kind);
                    return out;
                }
                Ok(step) => {
                    assert!(step.consumed <= pending.len());
                    match &step.chunk {
                        Chunk::Data(r) => out.data.extend_from_slice(&pending[r.clone()]),
                        Chunk::Trailer { name, value } => {
                            out.trailers.push((pending[name.clone()].to_vec(), pending[value.clone()].to_vec()));
                        }
                        Chunk::NeedMore | Chunk::Done => {}
                    }
                    pending.drain(..step.consumed);
                    match step.chunk {
                        Chunk::Done => {
                            out.done = true;
                            return out;
                        }
                        Chunk::NeedMore => break,
                        _ => {}
                    }
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, wire)) = data.split_first() else { return };
    let opts = Options { accept_invalid: ctl & 0x80 != 0, ..Options::DEFAULT };
    let piece = usize::from(ctl & 0x7f) + 1;
    assert_eq!(run(wire, wire.len().max(1), opts), run(wire, piece, opts));
});
