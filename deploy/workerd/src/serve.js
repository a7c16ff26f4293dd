// One request through the component: its body read into memory up to a cap,
// the component's incoming handler run on a fresh instance, and its answer as
// a workerd Response. Used alike by the stateless worker and by the Durable
// Object that owns the board.

import { handleIncomingRequest } from "@bytecodealliance/preview2-shim/http";

/**
 * The most of a request body the worker reads: one byte over the component's
 * own limit (64 KiB, `MAX_BODY_BYTES` in src/submission.rs), so a longer body
 * reaches the component as too long and it answers its own 413. The shim
 * would otherwise read the whole body into memory first (300 MB took workerd
 * from 82 MB to 1.27 GB).
 */
export const BODY_CAP = 64 * 1024 + 1;

/** The first `cap` bytes of `stream` (or all, if fewer); the rest is not read. */
async function readAtMost(stream, cap) {
  const reader = stream.getReader();
  const chunks = [];
  let length = 0;
  while (length < cap) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.byteLength;
  }
  if (length >= cap) await reader.cancel();
  const bytes = new Uint8Array(Math.min(length, cap));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.byteLength - offset);
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

/**
 * `request`'s body as bytes, at most `BODY_CAP`: nothing at all when its
 * `Content-Length` is over the cap (the component refuses the request by that
 * header before it reads a byte), `null` when it has none.
 */
export async function bodyOf(request) {
  if (!request.body) return null;
  const declared = Number(request.headers.get("content-length"));
  if (declared > BODY_CAP) return new Uint8Array(0);
  return readAtMost(request.body, BODY_CAP);
}

/**
 * `request` with `body` (from `bodyOf`) in place of its stream; headers as
 * they came. Redirects are answers to pass on, not to follow (the default
 * of a new Request, which a Durable Object's stub would follow).
 */
export function withBody(request, body) {
  return new Request(request.url, {
    method: request.method,
    headers: request.headers,
    body,
    redirect: "manual",
  });
}

/**
 * Runs `handle` (the component's `wasi:http` handler) on `request`, whose
 * body is already in memory; its Response.
 */
export async function respond(request, handle) {
  const response = await handleIncomingRequest(request, handle);
  // A body that already has a coding (a precompressed sidecar, `app.js.gz`)
  // goes out as it is: by default workerd encodes a body in the coding its
  // Content-Encoding names, so it would be compressed twice.
  if (response.headers.has("content-encoding")) {
    return new Response(response.body, {
      status: response.status,
      headers: response.headers,
      encodeBody: "manual",
    });
  }
  return response;
}
