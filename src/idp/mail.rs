//! Delivery of codes: one RFC 5322 message per code, sent by SMTP when `[idp.smtp]` is configured, otherwise
//! written as a file to `<data-dir>/outbox/` (temp file + rename). The SMTP client is deliberately small: plain
//! TCP (no TLS, no AUTH), for a relay on localhost or a trusted network — put a real MTA in front for
//! anything else. Must never log a message body (it contains the code).
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::SmtpConfig;

/// Why a message could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("outbox: {0}")]
    Outbox(std::io::Error),
    #[error("smtp: {0}")]
    Smtp(String),
}

/// Where messages go.
#[derive(Debug, Clone)]
pub struct Mailer {
    outbox: PathBuf,
    smtp: Option<SmtpConfig>,
}

/// One message.
pub struct Message<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub date_unix: i64,
}

fn rfc5322_date(unix: i64) -> String {
    // "Sat Nov 28 15:48:00 UTC 2026" → "Sat, 28 Nov 2026 15:48:00 +0000"
    let t = super::srp::format_timestamp(unix);
    let p: Vec<&str> = t.split(' ').collect();
    match p.as_slice() {
        [wd, mon, day, hms, _, year] => format!("{wd}, {day} {mon} {year} {hms} +0000"),
        _ => t,
    }
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

impl Mailer {
    pub fn new(outbox: PathBuf, smtp: Option<SmtpConfig>) -> Self {
        Self { outbox, smtp }
    }

    fn render(&self, m: &Message<'_>, from: &str) -> String {
        let body = m.body.replace("\r\n", "\n").replace('\n', "\r\n");
        format!(
            "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}@gatehouse>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
            clean(from),
            clean(m.to),
            clean(m.subject),
            rfc5322_date(m.date_unix),
            crate::util::uuid_v4(),
        )
    }

    /// Delivers `m`.
    pub async fn send(&self, m: &Message<'_>) -> Result<(), MailError> {
        match &self.smtp {
            Some(cfg) => {
                let text = self.render(m, &cfg.from);
                tokio::time::timeout(Duration::from_secs(20), smtp_send(cfg, m.to, &text))
                    .await
                    .map_err(|_| MailError::Smtp("timed out".into()))?
            }
            None => {
                let text = self.render(m, "gatehouse <no-reply@gatehouse.invalid>");
                let dir = self.outbox.clone();
                // Names sort in the order the messages were written (by time, then by a per-process counter).
                static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = format!(
                    "{:011}-{seq:08}-{}.eml",
                    m.date_unix,
                    crate::util::uuid_v4()
                );
                tokio::task::spawn_blocking(move || {
                    std::fs::create_dir_all(&dir)?;
                    let tmp = dir.join(format!(".{name}.tmp"));
                    std::fs::write(&tmp, text)?;
                    std::fs::rename(&tmp, dir.join(&name))
                })
                .await
                .map_err(|e| MailError::Outbox(std::io::Error::other(e)))?
                .map_err(MailError::Outbox)
            }
        }
    }
}

async fn expect<R: AsyncBufReadExt + Unpin>(r: &mut R, code: &str) -> Result<(), MailError> {
    loop {
        let mut line = String::new();
        let n = r
            .read_line(&mut line)
            .await
            .map_err(|e| MailError::Smtp(e.to_string()))?;
        if n == 0 {
            return Err(MailError::Smtp("connection closed".into()));
        }
        if !line.starts_with(code) {
            return Err(MailError::Smtp(format!(
                "expected {code}, got {}",
                line.trim_end()
            )));
        }
        // "250-..." continues, "250 ..." ends the reply.
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

/// RFC 5321 over plain TCP: EHLO, MAIL FROM, RCPT TO, DATA (dot-stuffed), QUIT.
async fn smtp_send(cfg: &SmtpConfig, to: &str, text: &str) -> Result<(), MailError> {
    let stream = TcpStream::connect((cfg.host.as_str(), cfg.port))
        .await
        .map_err(|e| MailError::Smtp(e.to_string()))?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let addr = |s: &str| {
        let s = clean(s);
        match (s.rfind('<'), s.rfind('>')) {
            (Some(a), Some(b)) if a < b => s[a + 1..b].to_string(),
            _ => s,
        }
    };
    expect(&mut r, "220").await?;
    let mut steps: Vec<(String, &str)> = vec![
        ("EHLO gatehouse\r\n".into(), "250"),
        (format!("MAIL FROM:<{}>\r\n", addr(&cfg.from)), "250"),
        (format!("RCPT TO:<{}>\r\n", addr(to)), "250"),
        ("DATA\r\n".into(), "354"),
    ];
    let mut data = String::new();
    for line in text.split("\r\n") {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    steps.push((data, "250"));
    steps.push(("QUIT\r\n".into(), "221"));
    for (cmd, code) in steps {
        w.write_all(cmd.as_bytes())
            .await
            .map_err(|e| MailError::Smtp(e.to_string()))?;
        expect(&mut r, code).await?;
    }
    Ok(())
}
