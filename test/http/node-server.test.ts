import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEY, buildTestApp, type TestApp } from "../support/app.ts";

/*
 * The other HTTP tests go through app.request(). Some hot-path code takes a faster route when the
 * app runs on @hono/node-server (response headers set on Node's ServerResponse, body limit judged
 * without building a web Request), so these tests run the same app over a real socket.
 */
let t: TestApp;
let server: Server;
let base: string;
beforeAll(async () => {
  t = await buildTestApp({ instanceId: "instance-9", bodyLimit: 2048 });
  server = createAdaptorServer({ fetch: t.app.fetch }) as Server;
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
  await t.close();
});

const auth = { authorization: `Bearer ${API_KEY}` };

describe("over @hono/node-server", () => {
  it("labels responses with a request id and the instance, keeping a sane caller id", async () => {
    const own = await fetch(`${base}/livez`, { headers: { "x-request-id": "trace-1" } });
    expect(own.status).toBe(200);
    expect(own.headers.get("x-request-id")).toBe("trace-1");
    expect(own.headers.get("x-herald-instance")).toBe("instance-9");
    expect(own.headers.get("content-type")).toMatch(/^application\/json/);
    const insane = await fetch(`${base}/livez`, { headers: { "x-request-id": "bad id" } });
    expect(insane.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const problem = await fetch(`${base}/v1/users/a/notifications`, { headers: { "x-request-id": "trace-2" } });
    expect(problem.status).toBe(401);
    expect(problem.headers.get("x-request-id")).toBe("trace-2");
    expect(problem.headers.get("content-type")).toBe("application/problem+json");
    expect(((await problem.json()) as { requestId: string }).requestId).toBe("trace-2");
  });

  it("asks clients to close while draining", async () => {
    t.setAccepting(false);
    try {
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.headers.get("connection")).toBe("close");
    } finally {
      t.setAccepting(true);
    }
    expect((await fetch(`${base}/livez`)).headers.get("connection")).not.toBe("close");
  });

  it("serves sends and reads, and enforces the body limit with and without Content-Length", async () => {
    const sent = await fetch(`${base}/v1/notifications`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", "idempotency-key": "node-1" },
      body: JSON.stringify({ recipients: ["n1"], title: "hello" }),
    });
    expect(sent.status).toBe(201);
    const { id } = (await sent.json()) as { id: string };
    const patched = await fetch(`${base}/v1/users/n1/notifications/${id}`, {
      method: "PATCH",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ read: true }),
    });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as { readAt: string | null }).readAt).toEqual(expect.any(String));
    const list = await fetch(`${base}/v1/users/n1/notifications?limit=20`, { headers: auth });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { counts: unknown }).counts).toEqual({ total: 1, unread: 0, unseen: 0 });

    const big = JSON.stringify({ recipients: ["n1"], title: "x".repeat(4000) });
    const tooBig = await fetch(`${base}/v1/notifications`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: big,
    });
    expect(tooBig.status).toBe(413);
    // A chunked body (no Content-Length) is counted as it arrives.
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const chunked = await fetch(`${base}/v1/notifications`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    const smallStream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(JSON.stringify({ recipients: ["n1"], title: "chunked" })));
        c.close();
      },
    });
    const chunkedOk = await fetch(`${base}/v1/notifications`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: smallStream,
      duplex: "half",
    } as RequestInit);
    expect(chunkedOk.status).toBe(201);
  });
});
