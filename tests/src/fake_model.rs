//! A fake Anthropic Messages API on 127.0.0.1 for driving the real Claude Code CLI.
//!
//! The server answers `POST /v1/messages` from a script of [`Step`]s. The step is chosen by
//! counting the `assistant` messages already in the request: a request holding `i` assistant
//! messages gets step `i`, and past the end of the script the reply is a final `end_turn`
//! text `"done"`. A retried request therefore gets the same answer again, and requests are
//! never "used up" by something else.
//!
//! Side requests (title generation, `prompt` hooks, other small-model calls) carry no tools.
//! (Seen in 2.1.328 `-p` runs: `prompt`-type hooks; a Stop prompt hook's request even carries
//! the whole transcript with its assistant messages, but `"tools": []`.) They are recorded but
//! never answered from the script: they get [`FakeConfig::side_reply`] as plain text. Only requests that offer the model tools count as agent-loop requests.
//! (A subagent's requests do carry tools and would replay the script from step 0; tests
//! that spawn subagents need a smarter script.)
//!
//! The reply is an SSE stream shaped like the real API's (or one JSON message when the
//! request did not ask for `"stream": true`). Every connection is answered with
//! `Connection: close`. Everything is bounded: header size, body size, read timeouts.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Largest request body accepted (the CLI sends a few hundred KB of system prompt and tools).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest request head (request line plus headers).
const MAX_HEAD: usize = 64 * 1024;
/// A client that sends nothing for this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `Drop` waits for the accept thread.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// One tool call inside an assistant message.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub input: Value,
}

/// One scripted assistant message.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A text block, `stop_reason: "end_turn"`.
    Text(String),
    /// One tool call, `stop_reason: "tool_use"`.
    ToolUse { name: String, input: Value },
    /// Several tool calls in one message (one batch), `stop_reason: "tool_use"`.
    ToolUses(Vec<ToolCall>),
}

impl Step {
    /// A final text answer.
    pub fn text(text: impl Into<String>) -> Step {
        Step::Text(text.into())
    }

    /// A call of tool `name` with `input`.
    pub fn tool(name: impl Into<String>, input: Value) -> Step {
        Step::ToolUse {
            name: name.into(),
            input,
        }
    }

    /// A `Bash` tool call running `command`.
    pub fn bash(command: impl Into<String>) -> Step {
        Step::tool(
            "Bash",
            json!({"command": command.into(), "description": "Run a command"}),
        )
    }
}

/// Server options.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Text answered to side requests (those that offer no tools). The default,
    /// `{"ok": true}`, is the neutral answer for `prompt`-type hooks (which parse the reply
    /// as `{ok, reason?}`; anything else is a non-blocking "error parsing response as JSON").
    pub side_reply: String,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            side_reply: r#"{"ok": true}"#.to_owned(),
        }
    }
}

/// One `POST /v1/messages` request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The parsed JSON body.
    pub body: Value,
    /// The script step answered, or `None` for a side request. A step past the script's end
    /// (answered with the final `"done"`) is `Some(script.len())` or more.
    pub step: Option<usize>,
    /// When the request had been read and parsed (the CLI is waiting for the answer from here).
    pub at: Instant,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    /// Every request line seen (`"POST /v1/messages?beta=true"`), for diagnostics.
    log: Vec<String>,
}

struct Shared {
    script: Vec<Step>,
    config: FakeConfig,
    state: Mutex<State>,
    next_id: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh_id(&self, prefix: &str) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{:08x}{n:016}", std::process::id())
    }
}

/// A running fake Messages API. Dropping it stops the server.
pub struct FakeModel {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
    accept_done: mpsc::Receiver<()>,
}

impl FakeModel {
    /// Starts a server on 127.0.0.1 (a free port) that answers from `script`.
    pub fn start(script: Vec<Step>) -> io::Result<FakeModel> {
        FakeModel::start_with(script, FakeConfig::default())
    }

    /// Like [`FakeModel::start`], with options.
    pub fn start_with(script: Vec<Step>, config: FakeConfig) -> io::Result<FakeModel> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script,
            config,
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            stop: AtomicBool::new(false),
        });
        let (done_tx, accept_done) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("fake-model-accept".to_owned())
            .spawn(move || {
                accept_loop(&listener, &thread_shared);
                let _ = done_tx.send(());
            })?;
        Ok(FakeModel {
            addr,
            shared,
            accept_thread: Some(accept_thread),
            accept_done,
        })
    }

    /// `http://127.0.0.1:PORT`, for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bodies of all `POST /v1/messages` requests received (side requests included), in order.
    pub fn requests(&self) -> Vec<Value> {
        self.shared
            .state()
            .requests
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    /// Bodies of the agent-loop requests only (those answered from the script), in order.
    pub fn main_requests(&self) -> Vec<Value> {
        self.shared
            .state()
            .requests
            .iter()
            .filter(|r| r.step.is_some())
            .map(|r| r.body.clone())
            .collect()
    }

    /// The `tool_result` blocks of every user message of the agent-loop requests: what the
    /// model was told about each tool call.
    pub fn tool_results(&self) -> Vec<Value> {
        self.main_requests()
            .iter()
            .flat_map(crate::claude::tool_results)
            .collect()
    }

    /// All `POST /v1/messages` requests with the step each one was answered with.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.shared.state().requests.clone()
    }

    /// The latest agent-loop request that was answered with script step `step`.
    pub fn request_for_step(&self, step: usize) -> Option<Value> {
        self.shared
            .state()
            .requests
            .iter()
            .rev()
            .find(|r| r.step == Some(step))
            .map(|r| r.body.clone())
    }

    /// The JSON text of every request body, one per line: handy for `contains()` asserts.
    pub fn all_text(&self) -> String {
        let state = self.shared.state();
        let mut out = String::new();
        for r in &state.requests {
            out.push_str(&r.body.to_string());
            out.push('\n');
        }
        out
    }

    /// Every request line received (`"POST /v1/messages?beta=true"`, `"GET /"`, ...).
    pub fn request_log(&self) -> Vec<String> {
        self.shared.state().log.clone()
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept(); it sees the flag and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if self.accept_done.recv_timeout(STOP_TIMEOUT).is_ok()
            && let Some(handle) = self.accept_thread.take()
        {
            let _ = handle.join();
        }
        // Connection threads end on their own: each is bounded by its socket timeouts.
    }
}

impl std::fmt::Debug for FakeModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeModel")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else { continue };
        let shared = Arc::clone(shared);
        // If no thread can be spawned, the connection is dropped with the closure.
        let _ = thread::Builder::new()
            .name("fake-model-conn".to_owned())
            .spawn(move || {
                let _ = handle_connection(stream, &shared);
            });
    }
}

struct Request {
    method: String,
    target: String,
    body: Vec<u8>,
}

fn handle_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let request = match read_request(&mut reader) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(()),
        Err(e) => {
            let _ = write_json(&mut out, 400, &error_body(&e.to_string()));
            let _ = out.shutdown(Shutdown::Both);
            return Ok(());
        }
    };
    if shared.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    shared
        .state()
        .log
        .push(format!("{} {}", request.method, request.target));
    let result = respond(&mut out, &request, shared);
    let _ = out.flush();
    let _ = out.shutdown(Shutdown::Both);
    result
}

fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut head_len = 0usize;
    let mut line = String::new();
    // Skip stray blank lines before the request line.
    loop {
        line.clear();
        let n = read_line_bounded(reader, &mut line, MAX_HEAD)?;
        if n == 0 {
            return Ok(None);
        }
        head_len += n;
        if !line.trim().is_empty() {
            break;
        }
        if head_len > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    if method.is_empty() || target.is_empty() {
        return Err(invalid("malformed request line"));
    }
    let mut headers = HashMap::new();
    loop {
        line.clear();
        let n = read_line_bounded(reader, &mut line, MAX_HEAD)?;
        if n == 0 {
            return Err(invalid("connection closed inside the headers"));
        }
        head_len += n;
        if head_len > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let len: usize = match headers.get("content-length") {
            Some(v) => v
                .parse()
                .map_err(|_| invalid("bad Content-Length header"))?,
            None => 0,
        };
        if len > MAX_BODY {
            return Err(invalid("request body too large"));
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(Request {
        method,
        target,
        body,
    }))
}

/// `read_line` that fails instead of growing past `max` bytes.
fn read_line_bounded(
    reader: &mut impl BufRead,
    line: &mut String,
    max: usize,
) -> io::Result<usize> {
    let mut limited = reader.take(max as u64 + 1);
    let n = limited.read_line(line)?;
    if n > max {
        return Err(invalid("header line too long"));
    }
    Ok(n)
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if read_line_bounded(reader, &mut line, 1024)? == 0 {
            return Err(invalid("connection closed inside a chunked body"));
        }
        let size_text = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                line.clear();
                let n = read_line_bounded(reader, &mut line, MAX_HEAD)?;
                if n == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        read_line_bounded(reader, &mut line, 16)?; // CRLF after the chunk
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

fn error_body(message: &str) -> Value {
    json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}})
}

fn respond(out: &mut TcpStream, request: &Request, shared: &Shared) -> io::Result<()> {
    let path = request.target.split('?').next().unwrap_or_default();
    match (request.method.as_str(), path) {
        ("POST", "/v1/messages/count_tokens") => write_json(out, 200, &json!({"input_tokens": 10})),
        ("POST", "/v1/messages") => {
            let body: Value = match serde_json::from_slice(&request.body) {
                Ok(v) => v,
                Err(e) => {
                    return write_json(out, 400, &error_body(&format!("body is not JSON: {e}")));
                }
            };
            answer_messages(out, body, shared)
        }
        ("HEAD", _) => out.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
              Connection: close\r\n\r\n",
        ),
        ("GET", _) => write_json(out, 200, &json!({})),
        _ => write_json(
            out,
            404,
            &json!({"type": "error", "error": {"type": "not_found_error", "message": "not found"}}),
        ),
    }
}

/// The number of `assistant` messages in a Messages API request body.
pub fn assistant_count(body: &Value) -> usize {
    body.get("messages")
        .and_then(Value::as_array)
        .map_or(0, |msgs| {
            msgs.iter()
                .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
                .count()
        })
}

/// Whether a request offers the model any tools (agent-loop requests do, side requests don't).
pub fn offers_tools(body: &Value) -> bool {
    body.get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
}

enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

fn answer_messages(out: &mut TcpStream, body: Value, shared: &Shared) -> io::Result<()> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-fake")
        .to_owned();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let at = Instant::now();
    let step = offers_tools(&body).then(|| assistant_count(&body));
    let blocks: Vec<Block> = match step.map(|i| shared.script.get(i)) {
        None => vec![Block::Text(shared.config.side_reply.clone())],
        Some(None) => vec![Block::Text("done".to_owned())],
        Some(Some(Step::Text(t))) => vec![Block::Text(t.clone())],
        Some(Some(Step::ToolUse { name, input })) => vec![Block::ToolUse {
            id: shared.fresh_id("toolu_01"),
            name: name.clone(),
            input: input.clone(),
        }],
        Some(Some(Step::ToolUses(calls))) => calls
            .iter()
            .map(|c| Block::ToolUse {
                id: shared.fresh_id("toolu_01"),
                name: c.name.clone(),
                input: c.input.clone(),
            })
            .collect(),
    };
    shared.state().requests.push(Recorded { body, step, at });

    let stop_reason = if blocks.iter().any(|b| matches!(b, Block::ToolUse { .. })) {
        "tool_use"
    } else {
        "end_turn"
    };
    let msg_id = shared.fresh_id("msg_01");
    let usage = json!({
        "input_tokens": 10,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
    });
    if !stream {
        let content: Vec<Value> = blocks
            .iter()
            .map(|b| match b {
                Block::Text(t) => json!({"type": "text", "text": t}),
                Block::ToolUse { id, name, input } => {
                    json!({"type": "tool_use", "id": id, "name": name, "input": input})
                }
            })
            .collect();
        let message = json!({
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        });
        return write_json(out, 200, &message);
    }

    let mut sse = String::new();
    let mut event = |name: &str, data: &Value| {
        sse.push_str("event: ");
        sse.push_str(name);
        sse.push_str("\ndata: ");
        sse.push_str(&data.to_string());
        sse.push_str("\n\n");
    };
    event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage,
        }}),
    );
    for (index, block) in blocks.iter().enumerate() {
        let (start, delta) = match block {
            Block::Text(t) => (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": t}),
            ),
            Block::ToolUse { id, name, input } => (
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                json!({"type": "input_json_delta", "partial_json": input.to_string()}),
            ),
        };
        event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
        event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        );
    }
    event(
        "message_delta",
        &json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": 5}}),
    );
    event("message_stop", &json!({"type": "message_stop"}));

    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
         request-id: {}\r\nConnection: close\r\n\r\n",
        shared.fresh_id("req_01"),
    );
    out.write_all(head.as_bytes())?;
    out.write_all(sse.as_bytes())
}

fn write_json(out: &mut TcpStream, status: u16, body: &Value) -> io::Result<()> {
    let text = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        text.len(),
    );
    out.write_all(head.as_bytes())?;
    out.write_all(text.as_bytes())
}
