//! Deterministic pseudo-random byte streams: the sender generates them from
//! a seed, the receiver regenerates and compares every byte, so a single
//! byte lost, duplicated, reordered or flipped anywhere is caught and its
//! offset reported (stronger than comparing checksums at the end).

use std::io::{self, Read, Write};

/// splitmix64: random access by word index, so any offset can be checked.
fn word(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `buf` with the stream of `seed` starting at byte `offset`.
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut pos = offset;
    let mut i = 0;
    while i < buf.len() {
        let w = word(seed, pos / 8).to_le_bytes();
        let start = (pos % 8) as usize;
        let n = (8 - start).min(buf.len() - i);
        buf[i..i + n].copy_from_slice(&w[start..start + n]);
        i += n;
        pos += n as u64;
    }
}

/// Writes `len` bytes of the stream of `seed`.
pub fn send(w: &mut impl Write, seed: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut off = 0u64;
    while off < len {
        let n = (len - off).min(buf.len() as u64) as usize;
        fill(seed, off, &mut buf[..n]);
        w.write_all(&buf[..n])?;
        off += n as u64;
    }
    Ok(())
}

/// Reads until EOF and checks the bytes are exactly `len` bytes of the
/// stream of `seed`. `Err` says where the first difference is.
pub fn receive(r: &mut impl Read, seed: u64, len: u64) -> Result<(), String> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut want = vec![0u8; 256 * 1024];
    let mut off = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read error after {off} of {len} bytes: {e}")),
        };
        if off + n as u64 > len {
            return Err(format!(
                "more than the {len} bytes sent (got {})",
                off + n as u64
            ));
        }
        fill(seed, off, &mut want[..n]);
        if let Some(i) = (0..n).find(|&i| buf[i] != want[i]) {
            return Err(format!("byte {} of {len} differs", off + i as u64));
        }
        off += n as u64;
    }
    if off == len {
        Ok(())
    } else {
        Err(format!("stream ended after {off} of {len} bytes"))
    }
}

/// The 16-byte request header of the source and sink backends: seed, length.
pub fn header(seed: u64, len: u64) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(&seed.to_le_bytes());
    h[8..].copy_from_slice(&len.to_le_bytes());
    h
}

/// Reads the header written by `header`.
pub fn read_header(r: &mut impl Read) -> io::Result<(u64, u64)> {
    let mut h = [0u8; 16];
    r.read_exact(&mut h)?;
    Ok((
        u64::from_le_bytes(h[..8].try_into().unwrap()),
        u64::from_le_bytes(h[8..].try_into().unwrap()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_match_the_whole() {
        let mut whole = vec![0u8; 1000];
        fill(7, 0, &mut whole);
        let mut piece = vec![0u8; 13];
        fill(7, 501, &mut piece);
        assert_eq!(&whole[501..514], &piece[..]);
    }
}
