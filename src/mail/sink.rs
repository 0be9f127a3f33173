//! A small SMTP server that keeps what it receives: the test suite's and the benchmark's mail sink (RFC 5321 subset).
//!
//! Any number of connections, each with any number of messages (lettre's pool works).
//! A kept message is its envelope and its content as received: dot-stuffing undone,
//! lines joined with CRLF, the CRLF before the final "." counted as the terminator's.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinSet};

const MAX_MESSAGE: usize = 32 * 1024 * 1024;

/// A running sink; dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: AbortHandle,
}

/// One accepted message: the envelope's addresses and the content as kept.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    arrived: Notify,
}

#[derive(Debug, Default)]
struct State {
    messages: Vec<ReceivedMail>,
    /// How many more DATA transactions to refuse, and the reply they get.
    reject: Option<(usize, String)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends a DATA transaction (`data` is `None` when it was too big) and gives the reply.
    fn finish(&self, from: String, to: Vec<String>, data: Option<Vec<u8>>) -> String {
        let Some(data) = data else {
            return "552 5.3.4 message exceeds 32 MiB".to_owned();
        };
        let mut state = self.lock();
        if let Some((left, reply)) = state.reject.take() {
            state.reject = (left > 1).then(|| (left - 1, reply.clone()));
            return reply;
        }
        let data = String::from_utf8_lossy(&data).into_owned();
        state.messages.push(ReceivedMail { from, to, data });
        let n = state.messages.len();
        drop(state);
        self.arrived.notify_waiters();
        format!("250 2.0.0 Ok: queued as {n}")
    }
}

impl SmtpSink {
    /// Binds 127.0.0.1:0 and serves until dropped (drop aborts the accept loop).
    pub async fn start() -> io::Result<SmtpSink> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(accept(listener, Arc::clone(&shared))).abort_handle();
        Ok(SmtpSink { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Messages accepted so far (DATA acknowledged), in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.lock().messages.clone()
    }

    pub fn count(&self) -> usize {
        self.shared.lock().messages.len()
    }

    /// Waits until at least n messages arrived or the timeout passes; returns the count.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Made before the check, so a message arriving in between still wakes it.
            let arrived = self.shared.arrived.notified();
            if self.count() >= n || tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.count();
            }
        }
    }

    /// The next `n` DATA commands are answered with this reply instead of accepting (e.g.
    /// (451, "4.3.0 try again later") or (550, "5.1.1 no such user")); those messages are
    /// not kept. It is the reply to the message content, after the 354.
    pub fn reject_next(&self, n: usize, code: u16, text: &str) {
        self.shared.lock().reject = (n > 0).then(|| (n, format!("{code} {text}")));
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new(); // dropped with this task, closing them all
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                while connections.try_join_next().is_some() {}
                connections.spawn(serve(stream, Arc::clone(&shared)));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn read_line<R>(read: &mut R, line: &mut Vec<u8>, limit: u64) -> io::Result<usize>
where
    R: AsyncBufRead + Unpin,
{
    line.clear();
    (&mut *read).take(limit).read_until(b'\n', line).await
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 accolade-sink ESMTP\r\n").await?;
    let (mut from, mut to, mut line) = (None::<String>, Vec::new(), Vec::new());
    // Ends at the end of the stream, or at a command line far too long.
    while read_line(&mut read, &mut line, 64 * 1024).await? > 0 && line.ends_with(b"\n") {
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        let verb = verb.to_ascii_uppercase();
        if matches!(verb.as_str(), "EHLO" | "HELO" | "RSET" | "MAIL") {
            (from, to) = (None, Vec::new());
        }
        let reply: String = match verb.as_str() {
            "EHLO" => "250-accolade-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8".into(),
            "HELO" => "250 accolade-sink".into(),
            "MAIL" => {
                from = mailbox(arg, "FROM:");
                match from {
                    Some(_) => "250 2.1.0 Ok".into(),
                    None => "501 5.5.4 syntax: MAIL FROM:<address>".into(),
                }
            }
            "RCPT" if from.is_none() => "503 5.5.1 MAIL first".into(),
            "RCPT" => match mailbox(arg, "TO:") {
                Some(address) => {
                    to.push(address);
                    "250 2.1.5 Ok".into()
                }
                None => "501 5.5.4 syntax: RCPT TO:<address>".into(),
            },
            "DATA" if from.is_none() || to.is_empty() => "503 5.5.1 MAIL and RCPT first".into(),
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut read).await?;
                let sender = from.take().unwrap_or_default();
                shared.finish(sender, std::mem::take(&mut to), data)
            }
            "RSET" | "NOOP" => "250 2.0.0 Ok".into(),
            "QUIT" => return write.write_all(b"221 2.0.0 Bye\r\n").await,
            _ => "502 5.5.2 command not recognized".into(),
        };
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
    Ok(())
}

/// The address in `FROM:<a@b> PARAMETERS` or `TO:<a@b>`.
fn mailbox(arg: &str, prefix: &str) -> Option<String> {
    let (head, rest) = arg.trim_start().split_at_checked(prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let address = match rest.trim_start().strip_prefix('<') {
        Some(rest) => rest.split_once('>')?.0,
        None => rest.split_whitespace().next()?,
    };
    Some(address.to_owned())
}

/// Reads the content up to the lone "." line, undoing dot-stuffing; `None` when too big.
async fn read_data(read: &mut (impl AsyncBufRead + Unpin)) -> io::Result<Option<Vec<u8>>> {
    let (mut data, mut line, mut at_start, mut too_big) = (Vec::new(), Vec::new(), true, false);
    loop {
        if read_line(read, &mut line, 1 << 20).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let (mut body, complete) = match line.strip_suffix(b"\n") {
            Some(body) => (body.strip_suffix(b"\r").unwrap_or(body), true),
            None => (line.as_slice(), false),
        };
        if at_start && complete && body == b"." {
            if data.ends_with(b"\r\n") {
                data.truncate(data.len() - 2); // the CRLF of "<CRLF>.<CRLF>"
            }
            return Ok((!too_big).then_some(data));
        }
        if at_start {
            body = body.strip_prefix(b".").unwrap_or(body);
        }
        too_big |= data.len() + body.len() + 2 > MAX_MESSAGE;
        if too_big {
            data = Vec::new();
        } else {
            data.extend_from_slice(body);
            data.extend_from_slice(if complete { b"\r\n" } else { b"" });
        }
        at_start = complete;
    }
}

impl ReceivedMail {
    /// The first header of that name (case-insensitive), unfolded (continuation lines
    /// joined with one space); encoded words are left as they are.
    pub fn header(&self, name: &str) -> Option<String> {
        header(split(&self.data).0, name)
    }

    /// Every text/plain part decoded (quoted-printable and base64 transfer encodings
    /// handled; multipart walked recursively by boundary), joined; for a single-part
    /// text/plain message its body. Line breaks come out as `\n`.
    pub fn text(&self) -> String {
        self.parts("text/plain")
    }

    /// Same for text/html parts.
    pub fn html(&self) -> String {
        self.parts("text/html")
    }

    fn parts(&self, media: &str) -> String {
        let mut found = Vec::new();
        collect(&self.data, media, 0, &mut found);
        found.join("\n").replace("\r\n", "\n")
    }
}

/// The header section and the body of an entity (its lines end in CRLF, as kept).
fn split(entity: &str) -> (&str, &str) {
    match entity.strip_prefix("\r\n") {
        Some(body) => ("", body),
        None => entity.split_once("\r\n\r\n").unwrap_or((entity, "")),
    }
}

fn header(head: &str, name: &str) -> Option<String> {
    let named = |line: &&str| {
        !line.starts_with([' ', '\t'])
            && line
                .split_once(':')
                .is_some_and(|(key, _)| key.trim().eq_ignore_ascii_case(name))
    };
    let mut lines = head.lines().skip_while(|line| !named(line));
    let mut value = lines.next()?.split_once(':')?.1.trim().to_owned();
    for more in lines.take_while(|line| line.starts_with([' ', '\t'])) {
        value.push(' ');
        value.push_str(more.trim());
    }
    Some(value)
}

fn collect(entity: &str, media: &str, depth: usize, found: &mut Vec<String>) {
    let (head, body) = split(entity);
    let kind = header(head, "Content-Type").unwrap_or_else(|| "text/plain".to_owned());
    let mut params = kind.split(';').map(str::trim);
    let this = params.next().unwrap_or_default().to_ascii_lowercase();
    if this.starts_with("multipart/") && depth < 16 {
        let boundary = params
            .filter_map(|p| p.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("boundary"));
        let Some((_, boundary)) = boundary else {
            return;
        };
        let delimiter = format!("\r\n--{}", boundary.trim().trim_matches('"'));
        // The CRLF before a delimiter is part of it; the first piece is the preamble.
        for piece in format!("\r\n{body}").split(&delimiter).skip(1) {
            if piece.starts_with("--") {
                break;
            }
            let part = piece.split_once("\r\n").map_or("", |(_padding, part)| part);
            collect(part, media, depth + 1, found);
        }
    } else if this == media {
        let encoding = header(head, "Content-Transfer-Encoding").unwrap_or_default();
        let bytes = match encoding.to_ascii_lowercase().as_str() {
            "quoted-printable" => quoted_printable(body),
            "base64" => base64(body),
            _ => body.as_bytes().to_vec(),
        };
        found.push(String::from_utf8_lossy(&bytes).into_owned());
    }
}

fn quoted_printable(body: &str) -> Vec<u8> {
    let hex = |c: Option<&u8>| c.and_then(|&c| char::from(c).to_digit(16));
    let (mut out, mut soft) = (Vec::with_capacity(body.len()), true);
    for line in body.split('\n') {
        if !soft {
            out.push(b'\n');
        }
        let line = line.trim_end_matches(['\r', ' ', '\t']);
        soft = line.ends_with('=');
        let (bytes, mut i) = (line.strip_suffix('=').unwrap_or(line).as_bytes(), 0);
        while let Some(&byte) = bytes.get(i) {
            if let (b'=', Some(high), Some(low)) =
                (byte, hex(bytes.get(i + 1)), hex(bytes.get(i + 2)))
            {
                out.push((high * 16 + low) as u8);
                i += 3;
            } else {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

fn base64(body: &str) -> Vec<u8> {
    let (mut out, mut acc, mut bits) = (Vec::with_capacity(body.len() / 4 * 3), 0u32, 0);
    for c in body.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        (acc, bits) = (((acc << 6) | u32::from(value)) & 0xffff, bits + 6);
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lettre::message::header::{ContentTransferEncoding as Cte, ContentType};
    use lettre::message::{MessageBuilder, MultiPart, SinglePart};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    const TEXT: &str = "Bonjour Zoë, ton badge « Rust ✓ » est prêt.\n.well-known\n.\n..\nFin";
    const HTML: &str = "<p>Bonjour Zoë, <a href=\"https://example.test/b/1\">ton badge</a></p>";
    const SUBJECT: &str = "Your badge: a subject long enough for lettre to fold it onto two lines";

    fn mailer(sink: &SmtpSink) -> AsyncSmtpTransport<Tokio1Executor> {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(sink.addr().port())
            .build()
    }

    fn message(to: &str, subject: &str) -> MessageBuilder {
        let from = "Accolade <noreply@accolade.test>".parse().expect("from");
        Message::builder()
            .from(from)
            .to(to.parse().expect("to"))
            .subject(subject)
    }

    #[tokio::test]
    async fn keeps_what_lettre_sends() {
        let sink = SmtpSink::start().await.expect("start");
        assert_eq!(sink.url(), format!("smtp://{}", sink.addr()));
        let part = |kind, cte, body: &str| {
            SinglePart::builder()
                .header(kind)
                .header(cte)
                .body(body.to_owned())
        };
        let alternative = MultiPart::alternative()
            .singlepart(part(ContentType::TEXT_PLAIN, Cte::QuotedPrintable, TEXT))
            .singlepart(part(ContentType::TEXT_HTML, Cte::Base64, HTML));
        let first = message("Zoë <zoe@example.test>", SUBJECT).multipart(alternative);
        let plain = "first\n.\n..two dots\n.one dot\nlast\n";
        let second = message("bob@example.test", "Plain").body(plain.to_owned());
        let mailer = mailer(&sink);
        mailer
            .send(first.expect("first"))
            .await
            .expect("send first");
        mailer
            .send(second.expect("second"))
            .await
            .expect("send second");
        assert_eq!(sink.wait_for(2, Duration::from_secs(5)).await, 2);

        let mail = sink.messages();
        assert_eq!(mail[0].from, "noreply@accolade.test");
        assert_eq!(mail[0].to, ["zoe@example.test"]);
        assert_eq!(mail[0].header("subject").as_deref(), Some(SUBJECT));
        assert!(
            mail[0].text().contains("\n.well-known\n"),
            "{}",
            mail[0].data
        );
        assert_eq!(mail[0].text(), TEXT);
        assert_eq!(mail[0].html(), HTML);
        assert_eq!(mail[1].to, ["bob@example.test"]);
        assert_eq!(mail[1].header("Subject").as_deref(), Some("Plain"));
        assert_eq!(
            (mail[1].text().as_str(), mail[1].html().as_str()),
            (plain, "")
        );
    }

    #[tokio::test]
    async fn reject_next_fails_one_send() {
        let sink = SmtpSink::start().await.expect("start");
        let mailer = mailer(&sink);
        let mail = || {
            message("ada@example.test", "Hi")
                .body("hi".to_owned())
                .expect("mail")
        };
        sink.reject_next(1, 451, "4.3.0 try again later");
        let error = mailer.send(mail()).await.expect_err("rejected");
        assert!(error.to_string().contains("451"), "{error}");
        mailer.send(mail()).await.expect("accepted");
        assert_eq!(sink.wait_for(2, Duration::from_millis(50)).await, 1);
        assert_eq!(sink.messages()[0].text(), "hi");
    }

    #[tokio::test]
    async fn speaks_the_protocol() {
        let sink = SmtpSink::start().await.expect("start");
        let mut stream = TcpStream::connect(sink.addr()).await.expect("connect");
        let script = "HELO x\nRCPT TO:<a@b>\nBOGUS\nMAIL FROM:<s@x> SIZE=9\nRSET\nDATA\n\
            MAIL FROM: <s@x> BODY=8BITMIME\nRCPT TO:<a@b>\nRCPT TO:<c@d>\nDATA\n\
            Subject: hi\n\n..x\n.\nNOOP\nQUIT\n";
        stream.write_all(script.as_bytes()).await.expect("write");
        let mut replies = String::new();
        stream.read_to_string(&mut replies).await.expect("read");
        let codes: Vec<&str> = replies.lines().map(|l| &l[..3]).collect();
        let expected = "220 250 503 502 250 250 503 250 250 250 354 250 250 221";
        assert_eq!(codes.join(" "), expected, "{replies}");
        assert!(
            replies.contains("250 2.0.0 Ok: queued as 1\r\n"),
            "{replies}"
        );
        let mail = &sink.messages()[0];
        assert_eq!((mail.from.as_str(), mail.to.len()), ("s@x", 2));
        assert_eq!(mail.data, "Subject: hi\r\n\r\n.x");
        assert_eq!(mail.header("SUBJECT").as_deref(), Some("hi"));
        assert_eq!(mail.text(), ".x");
    }
}
