//! One HTTP connection from accept to close, for both TCP listeners (the hook listener and the
//! dashboard's, `crate::ui`): hyper serves it while the connection's [`Standing`] is watched,
//! so that one that has not proven itself is closed at its deadline or when shed for a newer
//! one ([`admission`](super::admission)), and a shutdown ends it.
//!
//! What differs between the listeners is a [`Watch`] (how long a connection may take to prove
//! itself; whether a shutdown lets one that has not finish its request in flight) and what
//! they do with the [`Ended`] that comes back (count, log); answering a request is theirs.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::admission::Standing;
use super::refusal::Unproven;

/// A keep-alive connection idle this long between requests is closed (also bounds how long a
/// client that presented the token may take to send a later request's headers).
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// hyper's read buffer per connection (request heads are far smaller).
pub(crate) const MAX_BUF: usize = 64 * 1024;

/// What a listener decides about the watch of its connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch {
    /// How long a connection may take to prove itself (the hook listener: a request with the
    /// token; the dashboard: a live session or a login code).
    pub(crate) auth_timeout: Duration,
    /// At shutdown, whether a connection that has not proven itself finishes its request in
    /// flight too (the dashboard: its page's files need no session) or is closed at once (the
    /// hook listener: nothing in flight worth waiting for). A proven one always finishes it.
    pub(crate) drain_unproven: bool,
}

/// How a connection's watch ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// hyper finished the connection.
    Done(Result<(), hyper::Error>),
    /// The daemon is stopping: the connection was closed, after its request in flight if the
    /// [`Watch`] lets it finish.
    Shutdown(Result<(), hyper::Error>),
    /// Closed before it proved itself.
    Unproven(Unproven),
}

/// Serves one accepted connection with `respond` until it ends, and says how. The caller still
/// holds the connection's place in its `Admission` and leaves it afterwards.
pub(crate) async fn serve<F, Fut, B>(
    stream: TcpStream,
    standing: &Arc<Standing>,
    shutdown: &CancellationToken,
    watch: Watch,
    respond: F,
) -> Ended
where
    F: Fn(Request<Incoming>) -> Fut,
    Fut: Future<Output = Response<B>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let _ = stream.set_nodelay(true);
    let svc = service_fn(move |req| {
        let reply = respond(req);
        async move { Ok::<_, Infallible>(reply.await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(IDLE_TIMEOUT)
        .keep_alive(true)
        .max_buf_size(MAX_BUF);
    let watched = Watched {
        stream,
        standing: Arc::clone(standing),
    };
    let conn = builder.serve_connection(TokioIo::new(watched), svc);
    tokio::pin!(conn);
    // Until a request proves the connection, it is closed at its deadline or when shed for a
    // newer one; once one has, this never resolves and costs one load per poll. Requests are
    // read and checked inside `conn`, on this same task and polled first, so a proving request
    // that has arrived always counts before the watch is asked.
    let deadline = tokio::time::sleep(watch.auth_timeout);
    let shed = standing.shed.notified();
    tokio::pin!(deadline, shed);
    let unproven = std::future::poll_fn(|cx| {
        if standing.is_authenticated() {
            return Poll::Pending;
        }
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Unproven::Timeout);
        }
        if shed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Unproven::Shed);
        }
        Poll::Pending
    });
    // From here on it may be shed: `conn` reads what the client sent in this same poll.
    standing.start();
    tokio::select! {
        biased;
        r = conn.as_mut() => Ended::Done(r),
        () = shutdown.cancelled() => {
            if watch.drain_unproven || standing.is_authenticated() {
                conn.as_mut().graceful_shutdown();
                Ended::Shutdown(conn.await)
            } else {
                Ended::Shutdown(Ok(()))
            }
        }
        why = unproven => Ended::Unproven(why),
    }
}

/// The TCP stream as hyper reads it, telling the connection's [`Standing`] when bytes arrive
/// before it has proven itself: such a connection is shed first
/// ([`admission`](super::admission)).
struct Watched {
    stream: TcpStream,
    standing: Arc<Standing>,
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before && !this.standing.is_authenticated() {
            this.standing.heard();
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
