/** Checks of values that come from JavaScript before they reach C, where their types are lost. */
import { invalid } from "./errors.ts";

/** An integer within [min, max] (a JS number that is not one raises a PodError naming the argument). */
export function integer(name: string, value: unknown, min = -0x80000000, max = 0x7fffffff): number {
  if (typeof value !== "number" || !Number.isInteger(value)) throw invalid(`${name}: expected an integer, got ${describe(value)}`);
  if (value < min || value > max) throw invalid(`${name}: expected an integer in [${min}, ${max}], got ${value}`);
  return value;
}

export function positiveInteger(name: string, value: unknown): number {
  return integer(name, value, 1);
}

/** A finite number, or undefined. */
export function optionalFinite(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw invalid(`${name}: expected a finite number, got ${describe(value)}`);
  return value;
}

export function optionalBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw invalid(`${name}: expected a boolean, got ${describe(value)}`);
  return value;
}

/** One of `choices`, or undefined. */
export function optionalChoice<T extends string>(name: string, value: unknown, choices: readonly T[]): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !choices.includes(value as T))
    throw invalid(`${name}: expected one of ${choices.map((c) => JSON.stringify(c)).join(", ")}, got ${describe(value)}`);
  return value as T;
}

/** An array of int32 on the host: Int32Array, or a plain array of integers. */
export function int32Array(name: string, value: unknown): Int32Array {
  if (value instanceof Int32Array) return value;
  if (Array.isArray(value)) {
    const out = new Int32Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = integer(`${name}[${i}]`, value[i]);
    return out;
  }
  throw invalid(`${name}: expected an Int32Array or an array of integers, got ${describe(value)}`);
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return (value as object).constructor?.name ?? typeof value;
}
