/**
 * Checks of argument types at the API, so that a hostile or mistaken value
 * (null options, a string where bytes go, a number where a bigint goes) is an
 * ArgumentError naming the argument, never a raw TypeError from deep inside.
 */

import { ArgumentError } from "./errors.js";
import { show } from "./hex.js";

/** An options object: `undefined` is `{}`; null, a primitive, an array or a function is refused. */
export function optionsOf<T extends object>(v: T | undefined, what = "options"): T {
  if (v === undefined) return {} as T;
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ArgumentError(`${what} must be an object, not ${show(v)}`);
  return v;
}

/** A Uint8Array (a Buffer is one). */
export function bytesOf(v: unknown, what = "data"): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new ArgumentError(`${what} must be a Uint8Array, not ${show(v)}`);
  return v;
}

/** A function (a callback). */
export function functionOf<F extends (...args: never[]) => unknown>(v: unknown, what = "callback"): F {
  if (typeof v !== "function") throw new ArgumentError(`${what} must be a function, not ${show(v)}`);
  return v as F;
}

/** A bigint (MemView's addresses and lengths are bigints only). */
export function bigintOf(v: unknown, what = "address"): bigint {
  if (typeof v !== "bigint") throw new ArgumentError(`${what} must be a bigint, not ${show(v)}`);
  return v;
}
