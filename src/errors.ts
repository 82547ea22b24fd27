/** Errors raised by the library: every failed C call and every rejected argument becomes a PodError. */
import { lib } from "./ffi.ts";

/** Status codes of cuda/pod.h. */
export const Status = {
  OK: 0,
  INVALID_ARGUMENT: 1,
  NO_DRIVER: 2,
  NO_DEVICE: 3,
  CUDA: 4,
  OUT_OF_MEMORY: 5,
  NOT_PLANNED: 6,
  INVALID_HANDLE: 7,
  NOT_IMPLEMENTED: 8,
  WORKSPACE_TOO_SMALL: 9,
  INTERNAL: 10,
} as const;
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

/** Throws the library's thread-local message when a C call failed. */
export function check(status: number): void {
  if (status !== Status.OK) throw new PodError(status, String(lib.pod_last_error() ?? "unknown error"));
}

/** A rejected argument detected on the JavaScript side. */
export function invalid(message: string): PodError {
  return new PodError(Status.INVALID_ARGUMENT, message);
}
