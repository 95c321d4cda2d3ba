import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, expectStatus, type TestApp } from "../support/app.ts";

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ instanceId: "instance-7" });
});
afterAll(() => t.close());

describe("operations endpoints", () => {
  it("answers /livez and /readyz while serving", async () => {
    expectStatus(await t.call("GET", "/livez", { key: null }), 200);
    const ready = await t.call("GET", "/readyz", { key: null });
    expectStatus(ready, 200);
    expect(ready.body).toEqual({ status: "ready", store: "sqlite" });
  });

  it("fails /readyz but keeps /livez green while draining, and asks clients to close", async () => {
    t.setAccepting(false);
    try {
      const ready = await t.call("GET", "/readyz", { key: null });
      expectStatus(ready, 503);
      expect(ready.headers.get("connection")).toBe("close");
      expectStatus(await t.call("GET", "/livez", { key: null }), 200);
      expectStatus(await t.call("GET", "/v1/users/a/notifications"), 200);
    } finally {
      t.setAccepting(true);
    }
  });

  it("labels every response with the instance and a request id, keeping a sane caller id", async () => {
    const own = await t.call("GET", "/livez", { key: null, headers: { "x-request-id": "trace-123" } });
    expect(own.headers.get("x-request-id")).toBe("trace-123");
    expect(own.headers.get("x-herald-instance")).toBe("instance-7");
    const insane = await t.call("GET", "/livez", { key: null, headers: { "x-request-id": "bad id with spaces" } });
    expect(insane.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const problem = await t.call("GET", "/v1/users/a/notifications", { key: null, headers: { "x-request-id": "trace-456" } });
    expect(problem.body.requestId).toBe("trace-456");
  });

  it("exposes Prometheus metrics labelled by route pattern, never the raw path", async () => {
    await t.call("GET", "/v1/users/metrics-user-1/notifications");
    await t.call("GET", "/v1/users/metrics-user-2/notifications");
    const res = await t.call("GET", "/metrics", { key: null });
    expectStatus(res, 200);
    expect(res.text).toMatch(/herald_http_requests_total\{method="GET",route="\/v1\/users\/:userId\/notifications",status="200"\} [2-9]/);
    expect(res.text).toContain("herald_http_request_duration_seconds_bucket");
    expect(res.text).not.toContain("metrics-user-1");
  });

  it("serves an OpenAPI 3.1 document generated from the validating schemas", async () => {
    const res = await t.call("GET", "/openapi.json", { key: null });
    expectStatus(res, 200);
    expect(res.body.openapi).toBe("3.1.0");
    const send = res.body.paths["/v1/notifications"].post;
    const schema = send.requestBody.content["application/json"].schema;
    const resolved = schema.$ref ? res.body.components.schemas[schema.$ref.split("/").pop()] : schema;
    expect(resolved.properties.recipients.maxItems).toBe(1000);
    expect(Object.keys(send.responses)).toEqual(expect.arrayContaining(["201", "400", "401", "403", "409", "413", "415", "422", "503"]));
    for (const path of [
      "/v1/users/{userId}/notifications",
      "/v1/users/{userId}/notifications/counts",
      "/v1/users/{userId}/notifications/mark",
      "/v1/users/{userId}/notifications/{id}",
      "/v1/users/{userId}/tokens",
    ]) {
      expect(res.body.paths[path], path).toBeDefined();
    }
  });

  it("serves a self-contained docs page", async () => {
    const res = await t.call("GET", "/docs", { key: null });
    expectStatus(res, 200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.text).toContain("/v1/users/{userId}/notifications/mark");
    expect(res.text).not.toMatch(/<script src=/);
  });
});
