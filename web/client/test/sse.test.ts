import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SseParser, readSse, type SseEvent } from "../src/sse.ts";

const enc = new TextEncoder();

function parseInChunks(text: string, cuts: number[]): SseEvent[] {
  const bytes = enc.encode(text);
  const p = new SseParser();
  const out: SseEvent[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(...p.push(bytes.slice(prev, c)));
    prev = c;
  }
  out.push(...p.end());
  return out;
}

const STREAM =
  "\uFEFF: a comment line\r\n" +
  "data: {\"type\":\"whoami\"}\r\n\r\n" +
  "event: note\nid: 7\ndata: first line\ndata: second line\n\n" +
  ":keep-alive\n\n" +
  "data:no space\rdata:  two spaces\r\r" +
  "retry: 1500\ndata: ünïcödé ✓\n\n" +
  "data\n\n" +
  "data: unterminated";

const EXPECTED: SseEvent[] = [
  { event: "message", data: '{"type":"whoami"}', id: "" },
  { event: "note", data: "first line\nsecond line", id: "7" },
  { event: "message", data: "no space\n two spaces", id: "7" },
  { event: "message", data: "ünïcödé ✓", id: "7", retry: 1500 },
  { event: "message", data: "", id: "7" },
];

describe("SseParser", () => {
  it("parses a whole stream: comments, CRLF/LF/CR, multi-line data, event, id, retry, BOM", () => {
    expect(parseInChunks(STREAM, [])).toEqual(EXPECTED);
  });

  it("gives the same events whatever the chunk boundaries (every single cut and byte by byte)", () => {
    const n = enc.encode(STREAM).length;
    for (let cut = 1; cut < n; cut++) {
      expect(parseInChunks(STREAM, [cut]), `cut at ${cut}`).toEqual(EXPECTED);
    }
    expect(parseInChunks(STREAM, Array.from({ length: n - 1 }, (_, i) => i + 1))).toEqual(EXPECTED);
  });

  it("treats a CR at the end of one chunk and LF at the start of the next as one line ending", () => {
    const p = new SseParser();
    expect(p.push("data: a\r")).toEqual([]);
    expect(p.push("\n\r")).toEqual([{ event: "message", data: "a", id: "" }]);
    expect(p.push("\n")).toEqual([]);
    expect(p.push("data: b\n\n")).toEqual([{ event: "message", data: "b", id: "" }]);
  });

  it("drops an event the stream did not finish with a blank line", () => {
    const p = new SseParser();
    expect(p.push("data: half")).toEqual([]);
    expect(p.end()).toEqual([]);
  });
});

describe("readSse over a real HTTP response", () => {
  let server: http.Server;
  let url = "";
  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const pieces = ["da", "ta: one\n", "\ndata: t", "wo\r", "\n\r\n", ": bye\n"];
      let i = 0;
      const next = () => {
        if (i < pieces.length) {
          res.write(pieces[i++]);
          setTimeout(next, 5);
        } else res.end();
      };
      next();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("yields each event as it completes", async () => {
    const resp = await fetch(url);
    const got: string[] = [];
    for await (const ev of readSse(resp.body!)) got.push(ev.data);
    expect(got).toEqual(["one", "two"]);
  });
});
