/** Lowercase 0x-hex without leading zeros, "0x0" for zero: how every message and result writes a number. */
export function hex(v: bigint | number): string {
  return "0x" + v.toString(16);
}

/** Any value as an error message shows it (never throws, whatever a hostile caller passed). */
export function show(v: unknown): string {
  switch (typeof v) {
    case "bigint":
      return v < 0n ? "-" + hex(-v) : hex(v);
    case "number":
    case "boolean":
    case "undefined":
      return String(v);
    case "string":
      return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v);
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
    default:
      return v === null ? "null" : Array.isArray(v) ? "an array" : "an object";
  }
}

/** A string as it is (a name: a page size, a mode), anything else as `show` gives it. */
export function showName(v: unknown): string {
  return typeof v === "string" ? v : show(v);
}
