//! A connection's read buffer: one page to start with, grown while reads fill it.
//!
//! hook-client sends one request of a few hundred bytes per connection, while a client that
//! pipelines (hookctl, hook-bench, a batch) sends up to [`super::connection`]'s group size at
//! once: those requests are answered as one group (one commit, one write) only if they arrive
//! in one read. A fixed 64 KiB buffer per connection did that, but tokio's `BufReader` zeroes
//! its buffer, so every hook-client connection touched 64 KiB (half a megabyte more resident
//! with 10,000 sessions). This one starts at 4 KiB and doubles, up to [`MAX_BUF`], each time a
//! read fills it. Reads at least as large as the buffer bypass it, as `BufReader`'s do.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::UnixStream;

/// The starting size: one page.
const MIN_BUF: usize = 4 * 1024;
/// The largest size: room for a group of 64 typical events (500–1,000 bytes each).
pub(super) const MAX_BUF: usize = 64 * 1024;

/// A Unix stream with a growing read buffer.
pub(super) struct Reader {
    stream: UnixStream,
    buf: Vec<u8>,
    /// The unread bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
}

impl Reader {
    pub(super) fn new(stream: UnixStream) -> Self {
        Self {
            stream,
            buf: vec![0; MIN_BUF],
            pos: 0,
            end: 0,
        }
    }

    /// The bytes read from the socket and not yet consumed.
    pub(super) fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    pub(super) fn get_ref(&self) -> &UnixStream {
        &self.stream
    }

    pub(super) fn get_mut(&mut self) -> &mut UnixStream {
        &mut self.stream
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.pos == me.end {
            if out.remaining() >= me.buf.len() {
                return Pin::new(&mut me.stream).poll_read(cx, out);
            }
            let mut rb = ReadBuf::new(&mut me.buf);
            ready!(Pin::new(&mut me.stream).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            (me.pos, me.end) = (0, n);
            if n == me.buf.len() && n < MAX_BUF {
                // Full: more was probably waiting. Grown now, used from the next read on.
                me.buf.resize((n * 2).min(MAX_BUF), 0);
            }
        }
        let n = out.remaining().min(me.end - me.pos);
        out.put_slice(&me.buf[me.pos..me.pos + n]);
        me.pos += n;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_come_through_in_order_and_the_buffer_grows_only_when_filled() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut r = Reader::new(a);
        b.write_all(b"hello").await.unwrap();
        let mut five = [0u8; 5];
        r.read_exact(&mut five).await.unwrap();
        assert_eq!(&five, b"hello");
        assert_eq!(r.buf.len(), MIN_BUF, "a short request keeps one page");

        // A pipelined burst larger than the buffer: read in pieces, the buffer doubles.
        let burst: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let writer = tokio::spawn({
            let burst = burst.clone();
            async move {
                b.write_all(&burst).await.unwrap();
                b
            }
        });
        let mut got = Vec::new();
        let mut chunk = [0u8; 100];
        while got.len() < burst.len() {
            let n = r.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got, burst);
        assert!(
            r.buf.len() > MIN_BUF && r.buf.len() <= MAX_BUF,
            "{}",
            r.buf.len()
        );
        drop(writer.await.unwrap());

        // A read as large as the buffer bypasses it; end of stream reads as 0.
        let mut big = vec![0u8; MAX_BUF];
        assert_eq!(r.read(&mut big).await.unwrap(), 0);
        assert!(r.buffer().is_empty());
    }
}
