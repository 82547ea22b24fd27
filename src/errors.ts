/** Errors raised by the library: every failed C call and every rejected argument becomes a PodError. */
import { lib } from "./ffi.ts";

import { STATUS } from "./enums.ts";

/** Status codes of cuda/pod.h (pod_status). */
export const Status = STATUS;
/** "OK", "INVALID_ARGUMENT", … (the keys of {@link Status}). */
export type StatusName = keyof typeof Status;

const NAMES = Object.fromEntries(Object.entries(Status).map(([name, code]) => [code, name])) as Record<number, StatusName>;

/**
 * The error every failure raises: a C call that failed (with the library's message) or an argument
 * rejected on the JavaScript side. The message names the argument and ends with `[STATUS]`.
 */
export class PodError extends Error {
  /** Numeric status (see {@link Status}). */
  readonly code: number;
  /** Symbolic status, e.g. "INVALID_ARGUMENT". */
  readonly status: StatusName;

  constructor(code: number, message: string) {
    const status = NAMES[code] ?? "INTERNAL";
    super(`${message} [${status}]`);
    this.name = "PodError";
    this.code = code;
    this.status = status;
  }
}

/** Something that rewrites the library's argument names (q_p, options_d.causal) into the caller's. */
export interface ArgumentNames {
  rename(message: string): string;
}

/**
 * Throws the library's thread-local message when a C call failed, with the arguments named as the
 * caller wrote them when `names` is given.
 */
export function check(status: number, names?: ArgumentNames): void {
  if (status === Status.OK) return;
  const message = String(lib.pod_last_error() ?? "unknown error");
  throw new PodError(status, names ? names.rename(message) : message);
}

/** A rejected argument detected on the JavaScript side. */
export function invalid(message: string): PodError {
  return new PodError(Status.INVALID_ARGUMENT, message);
}
