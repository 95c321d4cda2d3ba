import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "pino";
import { StoreUnavailableError } from "../store/types.ts";

/** Every error Herald answers with, and its HTTP status. */
const STATUS = {
  validation_failed: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  idempotency_in_flight: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_mismatch: 422,
  internal: 500,
  store_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof STATUS;

const TITLE: Record<ErrorCode, string> = {
  validation_failed: "The request is invalid",
  bad_request: "Bad request",
  unauthorized: "Authentication required",
  forbidden: "Not allowed",
  not_found: "Not found",
  idempotency_in_flight: "A request with this Idempotency-Key is in progress",
  payload_too_large: "Request body too large",
  unsupported_media_type: "Unsupported media type",
  idempotency_mismatch: "Idempotency-Key reused with a different request",
  internal: "Internal server error",
  store_unavailable: "The store is unavailable",
};

export type FieldError = { path: string; message: string };

/**
 * The one error type routes throw. `onError` turns it into RFC 9457 problem details.
 *
 * @example
 * throw new ApiError("not_found", `notification ${id} does not exist`);
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, detail: string, extra: { errors?: FieldError[]; headers?: Record<string, string> } = {}) {
    super(detail);
    this.code = code;
    this.errors = extra.errors;
    this.headers = extra.headers;
  }
}

/** RFC 9457 §3: type, title, status, detail, plus our requestId and field errors. */
export function problem(c: Context, error: ApiError): Response {
  const status = STATUS[error.code];
  const body = {
    type: `urn:herald:problem:${error.code.replaceAll("_", "-")}`,
    title: TITLE[error.code],
    status,
    detail: error.message,
    requestId: c.get("requestId") as string | undefined,
    ...(error.errors ? { errors: error.errors } : {}),
  };
  return c.body(JSON.stringify(body), status, { "Content-Type": "application/problem+json", ...error.headers });
}

/** The app's single onError: our errors first, then Hono's, then anything else (logged, 500). */
export function onError(logger: Logger) {
  return function onError(err: Error, c: Context): Response {
    if (err instanceof ApiError) return problem(c, err);
    if (err instanceof StoreUnavailableError) {
      return problem(
        c,
        new ApiError("store_unavailable", "the store did not answer in time; retry shortly", { headers: { "Retry-After": "1" } }),
      );
    }
    if (err instanceof HTTPException) {
      const code = codeForStatus(err.status);
      const detail = err.status === 400 && /json/i.test(err.message) ? "the body is not valid JSON" : err.message || TITLE[code];
      return problem(c, new ApiError(code, detail));
    }
    logger.error({ err, requestId: c.get("requestId"), path: c.req.path }, "unhandled error");
    return problem(c, new ApiError("internal", "an unexpected error occurred; it has been logged"));
  };
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    default:
      return status >= 500 ? "internal" : "bad_request";
  }
}

/** The shared error responses of every route, for the OpenAPI document. */
export const problemSchemaRef = "#/components/schemas/Problem";
