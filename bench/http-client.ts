/**
 * A minimal keep-alive HTTP/1.1 client connection for the load generator: one request in flight
 * per connection (no pipelining), requests written as prebuilt strings, responses parsed just
 * enough to find the status and the end of the body (Content-Length, chunked, or no body).
 *
 * Why not autocannon or undici: measured on this 2-core machine against a bare node:http server
 * (server on CPU 0, generator on CPU 1, 64 connections, per-request generated requests), both
 * autocannon 9 (with setupRequest/onResponse) and an undici Pool loop topped out at 12k–15k
 * req/s with the generator's core saturated (≈45–57 µs of generator CPU per request), while this
 * client did ≈58k req/s at ≈16 µs per request. Herald's target is 15k–25k ops/s on one core, and
 * the generator shares its core with Redis, so with either library the benchmark would have
 * measured the generator. This file is the smallest thing that measures the server instead.
 */
import net from "node:net";
import { performance } from "node:perf_hooks";

const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
const MAX_HEAD = 64 * 1024;

export interface ConnectionEvents {
  /** The socket is (re)connected and idle. */
  onReady(conn: HttpConnection): void;
  /** A complete response to the request in flight. */
  onResponse(conn: HttpConnection, status: number, body: Buffer): void;
  /** The request in flight (if any) failed: socket error, close or timeout. The connection reconnects by itself. */
  onError(conn: HttpConnection, error: string, hadRequest: boolean): void;
}

export class HttpConnection {
  readonly host: string;
  readonly port: number;
  readonly index: number;
  private readonly events: ConnectionEvents;
  private sock: net.Socket | null = null;
  private buf: Buffer | null = null;
  private status = 0;
  /** ≥ 0: Content-Length; -1: until close; -2: chunked. */
  private bodyLen = 0;
  private bodyStart = 0;
  private closeAfter = false;
  private closed = false;
  private reconnectDelayMs = 10;
  connected = false;
  busy = false;
  /** performance.now() when the request in flight was written (or intended, in open-loop mode). */
  startedAt = 0;
  /** performance.now() when the request in flight was actually written. */
  sentAt = 0;
  /** Caller's data about the request in flight. */
  opIndex = 0;

  constructor(host: string, port: number, index: number, events: ConnectionEvents) {
    this.host = host;
    this.port = port;
    this.index = index;
    this.events = events;
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const sock = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.sock = sock;
    sock.on("connect", () => {
      this.connected = true;
      this.reconnectDelayMs = 10;
      this.events.onReady(this);
    });
    sock.on("data", (chunk: Buffer) => this.onData(chunk));
    sock.on("end", () => {
      if (this.bodyLen === -1 && this.status !== 0 && this.buf) {
        this.complete(this.buf.subarray(this.bodyStart), null);
      }
    });
    sock.on("error", () => {});
    sock.on("close", () => this.onClose(sock));
  }

  private onClose(sock: net.Socket): void {
    if (this.sock !== sock) return;
    this.sock = null;
    this.connected = false;
    this.buf = null;
    this.status = 0;
    const had = this.busy;
    this.busy = false;
    if (had) this.events.onError(this, "socket closed", true);
    if (!this.closed) {
      const delay = this.reconnectDelayMs;
      this.reconnectDelayMs = Math.min(1000, delay * 2);
      setTimeout(() => this.connect(), had ? 0 : delay);
    }
  }

  /** Writes one request; the connection must be connected and idle. */
  send(raw: string, opIndex: number, startedAt: number): void {
    this.busy = true;
    this.opIndex = opIndex;
    this.startedAt = startedAt;
    this.sentAt = performance.now();
    this.sock?.write(raw);
  }

  /** Fails the request in flight (timeout) and reconnects. */
  abort(reason: string): void {
    const sock = this.sock;
    if (!sock) return;
    const had = this.busy;
    this.busy = false;
    this.sock = null;
    this.connected = false;
    this.buf = null;
    this.status = 0;
    sock.destroy();
    this.events.onError(this, reason, had);
    if (!this.closed) setTimeout(() => this.connect(), 0);
  }

  close(): void {
    this.closed = true;
    this.sock?.destroy();
    this.sock = null;
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf) {
      const buf: Buffer = this.buf;
      if (this.status === 0) {
        const he = buf.indexOf(CRLFCRLF);
        if (he < 0) {
          if (buf.length > MAX_HEAD) this.abort("response head too large");
          return;
        }
        const head = buf.toString("latin1", 0, he).toLowerCase();
        const status = Number.parseInt(head.slice(9, 12), 10);
        if (!head.startsWith("http/1.") || !(status >= 100 && status < 600)) {
          this.abort("malformed response");
          return;
        }
        this.status = status;
        this.bodyStart = he + 4;
        this.closeAfter = head.includes("\r\nconnection: close");
        const cl = head.indexOf("\r\ncontent-length:");
        if (status === 204 || status === 304 || status < 200) this.bodyLen = 0;
        else if (cl >= 0) this.bodyLen = Number.parseInt(head.slice(cl + 17).trimStart(), 10);
        else if (head.includes("\r\ntransfer-encoding: chunked")) this.bodyLen = -2;
        else this.bodyLen = -1;
        if (status < 200) {
          // 1xx interim response: skip it and read the final one.
          this.status = 0;
          this.buf = buf.length > he + 4 ? buf.subarray(he + 4) : null;
          continue;
        }
      }
      if (this.bodyLen >= 0) {
        const end = this.bodyStart + this.bodyLen;
        if (buf.length < end) return;
        this.complete(buf.subarray(this.bodyStart, end), buf.length > end ? buf.subarray(end) : null);
      } else if (this.bodyLen === -2) {
        const parts: Buffer[] = [];
        let p = this.bodyStart;
        let end = -1;
        for (;;) {
          const le = buf.indexOf("\r\n", p, "latin1");
          if (le < 0) return;
          const size = Number.parseInt(buf.toString("latin1", p, le), 16);
          if (Number.isNaN(size)) {
            this.abort("malformed chunk");
            return;
          }
          if (size === 0) {
            // No trailers expected: the last chunk is "0\r\n\r\n".
            if (buf.length < le + 4) return;
            end = le + 4;
            break;
          }
          if (buf.length < le + 2 + size + 2) return;
          parts.push(buf.subarray(le + 2, le + 2 + size));
          p = le + 2 + size + 2;
        }
        this.complete(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), buf.length > end ? buf.subarray(end) : null);
      } else {
        return; // body until close: completed on "end"
      }
    }
  }

  private complete(body: Buffer, rest: Buffer | null): void {
    const status = this.status;
    const closeAfter = this.closeAfter || this.bodyLen === -1;
    this.status = 0;
    this.buf = rest;
    if (!this.busy) return; // an unsolicited response: ignore it
    this.busy = false;
    if (closeAfter) {
      const sock = this.sock;
      this.sock = null;
      this.connected = false;
      sock?.destroy();
      this.events.onResponse(this, status, body);
      if (!this.closed) setTimeout(() => this.connect(), 0);
      return;
    }
    this.events.onResponse(this, status, body);
  }
}

/** Serializes one request, with the API key and a Content-Length for bodies. */
export function rawRequest(
  hostHeader: string,
  apiKey: string,
  method: string,
  path: string,
  headers: Record<string, string> | undefined,
  body: string | undefined,
): string {
  let s = `${method} ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nAuthorization: Bearer ${apiKey}\r\n`;
  if (headers) for (const k in headers) s += `${k}: ${headers[k]}\r\n`;
  if (body !== undefined) s += `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  else s += "\r\n";
  return s;
}
