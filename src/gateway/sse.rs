//! Server-sent-event framing (WHATWG HTML, "event stream interpretation"): `Framer` follows a relayed byte stream
//! so the gateway knows what to write before its own closing `error` event for that event to arrive whole and
//! separate — an agent that dies in the middle of a line must not glue half its JSON to ours. `Parser` is a complete
//! streaming parser of the format (chunk boundaries anywhere, CR/LF/CRLF line ends, comments, multi-line `data`),
//! used by the tests and the fuzz target to check the framer, and by anything in Rust that reads SSE.
//! Neither ever buffers the stream: the framer keeps three flags, the parser one line.

/// Where a relayed event stream stands, byte by byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framer {
    /// No byte of the current line seen yet.
    line_start: bool,
    /// The current event has at least one non-empty line (a blank line would dispatch it).
    pending: bool,
    /// The last byte was CR: a following LF belongs to the same line end.
    after_cr: bool,
}

impl Default for Framer {
    fn default() -> Self {
        Self {
            line_start: true,
            pending: false,
            after_cr: false,
        }
    }
}

impl Framer {
    /// Follows `bytes`, the next piece of the stream.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.pending = !self.line_start;
                    self.line_start = true;
                    self.after_cr = b == b'\r';
                }
                _ => {
                    self.after_cr = false;
                    self.line_start = false;
                }
            }
        }
    }

    /// What to write so that whatever follows starts a fresh event: the current line and event are ended (a
    /// half-sent event is dispatched as the client received it, never merged with the next one).
    pub fn to_boundary(&self) -> &'static str {
        // A leading LF right after CR would be read as the second half of CRLF: send one more.
        match (self.after_cr, self.line_start, self.pending) {
            (_, false, _) => "\n\n",
            (true, true, true) => "\n\n",
            (false, true, true) => "\n",
            (_, true, false) => "",
        }
    }

    /// Whether the stream is between events (nothing to end before a new event).
    pub fn at_boundary(&self) -> bool {
        self.line_start && !self.pending
    }
}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `event:` field; "message" when absent.
    pub event: String,
    /// `data:` lines joined by LF.
    pub data: String,
    /// The last event id seen so far (it persists across events, as the spec says).
    pub id: String,
    /// `retry:` in milliseconds, if this event set one.
    pub retry: Option<u64>,
}

/// A streaming event-stream parser; feed it chunks split anywhere.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    after_cr: bool,
    started: bool,
    bom_seen: usize,
    event: String,
    data: String,
    last_id: String,
    retry: Option<u64>,
}

impl Parser {
    /// Parses `chunk`; returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        const BOM: &[u8; 3] = b"\xEF\xBB\xBF";
        let mut out = Vec::new();
        for &b in chunk {
            if !self.started {
                // A leading UTF-8 BOM is dropped, even when it arrives split across chunks.
                if b == BOM[self.bom_seen] {
                    self.bom_seen += 1;
                    if self.bom_seen == BOM.len() {
                        self.started = true;
                    }
                    continue;
                }
                self.started = true;
                for &held in &BOM[..self.bom_seen] {
                    self.byte(held, &mut out);
                }
            }
            self.byte(b, &mut out);
        }
        out
    }

    fn byte(&mut self, b: u8, out: &mut Vec<Event>) {
        match b {
            b'\n' if self.after_cr => self.after_cr = false,
            b'\n' | b'\r' => {
                self.after_cr = b == b'\r';
                let line = std::mem::take(&mut self.line);
                self.line_done(&line, out);
            }
            _ => {
                self.after_cr = false;
                self.line.push(b);
            }
        }
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            if self.data.is_empty() {
                self.event.clear();
                self.retry = None;
                return;
            }
            let mut data = std::mem::take(&mut self.data);
            data.pop();
            let event = std::mem::take(&mut self.event);
            out.push(Event {
                event: if event.is_empty() {
                    "message".to_string()
                } else {
                    event
                },
                data,
                id: self.last_id.clone(),
                retry: self.retry.take(),
            });
            return;
        }
        if line[0] == b':' {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.find(':') {
            Some(i) => {
                let v = &text[i + 1..];
                (&text[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (&text[..], ""),
        };
        match field {
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "event" => self.event = value.to_string(),
            "id" if !value.contains('\0') => self.last_id = value.to_string(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
    }
}

/// Parses a whole stream (tests, small bodies).
pub fn parse_all(body: &[u8]) -> Vec<Event> {
    Parser::default().feed(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn parses_multi_line_data_comments_and_fields() {
        let body =
            b": keep-alive\nevent: delta\nid: 7\nretry: 1500\ndata: a\ndata:b\n\ndata: c\n\n";
        let ev = parse_all(body);
        assert_eq!(data(&ev), ["a\nb", "c"]);
        assert_eq!(ev[0].event, "delta");
        assert_eq!(ev[0].retry, Some(1500));
        assert_eq!(ev[1].event, "message");
        assert_eq!(ev[1].id, "7", "the last event id persists");
    }

    #[test]
    fn every_line_ending_works_and_crlf_split_across_chunks_is_one_line_end() {
        for body in [
            &b"data: x\r\n\r\n"[..],
            b"data: x\r\r",
            b"data: x\n\n",
            b"data: x\r\n\n",
        ] {
            assert_eq!(data(&parse_all(body)), ["x"], "{body:?}");
        }
        let mut p = Parser::default();
        assert!(p.feed(b"data: x\r").is_empty());
        assert!(
            p.feed(b"\n").is_empty(),
            "CR + LF in two chunks is one line end"
        );
        assert_eq!(data(&p.feed(b"\n")), ["x"]);
    }

    #[test]
    fn an_unterminated_event_is_never_dispatched_and_an_empty_one_is_dropped() {
        assert!(parse_all(b"data: half").is_empty());
        assert!(parse_all(b"data: half\n").is_empty());
        assert!(parse_all(b"event: x\n\n").is_empty());
        assert_eq!(data(&parse_all(b"data\n\n")), [""]);
    }

    #[test]
    fn a_leading_bom_is_dropped_and_invalid_utf8_is_replaced() {
        assert_eq!(data(&parse_all(b"\xEF\xBB\xBFdata: x\n\n")), ["x"]);
        assert_eq!(data(&parse_all(b"data: \xff\n\n")), ["\u{fffd}"]);
        let mut p = Parser::default();
        assert!(p.feed(b"\xEF").is_empty());
        assert!(p.feed(b"\xBB\xBFdata: y\n").is_empty());
        assert_eq!(
            data(&p.feed(b"\n")),
            ["y"],
            "a BOM split across chunks is still dropped"
        );
        assert!(
            parse_all(b"\xEFdata: z\n\n").is_empty(),
            "half a BOM is not a BOM: the field name is not `data`"
        );
    }

    #[test]
    fn id_with_nul_is_ignored_and_retry_must_be_digits() {
        let ev = parse_all(b"id: a\0b\nretry: 12x\ndata: x\n\n");
        assert_eq!(ev[0].id, "");
        assert_eq!(ev[0].retry, None);
    }

    /// The property the gateway relies on: after `to_boundary()`, our event arrives whole and last.
    #[test]
    fn after_the_boundary_our_event_is_separate_and_intact_wherever_the_agent_stopped() {
        let prefixes: &[&[u8]] = &[
            b"",
            b"data: {\"n\":1}\n\n",
            b"data: {\"par",
            b"data: {\"n\":1}\n",
            b"data: {\"n\":1}\r",
            b"data: {\"n\":1}\r\n",
            b"data: {\"n\":1}\r\n\r",
            b": comment",
            b": comment\n",
            b"event: x\n",
            b"\r",
            b"\n",
        ];
        for prefix in prefixes {
            let mut f = Framer::default();
            for b in prefix.iter() {
                f.feed(std::slice::from_ref(b));
            }
            let mut whole = prefix.to_vec();
            whole.extend_from_slice(f.to_boundary().as_bytes());
            whole.extend_from_slice(b"data: {\"error\":\"x\"}\n\n");
            let ev = parse_all(&whole);
            let last = ev
                .last()
                .unwrap_or_else(|| panic!("no event for {prefix:?}"));
            assert_eq!(last.data, "{\"error\":\"x\"}", "{prefix:?}");
            assert_eq!(
                last.event, "message",
                "{prefix:?}: an earlier event: line leaked"
            );
        }
    }

    #[test]
    fn the_framer_knows_a_clean_boundary() {
        let mut f = Framer::default();
        assert!(f.at_boundary());
        f.feed(b"data: x\n");
        assert!(!f.at_boundary());
        f.feed(b"\n");
        assert!(f.at_boundary());
        assert_eq!(f.to_boundary(), "");
    }
}
