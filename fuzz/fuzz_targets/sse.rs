//! SSE framing: the parser never panics, parses the same events however the stream is cut into chunks, and after
//! the framer's boundary the gateway's closing `error` event always arrives whole and last.
#![no_main]
use gatehouse::gateway::sse::{parse_all, Framer, Parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&seed, body)) = input.split_first() else {
        return;
    };
    let whole = parse_all(body);

    // The same stream cut at positions derived from the seed byte.
    let step = usize::from(seed % 7) + 1;
    let mut parser = Parser::default();
    let mut framer = Framer::default();
    let mut chunked = Vec::new();
    for chunk in body.chunks(step) {
        chunked.extend(parser.feed(chunk));
        framer.feed(chunk);
    }
    assert_eq!(whole, chunked, "chunking changed the events");

    let mut closed = body.to_vec();
    closed.extend_from_slice(framer.to_boundary().as_bytes());
    closed.extend_from_slice(b"data: {\"error_type\":\"X\"}\n\n");
    let events = parse_all(&closed);
    let last = events.last().expect("the closing event was lost");
    assert_eq!(last.data, "{\"error_type\":\"X\"}");
    assert_eq!(last.event, "message");
});
