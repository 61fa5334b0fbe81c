/**
 * base — what every layer above uses: the typed errors (`X86MmuError` and
 * its subclasses, one `code` each) and 64-bit address values at the API
 * (bigint or safe-integer number, split into u32 halves for the core).
 * Imports arch only.
 */

export * from "./errors.js";
export * from "./address.js";
export * from "./args.js";
